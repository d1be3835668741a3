"""The Flinks v3 BankingServices endpoints, served from the :class:`~mock_api.store.Store`.

Paths, bodies, status codes and ``FlinksCode`` values mirror the real API, so that pointing the
pipeline at Flinks is a change of configuration only. Any customer id is accepted. Every error is
``{"HttpStatusCode", "FlinksCode", "Message"}``; a body the mock cannot use is a 400
``INVALID_REQUEST`` naming what is wrong, never a 500.

Sessions (RequestId -> login) live in memory with a time to live, like Flinks' own: the app is
served by one process with threads, and a RequestId from another process is unknown.

A login with a payload file (``<data-dir>/payloads/<LoginId>.json``, see :mod:`mock_api.store`)
gets that file's bytes as its GetAccountsDetail answer, status 200, once any pending polls are
over: the way to serve a response the statement export cannot express (missing or mistyped
fields, ``"Accounts": null``, duplicate ids, a truncated body).
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from flask import Blueprint, Flask, Response, current_app, g, request

from mock_api.behaviour import (
    MockConfig,
    api_endpoint,
    current_behaviour,
    flinks_error_body,
    json_response,
    record_served,
)
from mock_api.store import Login, Store, Window

#: Accepted ``DaysOfTransactions`` values and their length in days.
DAYS_OF_TRANSACTIONS: dict[str, int] = {"Days90": 90, "Days365": 365}
DEFAULT_DAYS_OF_TRANSACTIONS = "Days90"

_STORE = "mock_api.store"
_SESSIONS = "mock_api.sessions"
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")

flinks = Blueprint("flinks", __name__, url_prefix="/v3/<customer_id>/BankingServices")


class FlinksRequestError(Exception):
    """A request the mock answers with a Flinks error body."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@flinks.errorhandler(FlinksRequestError)
def _flinks_error(error: FlinksRequestError) -> Response:
    return json_response(flinks_error_body(error.status, error.code, error.message), error.status)


def _invalid(message: str) -> FlinksRequestError:
    return FlinksRequestError(400, "INVALID_REQUEST", message)


# -- sessions -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DetailRequest:
    """What GetAccountsDetail asked for; the Async endpoint answers the same question."""

    window: Window
    with_transactions: bool
    account_ids: frozenset[str] | None


@dataclass
class Session:
    request_id: str
    login_id: str
    created: float
    pending_left: int
    detail: DetailRequest | None = None


