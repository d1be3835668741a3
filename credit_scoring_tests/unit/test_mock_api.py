"""The mock API through Flask's test client: Flinks v3, Taktile decide, switches, counters."""

from __future__ import annotations

import csv
import re
import time
import uuid
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from flask.testing import FlaskClient

from credit_scoring_tests.conftest import SAMPLE_DATA
from mock_api import app as mock_app
from mock_api import decision_flow
from mock_api.app import create_app
from mock_api.behaviour import FAULT_KINDS, MockConfig, fault_draw, terminal_draw
from mock_api.export_format import COLUMNS
from mock_api.generator import GenerateConfig, generate
from mock_api.store import Store, load_store, transaction_id

CUSTOMER = "customer-1"
API = f"/v3/{CUSTOMER}/BankingServices"
DECIDE = "/run/api/v1/flows/credit-decision/decide"
SANDBOX_DECIDE = "/run/api/v1/flows/credit-decision/sandbox/decide"
UNKNOWN_LOGIN = "00000000-0000-0000-0000-000000000000"
ACCOUNT_FIELDS = {
    "Id", "Title", "AccountNumber", "Balance", "Category", "Type", "Currency", "Holder",
}  # fmt: skip
TRANSACTION_FIELDS = {"Id", "Date", "Code", "Description", "Debit", "Credit", "Balance"}
FEATURES = {
    "nsf_count_90d": 0,
    "total_inflow_90d": 12000.0,
    "total_outflow_90d": 10500.0,
    "avg_daily_balance_90d": 2200.0,
    "min_daily_balance_90d": 150.0,
    "days_negative_90d": 0,
    "employer_income_monthly": 3900.0,
    "history_days": 400,
}


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


SAMPLE_APPLICATIONS = _read_csv(SAMPLE_DATA / "applications.csv")
SAMPLE_LOGIN = SAMPLE_APPLICATIONS[0]["login_id"]
MALFORMED = _read_csv(SAMPLE_DATA / "malformed_rows.csv")


# -- fixtures and helpers -------------------------------------------------------------------

ClientFactory = Callable[..., FlaskClient]


@pytest.fixture(scope="module")
def sample_store() -> Store:
    """The sample data, loaded once: a store is immutable once built, so apps can share it."""
    return load_store(SAMPLE_DATA)


@pytest.fixture
def sample_client(sample_store: Store, monkeypatch: pytest.MonkeyPatch) -> ClientFactory:
    """A test client of the mock serving the committed sample, with the given switches.

    Every app gets its own switches, counters, sessions and fault sequences; only the loaded
    data is shared (loading it again for each test would dominate the module's run time).
    """

    def shared_store(data_dir: Path | str) -> Store:
        assert Path(data_dir) == SAMPLE_DATA
        return sample_store

    monkeypatch.setattr(mock_app, "load_store", shared_store)

    def make(**switches: Any) -> FlaskClient:
        return create_app(SAMPLE_DATA, MockConfig(**switches)).test_client()

    return make


@pytest.fixture
def client(sample_client: ClientFactory) -> FlaskClient:
    """The mock on the sample data, default switches (no faults, no delay, no key)."""
    return sample_client()


