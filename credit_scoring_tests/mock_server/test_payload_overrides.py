"""Payload files: a login's GetAccountsDetail answered byte for byte from ``payloads/<id>.json``.

They let a test serve what the statement export cannot express (missing or mistyped fields,
``"Accounts": null``, a truncated body), over the real HTTP contract, while every other login
keeps being served from the CSVs. Also here: how the store serves CSV rows whose field count
does not match the header.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import orjson
import pytest
from flask.testing import FlaskClient

from credit_scoring_tests.builders.statements import (
    cells,
    statement_row,
    write_payload,
    write_statements,
)
from mock_api.app import create_app
from mock_api.behaviour import MockConfig
from mock_api.store import NoStatementsError, load_store, payload_transaction_count

API = "/v3/customer-1/BankingServices"
CSV_LOGIN = "login-csv"
PAYLOAD_LOGIN = "login-payload"


def export_row(**values: str) -> dict[str, str]:
    """A coffee bought by the CSV login; ``values`` overrides columns by name."""
    coffee = statement_row(
        CSV_LOGIN, "COFFEE", date="2026-10-04", withdrawals="4.50", balance="100.00"
    )
    return {**coffee, **values}


def write_export(data_dir: Path, rows: list[dict[str, str]]) -> None:
    write_statements(data_dir, rows, file_name="export")


def flinks_body(*transactions: dict[str, Any]) -> bytes:
    return orjson.dumps(
        {
            "HttpStatusCode": 200,
            "Login": {"Id": PAYLOAD_LOGIN, "LastRefresh": "2026-10-05T12:00:00"},
            "Accounts": [{"Id": "acc-1", "Transactions": list(transactions)}],
        }
    )


def post(client: FlaskClient, endpoint: str, body: dict[str, Any]):
    return client.post(
        f"{API}/{endpoint}", data=orjson.dumps(body), content_type="application/json"
    )


def detail(client: FlaskClient, login_id: str):
    authorized = post(client, "Authorize", {"LoginId": login_id, "MostRecentCached": True})
    assert authorized.status_code == 200, authorized.get_data(as_text=True)
    request_id = authorized.json["RequestId"]
    return request_id, post(
        client,
        "GetAccountsDetail",
        {"RequestId": request_id, "WithTransactions": True, "DaysOfTransactions": "Days365"},
    )


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    write_export(tmp_path, [export_row()])
    return tmp_path


def test_a_payload_file_is_answered_byte_for_byte_with_status_200(data_dir):
    body = write_payload(
        data_dir,
        PAYLOAD_LOGIN,
        b'{"Accounts": [{"Id": "a", "Transactions": [{"Id": "t1", "Debit": "12,50"}]}]}  \n',
    )
    client = create_app(data_dir).test_client()

    _, response = detail(client, PAYLOAD_LOGIN)

    assert response.status_code == 200
    assert response.content_type == "application/json"
    assert response.get_data() == body


def test_a_login_known_only_by_its_payload_authorizes(data_dir):
    write_payload(data_dir, PAYLOAD_LOGIN, flinks_body())
    client = create_app(data_dir).test_client()

    response = post(client, "Authorize", {"LoginId": PAYLOAD_LOGIN, "MostRecentCached": True})

    assert response.status_code == 200
    assert response.json["Login"]["Id"] == PAYLOAD_LOGIN
    assert client.get("/health").json["logins"] == 2


def test_a_payload_file_replaces_the_csv_answer_of_its_login_only(data_dir):
    write_payload(data_dir, CSV_LOGIN, b'{"Accounts": null}')
    write_export(data_dir, [export_row(), export_row(**{"Login ID": "login-other"})])
    client = create_app(data_dir).test_client()

    _, replaced = detail(client, CSV_LOGIN)
    _, untouched = detail(client, "login-other")

    assert replaced.get_data() == b'{"Accounts": null}'
    assert [t["Description"] for t in untouched.json["Accounts"][0]["Transactions"]] == ["COFFEE"]


def test_a_truncated_payload_is_served_truncated(data_dir):
    body = write_payload(data_dir, PAYLOAD_LOGIN, flinks_body({"Id": "t1"})[:-7])
    client = create_app(data_dir).test_client()

    _, response = detail(client, PAYLOAD_LOGIN)

    assert response.status_code == 200
    assert response.get_data() == body
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(response.get_data())


def test_pending_polls_still_apply_and_the_async_answer_is_the_payload(data_dir):
    body = write_payload(data_dir, PAYLOAD_LOGIN, flinks_body({"Id": "t1"}))
    client = create_app(data_dir, MockConfig(pending_polls=1)).test_client()

    request_id, first = detail(client, PAYLOAD_LOGIN)
    polled = client.get(f"{API}/GetAccountsDetailAsync/{request_id}")

    assert first.status_code == 202
    assert polled.status_code == 200
    assert polled.get_data() == body


def test_transactions_served_counts_the_payloads_transaction_elements(data_dir):
    write_payload(data_dir, PAYLOAD_LOGIN, flinks_body({"Id": "t1"}, {"Id": "t1"}, {}))
    write_payload(data_dir, "login-truncated", b'{"Accounts": [{"Transactions": [{"Id"')
    client = create_app(data_dir).test_client()

    detail(client, PAYLOAD_LOGIN)
    detail(client, "login-truncated")

    assert client.get("/_mock/stats").json["transactions_served"] == 3


@pytest.mark.parametrize(
    ("body", "count"),
    [
        (b'{"Accounts": [{"Transactions": [1, 2]}, {"Transactions": [{}]}]}', 3),
        (b'{"Accounts": [{"Transactions": {"Id": "t1"}}, {"Transactions": null}, 42]}', 0),
        (b'{"Accounts": null}', 0),
        (b'{"Accounts": []}', 0),
        (b"[]", 0),
        (b'{"Accounts": [{"Transactions": [', 0),
        (b"", 0),
    ],
)
def test_payload_transaction_count_counts_only_what_follows_the_contract(body, count):
    assert payload_transaction_count(body) == count


def test_a_data_directory_of_payloads_only_can_be_served(tmp_path):
    write_payload(tmp_path, PAYLOAD_LOGIN, flinks_body())
    store = load_store(tmp_path)
    assert store.login(PAYLOAD_LOGIN) is not None
    assert store.transaction_count == 0


def test_a_data_directory_with_neither_statements_nor_payloads_is_refused(tmp_path):
    with pytest.raises(NoStatementsError, match="statements"):
        load_store(tmp_path)


# -- CSV rows whose field count does not match the header ------------------------------------


def write_lines(data_dir: Path, *lines: list[str]) -> None:
    """An export whose lines may hold more or fewer fields than the header."""
    write_statements(data_dir, list(lines), file_name="export")


def test_a_row_with_more_fields_than_the_header_is_served_with_an_unparseable_balance(
    tmp_path, caplog
):
    row = export_row(Description="ACME")
    values = cells(row)
    write_lines(tmp_path, values, [*values[:-1], "99.00", "EXTRA"])
    client = create_app(tmp_path).test_client()

    with caplog.at_level(logging.WARNING, logger="mock_api.store"):
        served = load_store(tmp_path)
    _, response = detail(client, CSV_LOGIN)

    balances = sorted(str(t["Balance"]) for t in response.json["Accounts"][0]["Transactions"])
    assert balances == ["100.0", "99.00,EXTRA"]
    assert served.transaction_count == 2
    assert "more fields than the header" in caplog.text


def test_a_row_cut_short_is_served_with_its_missing_values_empty(tmp_path):
    row = export_row(Description="CUT")
    values = cells(row)
    write_lines(tmp_path, values[:-1])
    client = create_app(tmp_path).test_client()

    _, response = detail(client, CSV_LOGIN)

    (transaction,) = response.json["Accounts"][0]["Transactions"]
    assert transaction["Debit"] == 4.5
    assert transaction["Balance"] is None
