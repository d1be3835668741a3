"""Switches that make the mock behave like a real, imperfect API, and the counters that prove it.

Every API endpoint (Flinks, and the Taktile-shaped decide endpoint) is wrapped by
:func:`api_endpoint`, which applies, in order: request counting, added latency, the API-key
check, terminal faults, and deterministic transient faults. Endpoints only supply a name, how
to find the fault key of a request, and the shape of their error bodies.

Faults are deterministic so that a test can prove "everything succeeds through retries": whether
the n-th call of an endpoint for a key faults, and how, is a pure function of (seed, endpoint,
key, n), and after ``fault_max_consecutive`` faults in a row for that endpoint and key the next
answer is real. Terminal faults are the other kind: a ``terminal_rate`` share of keys (a login,
a decision entity) is refused on every call (a disabled login, an entity the flow rejects), so
a test knows exactly which applications must end as ERROR. The key is a business key (the
login), not a connection or a thread, so the outcome does not depend on how concurrent
requests interleave.

State (counters, fault sequences) lives in memory: the app is meant to be served by ONE process
with many threads. Several processes would each count and fault on their own.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, ParamSpec

import orjson
from flask import Flask, Response, current_app, g, request

logger = logging.getLogger(__name__)

#: Every fault kind, in the order used to pick one (part of the determinism contract).
FAULT_KINDS: tuple[str, ...] = ("500", "retry_later", "too_many_requests", "drop", "slow")

#: Faults answered with an error instead of the endpoint's answer: (status, code, message).
ErrorFaults = dict[str, tuple[int, str, str]]
FLINKS_ERROR_FAULTS: ErrorFaults = {
    "500": (500, "INTERNAL_ERROR", "an internal error occurred; retry the request"),
    "retry_later": (503, "RETRY_LATER", "the service is busy; retry later"),
    # Flinks really sends its rate-limit answer as a 401.
    "too_many_requests": (401, "TOO_MANY_REQUESTS", "too many requests; slow down and retry"),
}
#: The same faults as a standard HTTP API (Taktile) answers them: rate limits are 429.
HTTP_ERROR_FAULTS: ErrorFaults = {
    **FLINKS_ERROR_FAULTS,
    "too_many_requests": (429, "TOO_MANY_REQUESTS", "rate limit exceeded; slow down and retry"),
}

#: What a key drawn as terminal is answered, on every call: (status, code, message).
TerminalFault = tuple[int, str, str]
FLINKS_TERMINAL_FAULT: TerminalFault = (
    401,
    "DISABLED_LOGIN",
    "the login is disabled at the institution; the customer must reconnect",
)
TAKTILE_TERMINAL_FAULT: TerminalFault = (
    422,
    "INVALID_REQUEST",
    "the decision flow refuses this entity",
)

_EXTENSION = "mock_api.behaviour"
API_KEY_HEADER = "x-api-key"


@dataclass(frozen=True)
class MockConfig:
    """How the mock behaves; every field has a CLI flag in ``python -m mock_api``."""

    #: GetAccountsDetail answers 202 OPERATION_PENDING this many times per RequestId
    #: (its first answer, then the Async polls) before answering 200.
    pending_polls: int = 0
    #: Added to every API call (not to /health or /_mock/*).
    latency_ms: float = 0.0
    #: Which faults are injected, drawn at random among these.
    fault_kinds: tuple[str, ...] = FAULT_KINDS
    #: Probability that an API call faults (before the consecutive-fault cap).
    fault_rate: float = 0.0
    fault_seed: int = 0
    #: After this many faults in a row for one endpoint and key, the next answer is real.
    fault_max_consecutive: int = 2
    #: How long a ``slow`` fault waits before answering normally.
    slow_ms: float = 3000.0
    #: Share of keys (logins, decision entities) refused on every call with a terminal error.
    terminal_rate: float = 0.0
    #: When set, API calls need header ``x-api-key`` with this value; unset = open, like the
    #: Flinks sandbox.
    api_key: str | None = None
    #: A RequestId is forgotten (SESSION_NONEXISTENT) this long after Authorize.
    session_ttl_s: float = 1800.0

    def __post_init__(self) -> None:
        problems = []
        if self.pending_polls < 0:
            problems.append(f"pending_polls must be >= 0, got {self.pending_polls}")
        if self.latency_ms < 0:
            problems.append(f"latency_ms must be >= 0, got {self.latency_ms}")
        if not 0.0 <= self.fault_rate <= 1.0:
            problems.append(f"fault_rate must be in [0, 1], got {self.fault_rate}")
        if not 0.0 <= self.terminal_rate <= 1.0:
            problems.append(f"terminal_rate must be in [0, 1], got {self.terminal_rate}")
        unknown = [kind for kind in self.fault_kinds if kind not in FAULT_KINDS]
        if unknown or not self.fault_kinds:
            problems.append(
                f"fault_kinds must be a non-empty subset of {', '.join(FAULT_KINDS)}; "
                f"got {', '.join(self.fault_kinds) or 'nothing'}"
            )
        if self.fault_max_consecutive < 1:
            problems.append(f"fault_max_consecutive must be >= 1, got {self.fault_max_consecutive}")
        if self.slow_ms < 0:
            problems.append(f"slow_ms must be >= 0, got {self.slow_ms}")
        if self.api_key is not None and not self.api_key:
            problems.append("api_key must be non-empty when set")
        if self.session_ttl_s <= 0:
            problems.append(f"session_ttl_s must be > 0, got {self.session_ttl_s}")
        if problems:
            raise ValueError("; ".join(problems))


# -- counters -------------------------------------------------------------------------------


class Stats:
    """Thread-safe counters of what the mock was asked and what it answered."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._requests: Counter[str] = Counter()
            self._responses: Counter[str] = Counter()
            self._faults: Counter[str] = Counter()
            self._faults_by_key: dict[str, Counter[str]] = {}
            self._pending_answers = 0
            self._logins: set[str] = set()
            self._transactions = 0
            self._decisions = 0
            self._decided_entities: set[str] = set()
            self._decision_repeats = 0
            self._repeated_entities: set[str] = set()
            self._terminal_answers = 0
            self._terminal_keys: dict[str, set[str]] = {}

    def request(self, endpoint: str) -> None:
        with self._lock:
            self._requests[endpoint] += 1

    def response(self, status: int) -> None:
        with self._lock:
            self._responses[str(status)] += 1

    def fault(self, kind: str, endpoint: str = "", key: str = "") -> None:
        with self._lock:
            self._faults[kind] += 1
            self._faults_by_key.setdefault(endpoint, Counter())[key] += 1

    def terminal(self, endpoint: str, key: str) -> None:
        with self._lock:
            self._terminal_answers += 1
            self._terminal_keys.setdefault(endpoint, set()).add(key)

    def pending_answer(self) -> None:
        with self._lock:
            self._pending_answers += 1

    def served(self, login_id: str, transactions: int) -> None:
        """Record account data delivered for a login (200 answers only)."""
        with self._lock:
            self._logins.add(login_id)
            self._transactions += transactions

    def decided(self, entity_id: str) -> None:
        """Record a decision answered for ``entity_id`` (a repeat if it was decided before)."""
        with self._lock:
            self._decisions += 1
            if entity_id in self._decided_entities:
                self._decision_repeats += 1
                self._repeated_entities.add(entity_id)
            self._decided_entities.add(entity_id)

    def snapshot(self) -> dict[str, Any]:
        """The ``/_mock/stats`` body.

        ``responses`` counts answers actually sent by status; a dropped answer is counted in
        ``faults["drop"]`` only, so ``sum(requests) == sum(responses) + faults["drop"]``.
        """
        with self._lock:
            return {
                "requests": dict(self._requests),
                "responses": dict(self._responses),
                "faults": {kind: self._faults.get(kind, 0) for kind in FAULT_KINDS},
                "faults_by_key": {
                    endpoint: dict(keys) for endpoint, keys in self._faults_by_key.items()
                },
                "pending_answers": self._pending_answers,
                "distinct_logins_served": len(self._logins),
                "transactions_served": self._transactions,
                "decisions": self._decisions,
                "distinct_entities_decided": len(self._decided_entities),
                "decision_repeats": self._decision_repeats,
                "repeated_entities": sorted(self._repeated_entities),
                "terminal_answers": self._terminal_answers,
                "terminal_keys": {
                    endpoint: sorted(keys) for endpoint, keys in self._terminal_keys.items()
                },
            }