@pytest.fixture(scope="module")
def generated_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two clean applicants with 200 days of history (more than a Days90 window)."""
    out = tmp_path_factory.mktemp("mock-api-data")
    generate(
        GenerateConfig(
            applications=2,
            start_date=date(2026, 10, 5),
            days=1,
            seed=7,
            out=out,
            history_days=200,
            workers=1,
        ),
        progress=False,
    )
    return out


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
        "data": FEATURES if features is None else features,
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


def write_statements(data_dir: Path, rows: list[dict[str, str]]) -> Path:
    """A one-file statement export (header of ``export_format.COLUMNS``) under ``data_dir``."""
    base = {
        "Username": "Ann Example",
        "Email": "ann@example.com",
        "Address": "1 Main Street, Ottawa, ON K1A 0B1",
        "Financial Institution": "Test Bank",
        "Login ID": "login-1",
        "Request ID": "request-1",
        "Request Date/Time": "2026-10-05 12:00:00",
        "Request Status": "Completed",
        "Account Name": "Chequing",
        "Account Number": "123456789",
        "Account Type": "Operation",
        "Account Balance": "100.00",
    }
    (data_dir / "statements").mkdir(parents=True)
    with (data_dir / "statements" / "statements_2026-10-05_001.csv").open(
        "w", newline="", encoding="utf-8"
    ) as handle:
        writer = csv.DictWriter(handle, COLUMNS, restval="")
        writer.writeheader()
        writer.writerows({**base, **row} for row in rows)
    return data_dir


# -- Authorize ------------------------------------------------------------------------------


def test_authorize_answers_200_with_login_institution_and_request_id(client):
    response = flinks(client, "Authorize", {"LoginId": SAMPLE_LOGIN, "MostRecentCached": True})

    assert response.status_code == 200
    body = response.json
    assert body["HttpStatusCode"] == 200
    assert body["Login"]["Id"] == SAMPLE_LOGIN
    assert body["Login"]["LastRefresh"] == SAMPLE_APPLICATIONS[0]["applied_at"].rstrip("Z")
    assert isinstance(body["Institution"], str)
    assert body["Institution"]
    assert uuid.UUID(body["RequestId"])


def test_each_authorize_opens_a_new_request_id(client):
    assert authorize(client) != authorize(client)


def test_unknown_login_is_401_invalid_login(client):
    response = flinks(client, "Authorize", {"LoginId": UNKNOWN_LOGIN})

    assert_flinks_error(response, 401, "INVALID_LOGIN", UNKNOWN_LOGIN)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"LoginId": ', "not valid JSON"),
        (b"", "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        ([SAMPLE_LOGIN], "must be a JSON object"),
        ("just a string", "must be a JSON object"),
        ({}, "LoginId is required"),
        ({"LoginId": ""}, "LoginId is required"),
        ({"LoginId": 42}, "LoginId must be a string"),
    ],
    ids=["malformed", "empty", "not-utf8", "array", "string", "missing", "blank", "number"],
)
def test_an_unusable_authorize_body_is_a_clear_400_never_a_500(client, body, message):
    response = flinks(client, "Authorize", body)

    assert_flinks_error(response, 400, "INVALID_REQUEST", message)


# -- GetAccountsDetail ------------------------------------------------------------------------


def test_get_accounts_detail_answers_accounts_with_the_contract_fields(client):
    request_id = authorize(client)
    response = detail(client, request_id, WithTransactions=True, DaysOfTransactions="Days90")

    assert response.status_code == 200
    body = response.json
    assert body["HttpStatusCode"] == 200
    assert body["RequestId"] == request_id
    assert body["Login"]["Id"] == SAMPLE_LOGIN
    assert body["Accounts"]
    for account in body["Accounts"]:
        assert ACCOUNT_FIELDS | {"Transactions"} <= set(account)
        assert set(account["Balance"]) == {"Available", "Current", "Limit"}
        assert isinstance(account["Balance"]["Current"], float)
        assert account["Currency"] == "CAD"
        assert {"Name", "Address", "Email", "PhoneNumber"} <= set(account["Holder"])
        assert account["Transactions"]
        for transaction in account["Transactions"]:
            assert set(transaction) == TRANSACTION_FIELDS
    assert len({account["Id"] for account in body["Accounts"]}) == len(body["Accounts"])


def test_credit_card_accounts_have_no_available_balance_but_operations_do(generated_data):
    client = create_app(generated_data).test_client()
    login_id = _read_csv(generated_data / "applications.csv")[0]["login_id"]
    accounts = {a["Category"]: a for a in accounts_of(client, login_id)}

    assert accounts["Credits"]["Balance"]["Available"] is None
    operations = accounts["Operations"]["Balance"]
    assert operations["Available"] == operations["Current"]


def test_transactions_are_listed_newest_first(generated_data):
    client = create_app(generated_data).test_client()
    for application in _read_csv(generated_data / "applications.csv"):
        for account in accounts_of(client, application["login_id"], DaysOfTransactions="Days365"):
            dates = [t["Date"] for t in account["Transactions"]]
            assert dates, account["Title"]
            assert dates == sorted(dates, reverse=True)


def test_well_formed_rows_have_exactly_one_of_debit_and_credit(generated_data):
    client = create_app(generated_data).test_client()
    for application in _read_csv(generated_data / "applications.csv"):
        served = transactions(
            accounts_of(client, application["login_id"], DaysOfTransactions="Days365")
        )
        assert served
        for transaction in served:
            amounts = [transaction["Debit"], transaction["Credit"]]
            assert sum(amount is not None for amount in amounts) == 1, transaction
            assert all(isinstance(a, float) and a > 0 for a in amounts if a is not None)
            assert isinstance(transaction["Balance"], float)


def test_days90_and_days365_count_back_from_the_logins_pull_not_the_wall_clock(generated_data):
    client = create_app(generated_data).test_client()
    application = _read_csv(generated_data / "applications.csv")[0]
    pulled = datetime.fromisoformat(application["applied_at"].replace("Z", "+00:00")).date()
    cutoff = (pulled - timedelta(days=90)).isoformat()
    oldest_allowed = (pulled - timedelta(days=365)).isoformat()

    days90 = transactions(accounts_of(client, application["login_id"], DaysOfTransactions="Days90"))
    days365 = transactions(
        accounts_of(client, application["login_id"], DaysOfTransactions="Days365")
    )
    default = transactions(accounts_of(client, application["login_id"]))

    assert days90
    assert min(t["Date"] for t in days90) >= cutoff
    assert any(t["Date"] < cutoff for t in days365), "history must reach beyond 90 days"
    assert min(t["Date"] for t in days365) >= oldest_allowed
    assert {t["Id"] for t in days90} == {t["Id"] for t in days365 if t["Date"] >= cutoff}
    assert [t["Id"] for t in default] == [t["Id"] for t in days90]


def test_rows_dated_after_the_pull_are_still_listed(client):
    row = next(r for r in MALFORMED if r["kind"] == "date_after_pull")

    served = transactions(accounts_of(client, row["login_id"], DaysOfTransactions="Days90"))

    assert any(t["Date"] == row["date"] and t["Description"] == row["description"] for t in served)


def test_date_from_and_date_to_bound_the_window_inclusively(generated_data):
    client = create_app(generated_data).test_client()
    login_id = _read_csv(generated_data / "applications.csv")[0]["login_id"]
    everything = transactions(accounts_of(client, login_id, DaysOfTransactions="Days365"))
    dates = sorted({t["Date"] for t in everything})
    date_from, date_to = dates[10], dates[20]

    served = transactions(accounts_of(client, login_id, DateFrom=date_from, DateTo=date_to))
    only_from = transactions(accounts_of(client, login_id, DateFrom=date_to))

    assert {t["Date"] for t in served} == set(dates[10:21])
    assert {t["Id"] for t in served} == {
        t["Id"] for t in everything if date_from <= t["Date"] <= date_to
    }
    assert {t["Id"] for t in only_from} == {t["Id"] for t in everything if t["Date"] >= date_to}


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"DateFrom": "2026-09-10", "DateTo": "2026-09-01"}, "is after DateTo"),
        ({"DateFrom": "2026-02-30"}, "is not a YYYY-MM-DD date"),
        ({"DateTo": "01/09/2026"}, "is not a YYYY-MM-DD date"),
        ({"DateFrom": "2026-09-01", "DaysOfTransactions": "Days90"}, "not both"),
        ({"DaysOfTransactions": "Days30"}, "is not one of Days90, Days365"),
        ({"WithTransactions": "yes"}, "WithTransactions must be true or false"),
        ({"AccountsFilter": "not-a-list"}, "AccountsFilter must be a list"),
        ({"AccountsFilter": [1, 2]}, "AccountsFilter must be a list"),
    ],
    ids=[
        "from-after-to", "impossible-date", "not-iso-date", "days-and-dates",
        "unknown-days", "non-bool-with-transactions", "filter-not-list", "filter-not-strings",
    ],
)  # fmt: skip
def test_invalid_detail_parameters_are_a_400_invalid_request(client, parameters, message):
    response = detail(client, authorize(client), **parameters)

    assert_flinks_error(response, 400, "INVALID_REQUEST", message)


@pytest.mark.parametrize("days", [["Days90"], {"Days": 90}], ids=["list", "object"])
def test_a_non_string_days_of_transactions_is_a_400_not_a_500(client, days):
    response = detail(client, authorize(client), DaysOfTransactions=days)

    assert_flinks_error(response, 400, "INVALID_REQUEST", "DaysOfTransactions")


def test_without_transactions_accounts_carry_no_transactions(client):
    response = detail(client, authorize(client), WithTransactions=False)

    assert response.status_code == 200
    assert response.json["Accounts"]
    assert all("Transactions" not in account for account in response.json["Accounts"])


def test_accounts_filter_serves_only_the_listed_accounts(client):
    everything = accounts_of(client, SAMPLE_LOGIN)
    assert len(everything) >= 2
    wanted = everything[1]

    filtered = accounts_of(client, SAMPLE_LOGIN, AccountsFilter=[wanted["Id"]])
    nothing = accounts_of(client, SAMPLE_LOGIN, AccountsFilter=["no-such-account"])

    assert filtered == [wanted]
    assert nothing == []


def test_unknown_request_id_is_400_session_nonexistent(client):
    response = detail(client, "11111111-2222-3333-4444-555555555555")

    assert_flinks_error(
        response, 400, "SESSION_NONEXISTENT", "11111111-2222-3333-4444-555555555555"
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [({}, "RequestId is required"), ({"RequestId": 12}, "RequestId must be a string")],
    ids=["missing", "number"],
)
def test_missing_or_non_string_request_id_is_a_clear_400(client, body, message):
    response = flinks(client, "GetAccountsDetail", body)

    assert_flinks_error(response, 400, "INVALID_REQUEST", message)


def test_detail_async_without_a_prior_detail_request_is_a_400(client):
    request_id = authorize(client)

    response = client.get(f"{API}/GetAccountsDetailAsync/{request_id}")

    assert_flinks_error(
        response, 400, "INVALID_REQUEST", "no GetAccountsDetail request", request_id
    )


def test_detail_async_for_an_unknown_request_id_is_session_nonexistent(client):
    response = client.get(f"{API}/GetAccountsDetailAsync/unknown-request")

    assert_flinks_error(response, 400, "SESSION_NONEXISTENT", "unknown-request")


def test_detail_async_answers_the_same_question_as_the_detail_request(client):
    request_id = authorize(client)
    first = detail(client, request_id, DaysOfTransactions="Days365")

    again = client.get(f"{API}/GetAccountsDetailAsync/{request_id}")

    assert first.status_code == again.status_code == 200
    assert again.json["Accounts"] == first.json["Accounts"]


def test_accounts_summary_has_no_transactions_and_masks_account_numbers(client):
    full = {a["Id"]: a for a in accounts_of(client, SAMPLE_LOGIN)}
    request_id = authorize(client)

    response = flinks(client, "GetAccountsSummary", {"RequestId": request_id})

    assert response.status_code == 200
    body = response.json
    assert body["HttpStatusCode"] == 200
    assert body["RequestId"] == request_id
    assert {a["Id"] for a in body["Accounts"]} == set(full)
    for account in body["Accounts"]:
        assert "Transactions" not in account
        number = full[account["Id"]]["AccountNumber"]
        assert account["AccountNumber"] == "****" + number[-4:]
        assert account["AccountNumber"] != number
        assert account["Balance"] == full[account["Id"]]["Balance"]


def test_accounts_summary_for_an_unknown_request_id_is_session_nonexistent(client):
    response = flinks(client, "GetAccountsSummary", {"RequestId": "unknown-request"})

    assert_flinks_error(response, 400, "SESSION_NONEXISTENT")


# -- bad data is served as the bank sent it -------------------------------------------------


def _as_served(text: str) -> float | str | None:
    """How the mock serves an exported amount: empty -> None, plain decimal -> number, else raw."""
    if text == "":
        return None
    return float(text) if re.fullmatch(r"[+-]?\d+(?:\.\d*)?", text) else text


def _served_row(client: FlaskClient, kind: str, **match: str) -> tuple[dict, dict]:
    """The injected row of ``kind`` (from malformed_rows.csv) and the transaction serving it."""
    row = next(
        r for r in MALFORMED if r["kind"] == kind and all(r[k] == v for k, v in match.items())
    )
    expected = {
        "Date": row["date"],
        "Description": row["description"],
        "Debit": _as_served(row["withdrawals"]),
        "Credit": _as_served(row["deposits"]),
        "Balance": _as_served(row["balance"]),
    }
    accounts = accounts_of(client, row["login_id"], DaysOfTransactions="Days365")
    account = next(a for a in accounts if a["AccountNumber"] == row["account_number"])
    served = [t for t in account["Transactions"] if {k: t[k] for k in expected} == expected]
    assert len(served) == 1, (expected, account["Transactions"])
    return row, served[0]


def test_an_impossible_date_is_served_as_the_raw_string(client):
    row, served = _served_row(client, "impossible_date", date="2026-13-01")

    assert served["Date"] == "2026-13-01"
    assert served["Debit"] == float(row["withdrawals"])
    assert served["Balance"] == float(row["balance"])


def test_an_unparseable_balance_is_served_as_the_raw_string(client):
    _, served = _served_row(client, "unparseable_balance", balance="#VALUE!")

    assert served["Balance"] == "#VALUE!"
    assert isinstance(served["Credit"] or served["Debit"], float)


def test_a_non_numeric_amount_is_served_as_the_raw_string(client):
    row, served = _served_row(client, "non_numeric_amount", withdrawals="33.90.00")

    assert served["Debit"] == "33.90.00"
    assert served["Credit"] is None
    assert served["Balance"] == float(row["balance"])


def test_a_row_with_both_debit_and_credit_is_passed_on_as_it_is(client):
    row, served = _served_row(client, "both_debit_and_credit")

    assert served["Debit"] == float(row["withdrawals"])
    assert served["Credit"] == float(row["deposits"])


def test_an_undated_row_is_served_in_every_window(client):
    row = next(r for r in MALFORMED if r["date"] == "2026-13-01")

    served = transactions(accounts_of(client, row["login_id"], DateFrom="2026-10-01"))

    assert any(t["Date"] == "2026-13-01" for t in served)
    assert all(t["Date"] >= "2026-10-01" for t in served)


# -- stable transaction ids -------------------------------------------------------------------


def test_the_same_data_loaded_twice_gives_identical_transaction_ids():
    first = create_app(SAMPLE_DATA).test_client()
    second = create_app(SAMPLE_DATA).test_client()

    for application in SAMPLE_APPLICATIONS[:3]:
        login_id = application["login_id"]
        ids_first = [
            t["Id"] for t in transactions(accounts_of(first, login_id, DateFrom="2000-01-01"))
        ]
        ids_second = [
            t["Id"] for t in transactions(accounts_of(second, login_id, DateFrom="2000-01-01"))
        ]
        assert ids_first == ids_second
        assert len(set(ids_first)) == len(ids_first)
        assert all(uuid.UUID(id_).version == 5 for id_ in ids_first)


def test_two_identical_purchases_on_the_same_day_get_two_different_stable_ids(tmp_path):
    coffee = {
        "Date": "2026-10-04",
        "Description": "COFFEE",
        "Withdrawals": "4.50",
        "Balance": "100.00",
    }
    pay = {"Date": "2026-10-03", "Description": "PAY", "Deposits": "104.50", "Balance": "104.50"}
    data_dir = write_statements(tmp_path / "data", [coffee, dict(coffee), pay])
    client = create_app(data_dir).test_client()

    served = transactions(accounts_of(client, "login-1", DaysOfTransactions="Days365"))

    assert [t["Description"] for t in served] == ["COFFEE", "COFFEE", "PAY"]
    first, second = served[0]["Id"], served[1]["Id"]
    assert first != second
    values = ("login-1", "123456789", "2026-10-04", "COFFEE", "4.50", "", "100.00")
    assert first == transaction_id(*values, occurrence=0)
    assert second == transaction_id(*values, occurrence=1)
    reloaded = transactions(
        accounts_of(create_app(data_dir).test_client(), "login-1", DaysOfTransactions="Days365")
    )
    assert [t["Id"] for t in reloaded] == [t["Id"] for t in served]


# -- behaviour switches -----------------------------------------------------------------------


def test_pending_polls_answer_operation_pending_then_200_through_the_async_endpoint(
    sample_client,
):
    client = sample_client(pending_polls=2)
    request_id = authorize(client)

    first = detail(client, request_id, DaysOfTransactions="Days90")
    second = client.get(f"{API}/GetAccountsDetailAsync/{request_id}")
    third = client.get(f"{API}/GetAccountsDetailAsync/{request_id}")

    for pending in (first, second):
        assert_flinks_error(pending, 202, "OPERATION_PENDING", "GetAccountsDetailAsync")
        assert pending.json["RequestId"] == request_id
    assert third.status_code == 200
    assert third.json["HttpStatusCode"] == 200
    assert third.json["Accounts"]
    counters = stats(client)
    assert counters["pending_answers"] == 2
    assert counters["responses"] == {"200": 2, "202": 2}
    assert counters["transactions_served"] == len(transactions(third.json["Accounts"]))


def test_pending_polls_count_per_request_id(sample_client):
    client = sample_client(pending_polls=1)

    for _ in range(2):
        request_id = authorize(client)
        assert detail(client, request_id).status_code == 202
        assert client.get(f"{API}/GetAccountsDetailAsync/{request_id}").status_code == 200

    assert stats(client)["pending_answers"] == 2


def test_latency_delays_every_api_call_but_not_health_or_stats(sample_client):
    client = sample_client(latency_ms=80)

    authorized, api_seconds = timed(lambda: flinks(client, "Authorize", {"LoginId": SAMPLE_LOGIN}))
    decided, decide_seconds = timed(lambda: decide(client, decide_body()))
    health, health_seconds = timed(lambda: client.get("/health"))
    counters, stats_seconds = timed(lambda: client.get("/_mock/stats"))

    assert authorized.status_code == decided.status_code == 200
    assert api_seconds >= 0.08
    assert decide_seconds >= 0.08
    assert health.status_code == counters.status_code == 200
    assert health_seconds < 0.08
    assert stats_seconds < 0.08


def _authorize_statuses(client: FlaskClient, calls: int) -> list[int]:
    return [
        flinks(client, "Authorize", {"LoginId": SAMPLE_LOGIN}).status_code for _ in range(calls)
    ]


FLINKS_FAULT_STATUS = {None: 200, "500": 500, "retry_later": 503, "too_many_requests": 401}


def test_the_same_fault_seed_gives_the_same_fault_sequence(sample_client):
    switches = {
        "fault_rate": 0.5,
        "fault_seed": 11,
        "fault_kinds": ("500", "retry_later", "too_many_requests"),
    }
    expected = [
        fault_draw(11, "Authorize", SAMPLE_LOGIN, call, 0.5, switches["fault_kinds"])
        for call in range(12)
    ]
    assert None in expected, "the seed must give a mixed sequence"
    assert set(expected) - {None}, "the seed must give a mixed sequence"

    first = _authorize_statuses(sample_client(**switches), 12)
    second = _authorize_statuses(sample_client(**switches), 12)
    other_seed = _authorize_statuses(sample_client(**{**switches, "fault_seed": 12}), 12)

    assert first == second
    assert first != other_seed
    for status, drawn in zip(first, expected, strict=True):
        if drawn is None:
            assert status == 200
        else:  # a drawn fault is answered unless it would exceed the consecutive cap
            assert status in (FLINKS_FAULT_STATUS[drawn], 200)


def _observed_fault(response) -> str | None:
    """Which fault a Flinks answer shows (a ``slow`` one looks like a real answer)."""
    kinds = {500: "500", 503: "retry_later", 401: "too_many_requests"}
    if response.status_code in kinds:
        return kinds[response.status_code]
    if len(response.get_data()) < int(response.headers["Content-Length"]):
        return "drop"
    return None


def test_the_fault_sequence_follows_fault_draw_and_the_consecutive_cap(sample_client):
    seed, rate, calls = 2, 0.6, 20
    client = sample_client(fault_rate=rate, fault_seed=seed, slow_ms=1)
    drawn = [
        fault_draw(seed, "Authorize", SAMPLE_LOGIN, n, rate, FAULT_KINDS) for n in range(calls)
    ]
    expected = expected_faults(seed, "Authorize", SAMPLE_LOGIN, calls, rate, 2)
    assert set(expected) == {None, *FAULT_KINDS}, "the seed must draw every kind"
    assert drawn != expected, "the seed must draw a streak the cap cuts"

    observed = [
        _observed_fault(flinks(client, "Authorize", {"LoginId": SAMPLE_LOGIN}))
        for _ in range(calls)
    ]

    assert observed == [None if kind == "slow" else kind for kind in expected]
    faults = stats(client)["faults"]
    assert faults == {kind: expected.count(kind) for kind in FAULT_KINDS}


@pytest.mark.parametrize(
    ("max_consecutive", "statuses"),
    [(2, [500, 500, 200, 500, 500, 200]), (1, [500, 200, 500, 200, 500, 200])],
)
def test_fault_max_consecutive_caps_a_streak_of_faults(sample_client, max_consecutive, statuses):
    client = sample_client(
        fault_rate=1.0, fault_kinds=("500",), fault_max_consecutive=max_consecutive
    )

    assert _authorize_statuses(client, 6) == statuses


@pytest.mark.parametrize(
    ("kind", "status", "code"),
    [
        ("500", 500, "INTERNAL_ERROR"),
        ("retry_later", 503, "RETRY_LATER"),
        ("too_many_requests", 401, "TOO_MANY_REQUESTS"),
    ],
)
def test_each_error_fault_answers_its_flinks_error(sample_client, kind, status, code):
    client = sample_client(fault_rate=1.0, fault_kinds=(kind,))

    response = flinks(client, "Authorize", {"LoginId": SAMPLE_LOGIN})

    assert_flinks_error(response, status, code)
    counters = stats(client)
    assert counters["faults"][kind] == 1
    assert counters["responses"] == {str(status): 1}


def test_a_drop_fault_sends_a_truncated_body(sample_client):
    client = sample_client(fault_rate=1.0, fault_kinds=("drop",))

    response = flinks(client, "Authorize", {"LoginId": SAMPLE_LOGIN})

    body = response.get_data()
    promised = int(response.headers["Content-Length"])
    assert 0 < len(body) < promised
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(body)
    counters = stats(client)
    assert counters["faults"]["drop"] == 1
    assert counters["responses"] == {}
    assert sum(counters["requests"].values()) == (
        sum(counters["responses"].values()) + counters["faults"]["drop"]
    )


def test_a_slow_fault_waits_slow_ms_then_answers_normally(sample_client):
    client = sample_client(fault_rate=1.0, fault_kinds=("slow",), slow_ms=50)

    response, seconds = timed(lambda: flinks(client, "Authorize", {"LoginId": SAMPLE_LOGIN}))

    assert seconds >= 0.05
    assert response.status_code == 200
    assert response.json["Login"]["Id"] == SAMPLE_LOGIN
    assert stats(client)["faults"]["slow"] == 1


def test_faults_hit_detail_requests_too_keyed_by_the_sessions_login(sample_client):
    client = sample_client(fault_rate=1.0, fault_kinds=("retry_later",), fault_max_consecutive=1)
    flinks(client, "Authorize", {"LoginId": SAMPLE_LOGIN})  # faulted
    request_id = authorize(client)  # the cap lets the second one through

    faulted = detail(client, request_id)
    answered = detail(client, request_id)

    assert_flinks_error(faulted, 503, "RETRY_LATER")
    assert answered.status_code == 200
    assert stats(client)["requests"] == {"Authorize": 2, "GetAccountsDetail": 2}


def test_missing_or_wrong_api_key_is_401_unauthorized(sample_client):
    client = sample_client(api_key="s3cret")

    missing = flinks(client, "Authorize", {"LoginId": SAMPLE_LOGIN})
    wrong = flinks(client, "Authorize", {"LoginId": SAMPLE_LOGIN}, headers={"x-api-key": "nope"})

    assert_flinks_error(missing, 401, "UNAUTHORIZED", "x-api-key")
    assert_flinks_error(wrong, 401, "UNAUTHORIZED", "x-api-key")


def test_the_right_api_key_is_accepted_on_every_flinks_endpoint(sample_client):
    client = sample_client(api_key="s3cret")
    headers = {"x-api-key": "s3cret"}

    request_id = authorize(client, headers=headers)
    response = flinks(client, "GetAccountsDetail", {"RequestId": request_id}, headers=headers)
    refused = flinks(client, "GetAccountsDetail", {"RequestId": request_id})
    summary = flinks(client, "GetAccountsSummary", {"RequestId": request_id}, headers=headers)

    assert response.status_code == summary.status_code == 200
    assert_flinks_error(refused, 401, "UNAUTHORIZED")


def test_health_and_stats_stay_open_when_an_api_key_is_set(sample_client):
    client = sample_client(api_key="s3cret")

    assert client.get("/health").status_code == 200
    assert client.get("/_mock/stats").status_code == 200
    assert client.post("/_mock/reset").status_code == 200


def test_a_request_id_expires_after_session_ttl(sample_client):
    client = sample_client(session_ttl_s=0.2)
    request_id = authorize(client)
    assert detail(client, request_id).status_code == 200

    time.sleep(0.3)

    assert_flinks_error(detail(client, request_id), 400, "SESSION_NONEXISTENT", request_id)
    assert_flinks_error(
        client.get(f"{API}/GetAccountsDetailAsync/{request_id}"), 400, "SESSION_NONEXISTENT"
    )


# -- health, stats, reset, unknown routes ----------------------------------------------------


def test_health_reports_the_loaded_logins_and_transactions(client):
    rows = sum(len(_read_csv(path)) for path in sorted((SAMPLE_DATA / "statements").glob("*.csv")))

    response = client.get("/health")

    assert response.status_code == 200
    assert response.json == {
        "status": "ok",
        "logins": len({a["login_id"] for a in SAMPLE_APPLICATIONS}),
        "transactions": rows,
    }


def test_stats_count_requests_per_endpoint_responses_by_status_and_transactions(client):
    request_id = authorize(client)
    flinks(client, "Authorize", {"LoginId": UNKNOWN_LOGIN})
    served = detail(client, request_id, DaysOfTransactions="Days365")
    flinks(client, "GetAccountsSummary", {"RequestId": request_id})
    client.get("/health")
    client.get("/no-such-route")

    counters = stats(client)

    assert counters["requests"] == {"Authorize": 2, "GetAccountsDetail": 1, "GetAccountsSummary": 1}
    assert counters["responses"] == {"200": 3, "401": 1}
    assert counters["faults"] == dict.fromkeys(FAULT_KINDS, 0)
    assert counters["pending_answers"] == 0
    assert counters["distinct_logins_served"] == 1
    assert counters["transactions_served"] == len(transactions(served.json["Accounts"])) > 0
    assert counters["decisions"] == 0


def test_stats_count_client_errors_like_any_answer(client):
    flinks(client, "Authorize", b"{")
    detail(client, "unknown-request")

    counters = stats(client)

    assert counters["requests"] == {"Authorize": 1, "GetAccountsDetail": 1}
    assert counters["responses"] == {"400": 2}
    assert counters["transactions_served"] == 0


def test_reset_zeroes_counters_and_restarts_fault_sequences(sample_client):
    client = sample_client(fault_rate=1.0, fault_kinds=("500",), fault_max_consecutive=2)
    assert _authorize_statuses(client, 3) == [500, 500, 200]

    response = client.post("/_mock/reset")

    assert response.status_code == 200
    assert response.json == {"status": "reset"}
    counters = stats(client)
    assert counters["requests"] == {}
    assert counters["responses"] == {}
    assert counters["faults"] == dict.fromkeys(FAULT_KINDS, 0)
    assert counters["transactions_served"] == 0
    assert _authorize_statuses(client, 3) == [500, 500, 200]


def test_sessions_survive_a_reset(client):
    request_id = authorize(client)

    client.post("/_mock/reset")

    assert detail(client, request_id).status_code == 200
    assert stats(client)["requests"] == {"GetAccountsDetail": 1}


def test_an_unknown_path_answers_json_404(client):
    response = client.get("/v3/customer-1/BankingServices/NoSuchEndpoint")

    assert_flinks_error(response, 404, "NOT_FOUND")


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("GET", f"{API}/Authorize", "POST"),
        ("POST", f"{API}/GetAccountsDetailAsync/some-id", "GET"),
        ("POST", "/health", "GET"),
    ],
)
def test_a_wrong_method_answers_json_405_with_allow(client, method, path, allowed):
    response = client.open(path, method=method)

    assert_flinks_error(response, 405, "METHOD_NOT_ALLOWED")
    assert allowed in response.headers["Allow"]


def test_errors_on_taktile_paths_answer_in_taktiles_shape(client):
    wrong_method = client.get(DECIDE)
    unknown = client.post(DECIDE.replace("/decide", "/nothing-here"))

    assert_taktile_error(wrong_method, 405, "method")
    assert "POST" in wrong_method.headers["Allow"]
    assert_taktile_error(unknown, 404, "not found")


# -- Taktile decide ---------------------------------------------------------------------------


def _without_timestamp(body: dict[str, Any]) -> dict[str, Any]:
    return {**body, "metadata": {k: v for k, v in body["metadata"].items() if k != "timestamp"}}


@pytest.mark.parametrize("path", [DECIDE, SANDBOX_DECIDE], ids=["production", "sandbox"])
def test_decide_answers_what_the_in_process_flow_decides(client, path):
    response = decide(client, decide_body("APP-1"), path=path)

    assert response.status_code == 200
    expected = decision_flow.decide(FEATURES, entity_id="APP-1", version="v1.0")
    assert _without_timestamp(response.json) == _without_timestamp(expected)
    assert set(response.json["data"]) == {
        "score", "outcome", "credit_limit", "reasons", "flow_version",
    }  # fmt: skip
    assert datetime.fromisoformat(response.json["metadata"]["timestamp"]).tzinfo is not None


def test_decide_without_version_answers_the_flow_version(client):
    response = decide(client, {"data": FEATURES, "metadata": {"entity_id": "APP-1"}})

    assert response.status_code == 200
    assert response.json["metadata"]["version"] == decision_flow.FLOW_VERSION


def test_a_repeated_decision_has_the_same_id_and_is_counted_as_a_repeat(client):
    first = decide(client, decide_body("APP-1"))
    repeat = decide(client, decide_body("APP-1"), path=SANDBOX_DECIDE)
    other = decide(client, decide_body("APP-2"))

    assert first.status_code == repeat.status_code == other.status_code == 200
    assert repeat.json["metadata"]["decision_id"] == first.json["metadata"]["decision_id"]
    assert other.json["metadata"]["decision_id"] != first.json["metadata"]["decision_id"]
    counters = stats(client)
    assert counters["requests"] == {"decide": 3}
    assert counters["responses"] == {"200": 3}
    assert counters["decisions"] == 3
    assert counters["distinct_entities_decided"] == 2
    assert counters["decision_repeats"] == 1


def test_a_different_payload_for_the_same_entity_is_a_different_decision(client):
    first = decide(client, decide_body("APP-1"))
    changed = decide(client, decide_body("APP-1", {**FEATURES, "nsf_count_90d": 3}))

    assert first.json["metadata"]["decision_id"] != changed.json["metadata"]["decision_id"]
    assert stats(client)["distinct_entities_decided"] == 1


@pytest.mark.parametrize(
    ("value", "detail_part"),
    [
        (None, "missing required feature(s): history_days"),
        (float("nan"), "missing required feature(s): history_days"),  # orjson sends NaN as null
        ("400", "'history_days' must be a finite number"),
        ("abc", "'history_days' must be a finite number"),
        (True, "'history_days' must be a finite number"),
        ([400], "'history_days' must be a finite number"),
    ],
    ids=["null", "nan", "numeric-string", "text", "bool", "list"],
)
def test_an_unscorable_required_feature_is_422_naming_it(client, value, detail_part):
    response = decide(client, decide_body("APP-1", {**FEATURES, "history_days": value}))

    assert_taktile_error(response, 422, detail_part)
    assert stats(client)["decisions"] == 0


def test_a_missing_required_feature_is_422_naming_it(client):
    features = {k: v for k, v in FEATURES.items() if k != "nsf_count_90d"}

    response = decide(client, decide_body("APP-1", features))

    assert_taktile_error(response, 422, "missing required feature(s): nsf_count_90d")


def test_a_literal_nan_in_the_body_is_a_422_not_a_500(client):
    body = orjson.dumps(decide_body("APP-1")).replace(b'"history_days":400', b'"history_days":NaN')

    response = decide(client, body)

    assert_taktile_error(response, 422, "not valid JSON")


@pytest.mark.parametrize(
    "body",
    [
        {"data": FEATURES},
        {"data": FEATURES, "metadata": {"version": "v1.0"}},
        {"data": FEATURES, "metadata": {"entity_id": 7}},
        {"data": FEATURES, "metadata": "APP-1"},
    ],
    ids=["no-metadata", "no-entity-id", "numeric-entity-id", "metadata-not-object"],
)
def test_a_body_without_metadata_entity_id_is_422(client, body):
    response = decide(client, body)

    assert_taktile_error(response, 422, "metadata.entity_id")


@pytest.mark.parametrize(
    ("body", "detail_part"),
    [
        (b"{", "not valid JSON"),
        (b"", "not valid JSON"),
        (b"[]", "must be a JSON object"),
        ({"metadata": {"entity_id": "APP-1"}}, "data: field required"),
    ],
    ids=["malformed", "empty", "array", "no-data"],
)
def test_an_unusable_decide_body_is_422(client, body, detail_part):
    response = decide(client, body)

    assert_taktile_error(response, 422, detail_part)


def test_finite_features_that_overflow_the_limit_arithmetic_are_not_a_500(client):
    features = {
        **FEATURES,
        "employer_income_monthly": 1e308,
        "government_income_monthly": 1e308,
        "debt_to_income": 0.6,
    }

    response = decide(client, decide_body("APP-1", features))

    assert_taktile_error(response, 422, "employer_income_monthly")


def test_decide_enforces_the_api_key_when_configured(sample_client):
    client = sample_client(api_key="s3cret")

    missing = decide(client, decide_body())
    wrong = decide(client, decide_body(), headers={"X-Api-Key": "nope"})
    right = decide(client, decide_body(), headers={"X-Api-Key": "s3cret"})

    assert_taktile_error(missing, 401, "x-api-key")
    assert_taktile_error(wrong, 401, "x-api-key")
    assert right.status_code == 200
    assert right.json["metadata"]["entity_id"] == "APP-1"
    assert stats(client)["decisions"] == 1


def _entity_whose_first_call_faults(seed: int, rate: float, kind: str) -> str:
    """The first entity whose first decide call draws ``kind`` and whose second draws nothing."""
    return next(
        entity
        for entity in (f"APP-{n:04d}" for n in range(10_000))
        if fault_draw(seed, "decide", entity, 0, rate, FAULT_KINDS) == kind
        and fault_draw(seed, "decide", entity, 1, rate, FAULT_KINDS) is None
    )


def test_a_too_many_requests_fault_on_decide_is_429_not_401(sample_client):
    entity = _entity_whose_first_call_faults(seed=3, rate=0.5, kind="too_many_requests")
    client = sample_client(fault_rate=0.5, fault_seed=3)

    response = decide(client, decide_body(entity))

    assert_taktile_error(response, 429, "rate limit")
    counters = stats(client)
    assert counters["faults"]["too_many_requests"] == 1
    assert counters["decisions"] == 0


@pytest.mark.parametrize(("kind", "status"), [("500", 500), ("retry_later", 503)])
def test_error_faults_on_decide_answer_the_taktile_error_shape(sample_client, kind, status):
    entity = _entity_whose_first_call_faults(seed=4, rate=0.5, kind=kind)
    client = sample_client(fault_rate=0.5, fault_seed=4)

    response = decide(client, decide_body(entity))
    retried = decide(client, decide_body(entity))

    assert_taktile_error(response, status)
    assert response.json["status"] == status
    assert retried.status_code == 200
    assert retried.json["metadata"]["entity_id"] == entity


# -- terminal faults --------------------------------------------------------------------------


def test_terminal_draw_is_a_pure_function_of_seed_and_key_near_the_rate():
    keys = [f"login-{n}" for n in range(2000)]
    drawn = [terminal_draw(5, key, 0.2) for key in keys]
    assert drawn == [terminal_draw(5, key, 0.2) for key in keys]
    assert drawn != [terminal_draw(6, key, 0.2) for key in keys]
    assert 0.17 < sum(drawn) / len(keys) < 0.23
    assert not any(terminal_draw(5, key, 0.0) for key in keys)
    assert all(terminal_draw(5, key, 1.0) for key in keys)


def test_a_login_drawn_terminal_is_refused_on_every_call_as_disabled(sample_client):
    client = sample_client(terminal_rate=1.0, fault_rate=1.0)
    answers = [flinks(client, "Authorize", {"LoginId": SAMPLE_LOGIN}) for _ in range(4)]
    assert {a.status_code for a in answers} == {401}
    assert {a.get_json()["FlinksCode"] for a in answers} == {"DISABLED_LOGIN"}
    stats = client.get("/_mock/stats").get_json()
    assert stats["terminal_answers"] == 4
    assert stats["terminal_keys"] == {"Authorize": [SAMPLE_LOGIN]}
    # a terminal key draws no transient fault: nothing to recover, nothing to count
    assert sum(stats["faults"].values()) == 0


def test_a_decision_entity_drawn_terminal_is_a_422_every_time(sample_client):
    client = sample_client(terminal_rate=1.0)
    answers = [decide(client, decide_body("APP-T")) for _ in range(3)]
    assert {a.status_code for a in answers} == {422}
    stats = client.get("/_mock/stats").get_json()
    assert stats["terminal_keys"] == {"decide": ["APP-T"]}
    assert stats["decisions"] == 0


def test_faults_are_counted_per_endpoint_and_key(sample_client):
    client = sample_client(fault_rate=1.0, fault_kinds=("500",), fault_max_consecutive=2)
    statuses = [
        flinks(client, "Authorize", {"LoginId": SAMPLE_LOGIN}).status_code for _ in range(3)
    ]
    assert statuses == [500, 500, 200]
    stats = client.get("/_mock/stats").get_json()
    assert stats["faults_by_key"] == {"Authorize": {SAMPLE_LOGIN: 2}}
