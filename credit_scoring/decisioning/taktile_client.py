"""An async httpx client for Taktile's decide endpoint.

``POST {base}/run/api/v1/flows/{slug}/decide`` (``.../sandbox/decide`` for the sandbox) with
``X-Api-Key``; body ``{"data": features, "metadata": {"version", "entity_id"}, "control":
{"execution_mode": "sync"}}``. Retries (429, 5xx, timeouts, dropped connections) follow
:mod:`credit_scoring.retrying`; any other 4xx is terminal and recorded with the server's
``detail``. The entity id is the application id, so a re-send after a crash is recognisable as
the same request.

Every decision records the engine that made it: the configured host, or ``mock`` when the
server marks its answers as a mock's (:data:`~credit_scoring.decisioning.decision_contract.
MOCK_ENGINE_HEADER`).

The key goes only to the configured origin, as with the Flinks client: attached per request to
that origin alone, redirects refused, and the server's words scrubbed of it before they become
an error message.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson

from credit_scoring.core.api_keys import (
    KeyedApi,
    KeyedClient,
    origin,
    redact,
    redact_bytes,
    refused_redirect_message,
)
from credit_scoring.core.retrying import RetryPolicy, TransientError, attempts
from credit_scoring.decisioning.decision_contract import MOCK_ENGINE, MOCK_ENGINE_HEADER

#: Taktile's spelling of the key header (header names are case-insensitive).
API_KEY_HEADER = "X-Api-Key"


class TaktileError(Exception):
    """A decide call failed; ``code`` says how (HTTP_422, TIMEOUT, MALFORMED_RESPONSE...)."""

    def __init__(self, code: str, message: str, http_status: int | None = None) -> None:
        self.code = code
        self.message = message
        self.http_status = http_status
        super().__init__(f"Taktile {code}: {message}")


class TaktileTransientError(TaktileError, TransientError):
    """429, 5xx, timeouts, dropped connections: retried."""


class TaktileTerminalError(TaktileError):
    """Bad payload, bad key, unknown flow: never retried."""


@dataclass(frozen=True)
class DecisionRequest:
    """One application's features, identified by its application id."""

    entity_id: str
    features: Mapping[str, Any]


@dataclass
class Decision:
    """The decision for one application, or why there is none (``error_code``)."""

    entity_id: str
    requested_at: datetime
    decided_at: datetime
    http_calls: int = 0
    decision_id: str | None = None
    score: float | None = None
    outcome: str | None = None
    credit_limit: float | None = None
    reasons: list[str] = field(default_factory=list)
    flow_version: str | None = None
    #: Who decided: the decision engine's host, or ``mock``.
    engine: str | None = None
    error_code: str | None = None
    error_message: str | None = None

    @property
    def ok(self) -> bool:
        return self.error_code is None


def decision_from_response(
    body: Mapping[str, Any],
    entity_id: str,
    requested_at: datetime,
    http_calls: int,
    engine: str | None = None,
) -> Decision:
    """Read a decide response; a response missing the flow outputs is a protocol error."""
    data = body.get("data") or {}
    metadata = body.get("metadata") or {}
    if not isinstance(data, Mapping) or not metadata.get("decision_id"):
        raise TaktileTerminalError("MALFORMED_RESPONSE", "response lacks data or decision_id")
    outcome = data.get("outcome")
    if outcome is None or data.get("score") is None:
        raise TaktileTerminalError("MALFORMED_RESPONSE", "flow output lacks score or outcome")
    reasons = data.get("reasons") or []
    return Decision(
        entity_id=entity_id,
        requested_at=requested_at,
        decided_at=datetime.now(UTC),
        http_calls=http_calls,
        decision_id=str(metadata["decision_id"]),
        score=float(data["score"]),
        outcome=str(outcome),
        credit_limit=None if data.get("credit_limit") is None else float(data["credit_limit"]),
        reasons=[str(r) for r in reasons] if isinstance(reasons, list) else [str(reasons)],
        flow_version=str(data.get("flow_version") or metadata.get("version") or ""),
        engine=engine,
    )