class SessionStore:
    """RequestId -> session, thread-safe, forgotten ``ttl_seconds`` after Authorize."""

    def __init__(self, ttl_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._sessions: dict[str, Session] = {}
        self._last_sweep = clock()

    def open(self, login_id: str, pending_polls: int) -> Session:
        now = self._clock()
        session = Session(str(uuid.uuid4()), login_id, now, pending_polls)
        with self._lock:
            if now - self._last_sweep >= min(self._ttl, 60.0):
                self._sweep(now)
            self._sessions[session.request_id] = session
        return session

    def get(self, request_id: str) -> Session | None:
        """The live session, or None if unknown or expired."""
        now = self._clock()
        with self._lock:
            session = self._sessions.get(request_id)
            if session is not None and now - session.created >= self._ttl:
                del self._sessions[request_id]
                return None
            return session

    def set_detail(self, session: Session, detail: DetailRequest) -> None:
        with self._lock:
            session.detail = detail

    def take_pending(self, session: Session) -> bool:
        """True (and one fewer left) while the session must still answer 202."""
        with self._lock:
            if session.pending_left > 0:
                session.pending_left -= 1
                return True
            return False

    def __len__(self) -> int:
        with self._lock:
            return len(self._sessions)

    def _sweep(self, now: float) -> None:
        expired = [rid for rid, s in self._sessions.items() if now - s.created >= self._ttl]
        for request_id in expired:
            del self._sessions[request_id]
        self._last_sweep = now


def register_flinks(app: Flask, store: Store, config: MockConfig) -> None:
    """Serve ``store`` through the Flinks endpoints of ``app``."""
    app.extensions[_STORE] = store
    app.extensions[_SESSIONS] = SessionStore(config.session_ttl_s)
    app.register_blueprint(flinks)


def _store() -> Store:
    return current_app.extensions[_STORE]


def _sessions() -> SessionStore:
    return current_app.extensions[_SESSIONS]


# -- request parsing ------------------------------------------------------------------------

_MALFORMED = object()


def _raw_body() -> Any:
    """The JSON body, parsed once per request (``_MALFORMED`` if it is not JSON)."""
    if "flinks_body" not in g:
        try:
            g.flinks_body = orjson.loads(request.get_data(cache=True))
        except orjson.JSONDecodeError:
            g.flinks_body = _MALFORMED
    return g.flinks_body


def _body() -> dict[str, Any]:
    body = _raw_body()
    if body is _MALFORMED:
        raise _invalid("the request body is not valid JSON")
    if not isinstance(body, dict):
        raise _invalid("the request body must be a JSON object")
    return body


def _required_string(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if value is None or value == "":
        raise _invalid(f"{name} is required")
    if not isinstance(value, str):
        raise _invalid(f"{name} must be a string, got {orjson.dumps(value).decode()}")
    return value


def _optional_bool(body: dict[str, Any], name: str, default: bool) -> bool:
    value = body.get(name, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise _invalid(f"{name} must be true or false, got {orjson.dumps(value).decode()}")
    return value


def _optional_date(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        try:
            time.strptime(value, "%Y-%m-%d")
        except ValueError:
            pass
        else:
            return value
    raise _invalid(f"{name} {orjson.dumps(value).decode()} is not a YYYY-MM-DD date")


def _detail_request(body: dict[str, Any], login: Login) -> DetailRequest:
    """Validate GetAccountsDetail's parameters into the window and filters to serve."""
    with_transactions = _optional_bool(body, "WithTransactions", True)
    date_from = _optional_date(body, "DateFrom")
    date_to = _optional_date(body, "DateTo")
    days = body.get("DaysOfTransactions")
    if days is not None and (not isinstance(days, str) or days not in DAYS_OF_TRANSACTIONS):
        raise _invalid(
            f"DaysOfTransactions {orjson.dumps(days).decode()} is not one of "
            f"{', '.join(DAYS_OF_TRANSACTIONS)}"
        )
    if date_from is not None or date_to is not None:
        if days is not None:
            raise _invalid("use either DaysOfTransactions or DateFrom/DateTo, not both")
        if date_from is not None and date_to is not None and date_from > date_to:
            raise _invalid(f"DateFrom {date_from} is after DateTo {date_to}")
        window = Window.between(date_from, date_to)
    else:
        window = login.days_window(DAYS_OF_TRANSACTIONS[days or DEFAULT_DAYS_OF_TRANSACTIONS])
    account_ids = body.get("AccountsFilter")
    if account_ids is not None and (
        not isinstance(account_ids, list) or not all(isinstance(a, str) for a in account_ids)
    ):
        raise _invalid("AccountsFilter must be a list of account ids")
    return DetailRequest(
        window=window,
        with_transactions=with_transactions,
        account_ids=None if account_ids is None else frozenset(account_ids),
    )


def _session(request_id: str) -> tuple[Session, Login]:
    session = _sessions().get(request_id)
    login = None if session is None else _store().login(session.login_id)
    if session is None or login is None:
        raise FlinksRequestError(
            400, "SESSION_NONEXISTENT", f"RequestId {request_id} is unknown or has expired"
        )
    return session, login


# -- fault keys: the login a request is about, whatever state the request is in ------------


def _login_key() -> str:
    body = _raw_body()
    login_id = body.get("LoginId") if isinstance(body, dict) else None
    return login_id if isinstance(login_id, str) else ""


def _request_id_key(request_id: object) -> str:
    if not isinstance(request_id, str):
        return ""
    session = _sessions().get(request_id)
    return session.login_id if session is not None else request_id


def _body_session_key() -> str:
    body = _raw_body()
    return _request_id_key(body.get("RequestId") if isinstance(body, dict) else None)


def _path_session_key() -> str:
    return _request_id_key((request.view_args or {}).get("request_id"))


# -- endpoints ------------------------------------------------------------------------------


@flinks.post("/Authorize")
@api_endpoint("Authorize", fault_key=_login_key)
def authorize(customer_id: str) -> Response:
    """Open a session on the login's most recent cached pull."""
    body = _body()
    login_id = _required_string(body, "LoginId")
    login = _store().login(login_id)
    if login is None:
        raise FlinksRequestError(401, "INVALID_LOGIN", f"LoginId {login_id} is unknown")
    session = _sessions().open(login.id, current_behaviour().config.pending_polls)
    return json_response(
        {
            "HttpStatusCode": 200,
            "Login": login.login_fields,
            "Institution": login.institution,
            "InstitutionName": login.institution,
            "RequestId": session.request_id,
        }
    )


@flinks.post("/GetAccountsDetail")
@api_endpoint("GetAccountsDetail", fault_key=_body_session_key)
def get_accounts_detail(customer_id: str) -> Response:
    """Accounts with transactions, or 202 while the (simulated) pull is pending."""
    body = _body()
    session, login = _session(_required_string(body, "RequestId"))
    detail = _detail_request(body, login)
    _sessions().set_detail(session, detail)
    return _detail_answer(session, login, detail)


@flinks.get("/GetAccountsDetailAsync/<request_id>")
@api_endpoint("GetAccountsDetailAsync", fault_key=_path_session_key)
def get_accounts_detail_async(customer_id: str, request_id: str) -> Response:
    """The answer to the session's GetAccountsDetail, once it is no longer pending."""
    session, login = _session(request_id)
    if session.detail is None:
        raise _invalid(f"no GetAccountsDetail request was made for RequestId {request_id}")
    return _detail_answer(session, login, session.detail)


@flinks.post("/GetAccountsSummary")
@api_endpoint("GetAccountsSummary", fault_key=_body_session_key)
def get_accounts_summary(customer_id: str) -> Response:
    """Accounts without transactions, account numbers masked."""
    session, login = _session(_required_string(_body(), "RequestId"))
    accounts, _ = _store().accounts_json(
        login, window=Window(), with_transactions=False, mask_numbers=True
    )
    record_served(login.id, 0)
    return json_response(
        {"HttpStatusCode": 200, "Accounts": accounts, "RequestId": session.request_id}
    )


def _detail_answer(session: Session, login: Login, detail: DetailRequest) -> Response:
    behaviour = current_behaviour()
    if _sessions().take_pending(session):
        behaviour.stats.pending_answer()
        return json_response(
            {
                "HttpStatusCode": 202,
                "FlinksCode": "OPERATION_PENDING",
                "Message": "the request is being processed; poll GetAccountsDetailAsync",
                "RequestId": session.request_id,
            },
            202,
        )
    payload = _store().payload(login.id)
    if payload is not None:
        record_served(login.id, payload.transaction_count)
        return Response(payload.body, status=200, mimetype="application/json")
    accounts, transactions = _store().accounts_json(
        login,
        window=detail.window,
        with_transactions=detail.with_transactions,
        account_ids=detail.account_ids,
    )
    record_served(login.id, transactions)
    return json_response(
        {
            "HttpStatusCode": 200,
            "Accounts": accounts,
            "InstitutionName": login.institution,
            "Institution": login.institution,
            "InstitutionId": login.institution_id,
            "Login": login.login_fields,
            "RequestId": session.request_id,
        }
    )
