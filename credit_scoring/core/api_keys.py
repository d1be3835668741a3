"""API keys on the wire: sent only to the configured origin, never echoed into an error.

Shared by the Flinks and Taktile clients through :class:`KeyedClient`. A key is checked once
when a client is built (an
HTTP library quotes a bad header value in its own error message, which would then be stored as
every application's error); it is attached per request only when the request goes to the
configured scheme, host and port; redirects are refused with a message naming where they
pointed; and any text a server sends back is scrubbed of the key before it is logged or stored.
"""

from __future__ import annotations

import re
from typing import Self

import httpx

from credit_scoring.core.http_pool import SplitPool

#: What an API key may hold once trimmed: visible ASCII, inner spaces allowed.
_HEADER_SAFE = re.compile(r"[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?")
REDACTED = "[REDACTED]"


def checked_api_key(api_key: str | None, setting: str) -> str | None:
    """The key as it will be sent, or ``None`` when unset.

    Surrounding whitespace is dropped (a key pasted from a file often ends in a newline). A key
    that still holds characters an HTTP header cannot carry is refused here, naming the
    setting but never the value: otherwise the HTTP library's own error quotes the header
    value, and that message would be stored as every application's fetch error.
    """
    if api_key is None:
        return None
    key = api_key.strip()
    if not key:
        return None
    if not _HEADER_SAFE.fullmatch(key):
        raise ValueError(
            f"{setting} holds characters an HTTP header cannot carry (non-ASCII or control "
            "characters such as a line break inside the key); set it to the key alone"
        )
    return key


def origin(url: httpx.URL) -> tuple[str, str, int | None]:
    """(scheme, host, port) with the scheme's default port made explicit."""
    default = {"http": 80, "https": 443}.get(url.scheme)
    return url.scheme, url.host, url.port or default


def refused_redirect_message(
    response: httpx.Response, configured: tuple[str, str, int | None], setting: str
) -> str:
    """Why a redirect was not followed, naming where it pointed (origin only: a redirect's
    path or query may itself carry a token) and which setting to change."""
    location = response.headers.get("location")
    target = "no Location"
    if location:
        try:
            scheme, host, port = origin(response.request.url.join(location))
            target = f"{scheme}://{host}:{port}"
        except httpx.InvalidURL:
            target = "an invalid Location"
    scheme, host, port = configured
    return (
        f"the API answered HTTP {response.status_code} redirecting to {target}; redirects are "
        f"not followed so that the API key only goes to {scheme}://{host}:{port}: set "
        f"{setting} to the address that answers directly"
    )


def redact(text: str, secret: str | None) -> str:
    """``text`` with every copy of ``secret`` replaced, for anything built from a server's words."""
    return text.replace(secret, REDACTED) if secret else text


def redact_bytes(raw: bytes, secret: str | None) -> bytes:
    """:func:`redact` for raw bodies (an error body is kept in bronze)."""
    return raw.replace(secret.encode(), REDACTED.encode()) if secret else raw


class KeyedClient:
    """An ``httpx.AsyncClient`` that carries an API key to one origin and nowhere else.

    The key is attached per request, and only when the request goes to ``base_url``'s scheme,
    host and port (a client default header could be carried elsewhere by a redirect, an
    absolute URL or a future code path); redirects are never followed; the pool is bounded,
    and split into small ones (:class:`~credit_scoring.core.http_pool.SplitPool`) unless
    ``transport`` replaces it (tests).
    """

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None,
        key_header: str,
        setting: str,
        path: str = "",
        headers: dict[str, str] | None = None,
        timeout_seconds: float,
        connect_timeout_seconds: float = 5.0,
        max_connections: int,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.api_key = checked_api_key(api_key, setting)
        self.origin = origin(httpx.URL(base_url))
        self._key_header = key_header
        self.http = httpx.AsyncClient(
            base_url=base_url + path,
            headers={"Accept": "application/json", **(headers or {})},
            timeout=httpx.Timeout(timeout_seconds, connect=connect_timeout_seconds, pool=None),
            # bounds the pool httpx mounts for a proxy from the environment (HTTPS_PROXY...);
            # direct connections are bounded by the transport below
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
            follow_redirects=False,
            transport=transport or SplitPool(max_connections),
            event_hooks={"request": [self._attach_api_key]},
        )

    async def _attach_api_key(self, request: httpx.Request) -> None:
        if self.api_key and origin(request.url) == self.origin:
            request.headers[self._key_header] = self.api_key
        else:
            request.headers.pop(self._key_header, None)

    async def aclose(self) -> None:
        await self.http.aclose()


class KeyedApi:
    """Base of an API client built on a :class:`KeyedClient`: an async context manager owning
    the client's connection pool for its lifetime."""

    _keyed: KeyedClient

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._keyed.aclose()