class TaktileClient(KeyedApi):
    """Talks to one decision flow; use as an async context manager (one connection pool)."""

    def __init__(
        self,
        base_url: str,
        flow_slug: str,
        *,
        api_key: str | None = None,
        sandbox: bool = False,
        version: str = "v1.0",
        timeout_seconds: float = 30.0,
        max_connections: int = 8,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        suffix = "sandbox/decide" if sandbox else "decide"
        self.path = f"/run/api/v1/flows/{flow_slug}/{suffix}"
        self.version = version
        self.retry = retry or RetryPolicy()
        self.max_connections = max_connections
        self.host = engine_host(base_url)
        self._keyed = KeyedClient(
            base_url.rstrip("/"),
            api_key=api_key,
            key_header=API_KEY_HEADER,
            setting="TAKTILE_API_KEY",
            headers={"Content-Type": "application/json"},
            timeout_seconds=timeout_seconds,
            max_connections=max_connections,
            transport=transport,
        )

    def body(self, request: DecisionRequest) -> bytes:
        return orjson.dumps(
            {
                "data": dict(request.features),
                "metadata": {"version": self.version, "entity_id": request.entity_id},
                "control": {"execution_mode": "sync"},
            }
        )

    async def _post_once(self, content: bytes) -> tuple[dict[str, Any], str]:
        """One exchange; errors are scrubbed of the key before the retry loop or a caller
        sees them (a proxy error page may echo the request's headers)."""
        try:
            return await self._exchange(content)
        except TaktileError as exc:
            if not self._keyed.api_key or self._keyed.api_key not in exc.message:
                raise
            raise type(exc)(
                exc.code, redact(exc.message, self._keyed.api_key), exc.http_status
            ) from None

    async def _exchange(self, content: bytes) -> tuple[dict[str, Any], str]:
        try:
            response = await self._keyed.http.post(self.path, content=content)
        except httpx.TimeoutException as exc:
            raise TaktileTransientError("TIMEOUT", type(exc).__name__) from None
        except httpx.TransportError as exc:
            raise TaktileTransientError(
                "CONNECTION_ERROR", f"{type(exc).__name__}: {exc}"
            ) from None
        status = response.status_code
        if 300 <= status < 400:
            raise TaktileTerminalError(
                "REDIRECT_REFUSED",
                refused_redirect_message(response, self._keyed.origin, "TAKTILE_BASE_URL"),
                status,
            )
        raw = redact_bytes(response.content, self._keyed.api_key)
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            body = None
        if status == 429 or status >= 500:
            raise TaktileTransientError(f"HTTP_{status}", _detail(body, raw, response), status)
        if status >= 400:
            raise TaktileTerminalError(f"HTTP_{status}", _detail(body, raw, response), status)
        if not isinstance(body, dict):
            raise TaktileTransientError(
                "MALFORMED_RESPONSE", f"the body is not a JSON object ({raw[:80]!r})", status
            )
        return body, MOCK_ENGINE if MOCK_ENGINE_HEADER in response.headers else self.host

    async def decide(self, request: DecisionRequest) -> Decision:
        """One decision; failures come back as a Decision with ``error_code`` set."""
        requested_at = datetime.now(UTC)
        content = self.body(request)
        calls = 0
        try:
            async for attempt in attempts(self.retry):
                with attempt:
                    calls += 1
                    body, engine = await self._post_once(content)
            return decision_from_response(body, request.entity_id, requested_at, calls, engine)
        except TaktileError as exc:
            return Decision(
                entity_id=request.entity_id,
                requested_at=requested_at,
                decided_at=datetime.now(UTC),
                http_calls=calls,
                error_code=exc.code,
                error_message=exc.message,
            )

    async def decide_many(
        self,
        requests: Sequence[DecisionRequest],
        *,
        concurrency: int | None = None,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> list[Decision]:
        limit = asyncio.Semaphore(concurrency or self.max_connections)
        done = 0

        async def one(request: DecisionRequest) -> Decision:
            nonlocal done
            async with limit:
                decision = await self.decide(request)
            done += 1
            if on_progress is not None:
                on_progress(done, len(requests))
            return decision

        return list(await asyncio.gather(*(one(r) for r in requests)))


def _detail(body: object, raw: bytes, response: httpx.Response) -> str:
    """The server's own explanation (Taktile puts it in ``detail``), never our headers.

    ``raw`` is the body already scrubbed of the key, so cutting it cannot leave part of one.
    """
    if isinstance(body, dict) and body.get("detail") is not None:
        detail = body["detail"]
        return detail if isinstance(detail, str) else orjson.dumps(detail).decode()[:500]
    return raw[:300].decode("utf-8", errors="replace") or response.reason_phrase


def engine_host(base_url: str) -> str:
    """The decision engine's name as stored with its decisions: host, and port when not the
    scheme's default (``acme.decide.taktile.com``, ``127.0.0.1:8765``)."""
    url = httpx.URL(base_url)
    scheme, host, port = origin(url)
    default = {"http": 80, "https": 443}.get(scheme)
    return host if port in (None, default) else f"{host}:{port}"
