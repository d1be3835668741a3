"""Typed Flinks failures, split by what the caller should do about them.

Flinks signals most conditions with a ``FlinksCode`` inside a JSON body, sometimes with a
surprising HTTP status (``TOO_MANY_REQUESTS`` arrives as 401), so the classification is by
code first and status second.
"""

from __future__ import annotations

from credit_scoring.core.retrying import TransientError

#: Codes worth another attempt after a pause (DESIGN.md, "Contracts with the outside").
TRANSIENT_CODES = frozenset(
    {"RETRY_LATER", "TOO_MANY_REQUESTS", "OPERATION_PENDING", "OPERATION_DISPATCHED"}
)
#: Codes that will never succeed on retry: the application is recorded as ERROR instead.
TERMINAL_CODES = frozenset(
    {"INVALID_LOGIN", "DISABLED_LOGIN", "NEW_ACCOUNT", "SESSION_NONEXISTENT", "UNAUTHORIZED"}
)


class FlinksError(Exception):
    """A Flinks call failed. ``code`` is the FlinksCode (or a client-side code such as TIMEOUT)."""

    def __init__(
        self, code: str, message: str, *, http_status: int | None = None, endpoint: str = ""
    ) -> None:
        self.code = code
        self.message = message
        self.http_status = http_status
        self.endpoint = endpoint
        #: The server's raw answer, when there was one (kept for bronze).
        self.body: bytes | None = None
        where = f" from {endpoint}" if endpoint else ""
        status = f" (HTTP {http_status})" if http_status is not None else ""
        super().__init__(f"Flinks {code}{where}{status}: {message}")


class FlinksTransientError(FlinksError, TransientError):
    """Worth retrying: 5xx, RETRY_LATER, TOO_MANY_REQUESTS, 429, timeouts, dropped connections."""


class FlinksTerminalError(FlinksError):
    """Will not succeed on retry: unknown or disabled login, bad request, bad credentials."""


class FlinksProtocolError(FlinksTransientError):
    """The server answered something that is not the Flinks contract (e.g. a non-JSON body).

    Treated as transient because a truncated body is what a dropped connection looks like;
    if it persists, the retry budget turns it into a clear error naming the endpoint.
    """


def classify(http_status: int, code: str | None, message: str, endpoint: str) -> FlinksError:
    """Build the typed error for a non-success answer."""
    flinks_code = code or f"HTTP_{http_status}"
    kind: type[FlinksError] = FlinksTransientError
    if code in TRANSIENT_CODES or http_status == 429 or http_status >= 500:
        kind = FlinksTransientError
    elif code in TERMINAL_CODES or (code or "").startswith("INVALID_") or 400 <= http_status < 500:
        kind = FlinksTerminalError
    return kind(flinks_code, message, http_status=http_status, endpoint=endpoint)