# -- faults ---------------------------------------------------------------------------------


def fault_draw(
    seed: int, endpoint: str, key: str, call: int, rate: float, kinds: tuple[str, ...]
) -> str | None:
    """The fault (or None) drawn for the ``call``-th call (0-based) of ``endpoint`` for ``key``.

    A pure function: a hash of its inputs, never a shared random generator, so concurrent
    requests for other keys cannot change what this key sees.
    """
    if rate <= 0:
        return None
    name = f"{seed}\x1f{endpoint}\x1f{key}\x1f{call}".encode()
    digest = hashlib.blake2b(name, digest_size=16).digest()
    if int.from_bytes(digest[:8], "big") / 2**64 >= rate:
        return None
    return kinds[int.from_bytes(digest[8:], "big") % len(kinds)]


def terminal_draw(seed: int, key: str, rate: float) -> bool:
    """Whether ``key`` is refused for good: a pure function of (seed, key), for every endpoint.

    Keyed by the business key only, so a login drawn terminal is refused from its first call
    (Authorize), and a test can compute the expected ERROR set from the keys alone.
    """
    if rate <= 0 or not key:
        return False
    digest = hashlib.blake2b(f"{seed}\x1fterminal\x1f{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64 < rate


class FaultInjector:
    """Per (endpoint, key) call counters applying :func:`fault_draw` and the consecutive cap."""

    def __init__(self, config: MockConfig) -> None:
        self._config = config
        self._lock = threading.Lock()
        self._calls: dict[tuple[str, str], int] = {}
        self._streaks: dict[tuple[str, str], int] = {}

    def next_fault(self, endpoint: str, key: str) -> str | None:
        config = self._config
        if config.fault_rate <= 0:
            return None
        slot = (endpoint, key)
        with self._lock:
            call = self._calls.get(slot, 0)
            self._calls[slot] = call + 1
            kind = fault_draw(
                config.fault_seed, endpoint, key, call, config.fault_rate, config.fault_kinds
            )
            streak = self._streaks.get(slot, 0)
            if kind is not None and streak >= config.fault_max_consecutive:
                kind = None
            self._streaks[slot] = streak + 1 if kind is not None else 0
        return kind

    def reset(self) -> None:
        """Start every sequence again from its first call."""
        with self._lock:
            self._calls.clear()
            self._streaks.clear()


class Behaviour:
    """The switches of one app, with its counters and fault sequences."""

    def __init__(self, config: MockConfig) -> None:
        self.config = config
        self.stats = Stats()
        self.faults = FaultInjector(config)

    def reset(self) -> None:
        """Zero the counters and restart fault sequences (data and sessions are kept)."""
        self.stats.reset()
        self.faults.reset()


def install_behaviour(app: Flask, behaviour: Behaviour) -> None:
    """Attach ``behaviour`` to ``app`` and count every answer of a wrapped endpoint."""
    app.extensions[_EXTENSION] = behaviour
    app.after_request(_count_response)


def current_behaviour() -> Behaviour:
    return current_app.extensions[_EXTENSION]


def record_served(login_id: str, transactions: int) -> None:
    """Note data served for a login; counted once the answer is actually sent (not dropped)."""
    g.mock_served = (login_id, transactions)


def _count_response(response: Response) -> Response:
    # Runs for error-handler answers too, so a 400 or an unexpected 500 is counted like a 200.
    if g.get("mock_endpoint") is None or g.get("mock_dropped", False):
        return response
    stats = current_behaviour().stats
    stats.response(response.status_code)
    served = g.get("mock_served")
    if served is not None and response.status_code == 200:
        stats.served(*served)
    return response


# -- responses ------------------------------------------------------------------------------


ErrorBody = Callable[[int, str, str], dict[str, Any]]


def flinks_error_body(status: int, code: str, message: str) -> dict[str, Any]:
    """The Flinks error shape, used for every error the Flinks endpoints answer."""
    return {"HttpStatusCode": status, "FlinksCode": code, "Message": message}


def json_response(payload: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(payload), status=status, mimetype="application/json")


def _dropped(response: Response) -> Response:
    """The same answer, cut in half: Content-Length promises the whole body, half is sent.

    Both waitress and werkzeug close the connection when an app sends fewer bytes than its
    Content-Length, so the client sees the connection dropped mid-response (e.g. httpx's
    RemoteProtocolError), without a server-side exception.
    """
    body = response.get_data()
    half = body[: len(body) // 2]

    def partial() -> Iterator[bytes]:
        yield half

    dropped = Response(partial(), status=response.status_code, mimetype=response.mimetype)
    dropped.headers["Content-Length"] = str(len(body))
    return dropped


def _api_key_accepted(expected: str) -> bool:
    given = request.headers.get(API_KEY_HEADER, "")
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8"))


# -- the decorator --------------------------------------------------------------------------

P = ParamSpec("P")


def api_endpoint(
    name: str,
    *,
    fault_key: Callable[[], str] | None = None,
    error_body: ErrorBody = flinks_error_body,
    error_faults: ErrorFaults = FLINKS_ERROR_FAULTS,
    terminal_fault: TerminalFault = FLINKS_TERMINAL_FAULT,
) -> Callable[[Callable[P, Any]], Callable[P, Response]]:
    """Wrap a view with the behaviour switches and counters.

    ``name`` is the endpoint's name in ``/_mock/stats`` and in fault draws; ``fault_key``
    returns the business key whose calls are counted for faults (it must not raise);
    ``error_body`` shapes the errors the wrapper answers itself (api key, faults), and
    ``error_faults`` says which status each error fault answers with, and ``terminal_fault``
    what a key drawn terminal is answered.
    """

    def decorate(view: Callable[P, Any]) -> Callable[P, Response]:
        @functools.wraps(view)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> Response:
            behaviour = current_behaviour()
            config = behaviour.config
            g.mock_endpoint = name
            behaviour.stats.request(name)
            if config.latency_ms:
                time.sleep(config.latency_ms / 1000)
            if config.api_key is not None and not _api_key_accepted(config.api_key):
                return json_response(
                    error_body(401, "UNAUTHORIZED", f"missing or wrong {API_KEY_HEADER} header"),
                    401,
                )
            fault = None
            faulting = config.fault_rate > 0 or config.terminal_rate > 0
            key = fault_key() if faulting and fault_key is not None else ""
            if terminal_draw(config.fault_seed, key, config.terminal_rate):
                behaviour.stats.terminal(name, key)
                status, code, message = terminal_fault
                logger.info("terminal fault %s on %s for %s", code, name, key)
                return json_response(error_body(status, code, message), status)
            if config.fault_rate > 0:
                fault = behaviour.faults.next_fault(name, key)
                if fault is not None:
                    behaviour.stats.fault(fault, name, key)
                    logger.info("injected fault %s on %s for %s", fault, name, key)
            if fault in error_faults:
                status, code, message = error_faults[fault]
                return json_response(error_body(status, code, message), status)
            if fault == "slow":
                time.sleep(config.slow_ms / 1000)
            try:
                answer = view(*args, **kwargs)
            except Exception as exc:
                # Error answers go through the app's handlers here, so a drop applies to them too.
                answer = current_app.handle_user_exception(exc)
            response = current_app.make_response(answer)
            if fault == "drop":
                g.mock_dropped = True
                return _dropped(response)
            return response

        return wrapper

    return decorate
