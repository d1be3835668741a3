"""Talking to the mock through Flask's test client: requests, the checks every route shares."""

from __future__ import annotations

import csv
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from flask.testing import FlaskClient

from credit_scoring_tests.builders.features import GOOD_FEATURES
from credit_scoring_tests.conftest import SAMPLE_DATA
from mock_api.behaviour import FAULT_KINDS, fault_draw

CUSTOMER = "customer-1"
API = f"/v3/{CUSTOMER}/BankingServices"
DECIDE = "/run/api/v1/flows/credit-decision/decide"
SANDBOX_DECIDE = "/run/api/v1/flows/credit-decision/sandbox/decide"
UNKNOWN_LOGIN = "00000000-0000-0000-0000-000000000000"
ACCOUNT_FIELDS = {
    "Id", "Title", "AccountNumber", "Balance", "Category", "Type", "Currency", "Holder",
}  # fmt: skip
TRANSACTION_FIELDS = {"Id", "Date", "Code", "Description", "Debit", "Credit", "Balance"}


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


SAMPLE_APPLICATIONS = read_csv(SAMPLE_DATA / "applications.csv")
SAMPLE_LOGIN = SAMPLE_APPLICATIONS[0]["login_id"]
MALFORMED = read_csv(SAMPLE_DATA / "malformed_rows.csv")

ClientFactory = Callable[..., FlaskClient]


def flinks(client: FlaskClient, endpoint: str, body: Any = None, **kwargs: Any):
    """POST ``body`` (JSON-encoded unless it is bytes) to a Flinks endpoint."""
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    return client.post(f"{API}/{endpoint}", data=data, content_type="application/json", **kwargs)


def authorize(client: FlaskClient, login_id: str = SAMPLE_LOGIN, **kwargs: Any) -> str:
    response = flinks(
        client, "Authorize", {"LoginId": login_id, "MostRecentCached": True}, **kwargs
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.json["RequestId"]


def detail(client: FlaskClient, request_id: str, **parameters: Any):
    return flinks(client, "GetAccountsDetail", {"RequestId": request_id, **parameters})


def accounts_of(client: FlaskClient, login_id: str, **parameters: Any) -> list[dict[str, Any]]:
    response = detail(client, authorize(client, login_id), **parameters)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.json["Accounts"]


def transactions(accounts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [t for account in accounts for t in account["Transactions"]]


def assert_flinks_error(response, status: int, code: str, *message_parts: str) -> None:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.content_type == "application/json"
    body = response.json
    assert body["HttpStatusCode"] == status
    assert body["FlinksCode"] == code
    for part in message_parts:
        assert part in body["Message"]


def decide(client: FlaskClient, body: Any, path: str = DECIDE, **kwargs: Any):
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    return client.post(path, data=data, content_type="application/json", **kwargs)


def decide_body(entity_id: str = "APP-1", features: dict[str, Any] | None = None) -> dict:
    return {
        "data": GOOD_FEATURES if features is None else features,
        "metadata": {"version": "v1.0", "entity_id": entity_id},
        "control": {"execution_mode": "sync"},
    }


def assert_taktile_error(response, status: int, *detail_parts: str) -> None:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.content_type == "application/json"
    detail_text = response.json["detail"]
    for part in detail_parts:
        assert part in detail_text


def stats(client: FlaskClient) -> dict[str, Any]:
    response = client.get("/_mock/stats")
    assert response.status_code == 200
    return response.json


def timed(call: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    result = call()
    return result, time.perf_counter() - started


def expected_faults(
    seed: int, endpoint: str, key: str, calls: int, rate: float, max_consecutive: int
) -> list[str | None]:
    """The documented sequence: ``fault_draw`` per call, then a real answer after a streak."""
    sequence: list[str | None] = []
    streak = 0
    for call in range(calls):
        kind = fault_draw(seed, endpoint, key, call, rate, FAULT_KINDS)
        if kind is not None and streak >= max_consecutive:
            kind = None
        streak = streak + 1 if kind is not None else 0
        sequence.append(kind)
    return sequence


def authorize_statuses(client: FlaskClient, calls: int) -> list[int]:
    """The statuses of ``calls`` Authorize requests for the sample login, in order."""
    return [
        flinks(client, "Authorize", {"LoginId": SAMPLE_LOGIN}).status_code for _ in range(calls)
    ]
