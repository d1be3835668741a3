"""An async httpx client for the Flinks v3 flow: Authorize -> GetAccountsDetail -> poll on 202.

Fetching is I/O-bound and a day can hold thousands of applications, so one event loop drives
many logins at once, bounded by a semaphore and an equally sized connection pool. Each HTTP
call is retried under :mod:`credit_scoring.retrying`; a login whose call fails terminally
(or exhausts its retries) becomes a failed :class:`FetchResult` rather than an exception, so
one bad applicant never costs the others their fetch.

The raw bytes of every final response are kept unchanged for the bronze layer.

The API key only ever travels to the configured origin (:class:`~credit_scoring.core.
api_keys.KeyedClient`: attached per request to that origin alone, redirects refused, since
httpx would carry a custom header such as ``x-api-key`` across hosts); and any text the server
sends back into an error message is scrubbed of the key before it can reach a log, the ledger
or bronze.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx
import orjson

from credit_scoring.core.api_keys import (
    KeyedApi,
    KeyedClient,
    redact,
    redact_bytes,
    refused_redirect_message,
)
from credit_scoring.core.retrying import RetryPolicy, attempts
from credit_scoring.core.settings import FLINKS_HISTORY_WINDOWS
from credit_scoring.ingestion.flinks_errors import (
    FlinksError,
    FlinksProtocolError,
    FlinksTerminalError,
    FlinksTransientError,
    classify,
)
from credit_scoring.ingestion.json_object import JsonObject, NotAnObjectError, NotJsonError

#: The history windows Flinks offers (the settings validate FLINKS_DAYS_OF_TRANSACTIONS by them).
DAYS_OF_TRANSACTIONS = FLINKS_HISTORY_WINDOWS
#: Flinks' spelling of the key header (header names are case-insensitive).
API_KEY_HEADER = "x-api-key"

ProgressCallback = Callable[[int, int], None]
#: Receives each login's result as it completes, with the login's position in the input.
ResultCallback = Callable[[int, "FetchResult"], None]
#: The code of an answer that breaks the Flinks contract (not JSON, not an object, no Accounts).
MALFORMED_RESPONSE = "MALFORMED_RESPONSE"


def accounts_problem(body: JsonObject) -> str | None:
    """Why a GetAccountsDetail body (a JSON object, already validated) cannot be used, or None.

    Only the type of ``Accounts`` is looked at: the accounts themselves are never decoded here.
    """
    kind = body.kind("Accounts")
    if kind is None:
        return "GetAccountsDetail answered 200 without Accounts"
    if kind == "an array":
        return None
    return f"GetAccountsDetail answered 200 but its Accounts is {kind}, not an array"


@dataclass
class FetchResult:
    """The outcome of fetching one login: the final raw response, or why there is none."""

    login_id: str
    request_id: str | None
    http_status: int | None
    fetched_at: datetime
    payload: bytes
    http_calls: int
    elapsed_seconds: float
    error_code: str | None = None
    error_message: str | None = None
    #: For a failure: whether another attempt later may succeed (transient) or not (terminal).
    #: The ledger stores this verdict and retries only what the client called retryable.
    retryable: bool = False

    @property
    def ok(self) -> bool:
        return self.error_code is None

    def parsed(self) -> dict[str, Any]:
        """The payload as JSON (empty dict when there is no JSON payload)."""
        try:
            value = orjson.loads(self.payload) if self.payload else {}
        except orjson.JSONDecodeError:
            return {}
        return value if isinstance(value, dict) else {}


@dataclass(frozen=True)
class PollPolicy:
    """How to wait for a 202 ``OPERATION_PENDING``: fixed interval, bounded total wait.

    Flinks recommends polling every 10 s for at most 30 minutes; the defaults poll faster
    because most requests finish within seconds, and a stuck request should fail the
    application (ERROR, retried next run) well before it stalls a whole day's run.
    """

    interval_seconds: float = 2.0
    max_wait_seconds: float = 300.0


class FlinksClient(KeyedApi):
    """Talks to one Flinks instance (or the mock) for one customer.

    Use as an async context manager; it owns one connection pool for its lifetime.
    """

    def __init__(
        self,
        base_url: str,
        customer_id: str,
        *,
        api_key: str | None = None,
        timeout_seconds: float = 30.0,
        connect_timeout_seconds: float = 5.0,
        max_connections: int = 16,
        retry: RetryPolicy | None = None,
        poll: PollPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.customer_id = customer_id
        self.retry = retry or RetryPolicy()
        self.poll = poll or PollPolicy()
        self.max_connections = max_connections
        self._keyed = KeyedClient(
            self.base_url,
            api_key=api_key,
            key_header=API_KEY_HEADER,
            setting="FLINKS_API_KEY",
            path=f"/v3/{customer_id}/BankingServices",
            timeout_seconds=timeout_seconds,
            connect_timeout_seconds=connect_timeout_seconds,
            max_connections=max_connections,
            transport=transport,
        )

    async def aclose(self) -> None:
        await self._keyed.aclose()

    # -- one HTTP call, retried -------------------------------------------------------------

    async def _call_once(
        self, method: str, path: str, body: dict[str, Any] | None
    ) -> tuple[int, bytes, JsonObject]:
        """One HTTP exchange; raises a typed error for anything but 200/202 with a JSON body.

        Errors are scrubbed of the API key here, before the retry loop logs them or a caller
        stores them: a proxy error page or a debugging server may echo the request's headers.
        """
        try:
            return await self._exchange(method, path, body)
        except FlinksError as exc:
            raise self._scrubbed(exc) from None

    def _scrubbed(self, exc: FlinksError) -> FlinksError:
        secret = self._keyed.api_key
        if not secret or (secret not in str(exc) and secret.encode() not in (exc.body or b"")):
            return exc
        scrubbed = type(exc)(
            redact(exc.code, secret),
            redact(exc.message, secret),
            http_status=exc.http_status,
            endpoint=redact(exc.endpoint, secret),
        )
        scrubbed.body = None if exc.body is None else redact_bytes(exc.body, secret)
        return scrubbed

    async def _exchange(
        self, method: str, path: str, body: dict[str, Any] | None
    ) -> tuple[int, bytes, JsonObject]:
        endpoint = f"{method} {path}"
        try:
            if method == "GET":
                response = await self._keyed.http.get(path)
            else:
                response = await self._keyed.http.post(
                    path,
                    content=orjson.dumps(body or {}),
                    headers={"Content-Type": "application/json"},
                )
        except httpx.TimeoutException as exc:
            raise FlinksTransientError(
                "TIMEOUT", f"no answer within the timeout ({type(exc).__name__})", endpoint=endpoint
            ) from None
        except httpx.TransportError as exc:
            raise FlinksTransientError(
                "CONNECTION_ERROR", f"{type(exc).__name__}: {exc}", endpoint=endpoint
            ) from None
        if 300 <= response.status_code < 400:
            raise FlinksTerminalError(
                "REDIRECT_REFUSED",
                refused_redirect_message(response, self._keyed.origin, "FLINKS_BASE_URL"),
                http_status=response.status_code,
                endpoint=endpoint,
            )
        raw = response.content
        try:
            data = JsonObject.parse(raw)
        except NotJsonError:
            if response.status_code >= 500 or response.status_code == 429:
                raise classify(response.status_code, None, self._snippet(raw), endpoint) from None
            raise FlinksProtocolError(
                MALFORMED_RESPONSE,
                f"the body is not JSON (first bytes: {self._snippet(raw)!r})",
                http_status=response.status_code,
                endpoint=endpoint,
            ) from None
        except NotAnObjectError as exc:
            raise FlinksProtocolError(
                MALFORMED_RESPONSE,
                str(exc),
                http_status=response.status_code,
                endpoint=endpoint,
            ) from None
        if response.status_code in (200, 202):
            return response.status_code, raw, data
        message = str(data.get("Message") or data.get("message") or "")
        error = classify(
            response.status_code,
            _str_or_none(data.get("FlinksCode")),
            redact(message, self._keyed.api_key)[:500],
            endpoint,
        )
        error.body = redact_bytes(raw, self._keyed.api_key)
        raise error

    def _snippet(self, raw: bytes, limit: int = 120) -> str:
        """The start of a body for an error message, scrubbed before it is cut."""
        return redact_bytes(raw, self._keyed.api_key)[:limit].decode("utf-8", errors="replace")

    async def _call(
        self, method: str, path: str, body: dict[str, Any] | None, counter: list[int]
    ) -> tuple[int, bytes, JsonObject]:
        async for attempt in attempts(self.retry):
            with attempt:
                counter[0] += 1
                return await self._call_once(method, path, body)
        raise AssertionError("unreachable: the retry context either returns or raises")

    # -- the Flinks flow ----------------------------------------------------------------------

    async def authorize(self, login_id: str, counter: list[int] | None = None) -> JsonObject:
        """Open a session for ``login_id`` on the cached data; returns the Authorize body."""
        _, _, data = await self._call(
            "POST",
            "/Authorize",
            {"LoginId": login_id, "MostRecentCached": True},
            counter if counter is not None else [0],
        )
        if not data.get("RequestId"):
            raise FlinksProtocolError(
                MALFORMED_RESPONSE, "Authorize answered without a RequestId", endpoint="Authorize"
            )
        return data

    async def accounts_detail(
        self,
        request_id: str,
        *,
        days_of_transactions: str = "Days365",
        counter: list[int] | None = None,
    ) -> tuple[int, bytes, JsonObject]:
        """GetAccountsDetail, polling GetAccountsDetailAsync while Flinks answers 202: the final
        status, raw body and that body validated as a JSON object."""
        if days_of_transactions not in DAYS_OF_TRANSACTIONS:
            raise ValueError(
                f"days_of_transactions={days_of_transactions!r}: use one of {DAYS_OF_TRANSACTIONS}"
            )
        calls = counter if counter is not None else [0]
        status, raw, data = await self._call(
            "POST",
            "/GetAccountsDetail",
            {
                "RequestId": request_id,
                "WithTransactions": True,
                "WithAccountIdentity": True,
                "DaysOfTransactions": days_of_transactions,
            },
            calls,
        )
        deadline = time.monotonic() + self.poll.max_wait_seconds
        while status == 202:
            if time.monotonic() >= deadline:
                raise FlinksTransientError(
                    "OPERATION_PENDING",
                    f"still pending after {self.poll.max_wait_seconds:.0f}s of polling",
                    http_status=202,
                    endpoint="GetAccountsDetailAsync",
                )
            await asyncio.sleep(self.poll.interval_seconds)
            status, raw, data = await self._call(
                "GET", f"/GetAccountsDetailAsync/{quote(request_id, safe='')}", None, calls
            )
        return status, raw, data

    async def fetch_login(
        self, login_id: str, *, days_of_transactions: str = "Days365"
    ) -> FetchResult:
        """The whole flow for one login; failures become a failed result, never an exception."""
        started = time.perf_counter()
        calls = [0]
        request_id: str | None = None
        try:
            auth = await self.authorize(login_id, calls)
            request_id = str(auth["RequestId"])
            status, raw, body = await self.accounts_detail(
                request_id, days_of_transactions=days_of_transactions, counter=calls
            )
        except FlinksError as exc:
            return FetchResult(
                login_id=login_id,
                request_id=request_id,
                http_status=exc.http_status,
                fetched_at=datetime.now(UTC),
                payload=_error_payload(exc),
                http_calls=calls[0],
                elapsed_seconds=time.perf_counter() - started,
                error_code=exc.code,
                error_message=exc.message,
                retryable=not isinstance(exc, FlinksTerminalError),
            )
        # A 200 without an Accounts array has nothing to flatten: landed as a success, the
        # application would be scored on no data. It fails (retryable), its body kept in bronze.
        problem = accounts_problem(body)
        return FetchResult(
            login_id=login_id,
            request_id=request_id,
            http_status=status,
            fetched_at=datetime.now(UTC),
            payload=raw,
            http_calls=calls[0],
            elapsed_seconds=time.perf_counter() - started,
            error_code=None if problem is None else MALFORMED_RESPONSE,
            error_message=problem,
            retryable=problem is not None,
        )

    async def fetch_each(
        self,
        login_ids: Sequence[str],
        on_result: ResultCallback,
        *,
        days_of_transactions: str = "Days365",
        concurrency: int | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> None:
        """Fetch many logins with at most ``concurrency`` in flight, handing each result to
        ``on_result(index in login_ids, result)`` as soon as it is complete, so that a caller
        need not hold a day's bodies at once. ``on_result`` runs on the event loop; what it
        raises stops the fetch and is raised here."""
        limit = asyncio.Semaphore(concurrency or self.max_connections)
        done = 0

        async def one(index: int, login_id: str) -> None:
            nonlocal done
            async with limit:
                result = await self.fetch_login(login_id, days_of_transactions=days_of_transactions)
            on_result(index, result)
            done += 1
            if on_progress is not None:
                on_progress(done, len(login_ids))

        await asyncio.gather(*(one(index, login) for index, login in enumerate(login_ids)))


def _str_or_none(value: object) -> str | None:
    return str(value) if value not in (None, "") else None


def _error_payload(exc: FlinksError) -> bytes:
    """The server's own error body, or a JSON record of a client-side failure (timeout...).

    Either way bronze keeps one row per application, so a failure is as auditable as a fetch.
    """
    if exc.body:
        return exc.body
    return orjson.dumps(
        {
            "HttpStatusCode": exc.http_status,
            "FlinksCode": exc.code,
            "Message": exc.message,
            "Endpoint": exc.endpoint,
        }
    )
