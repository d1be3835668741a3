"""Stable transaction ids: the export has none, the mock derives the same id from the same row."""

from __future__ import annotations

import uuid

from credit_scoring_tests.builders.statements import statement_row, write_statements
from credit_scoring_tests.conftest import SAMPLE_DATA
from credit_scoring_tests.mock_server.helpers import (
    SAMPLE_APPLICATIONS,
    accounts_of,
    transactions,
)
from mock_api.app import create_app
from mock_api.store import transaction_id


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
    coffee = statement_row(
        "login-1", "COFFEE", date="2026-10-04", withdrawals="4.50", balance="100.00"
    )
    pay = statement_row("login-1", "PAY", date="2026-10-03", deposits="104.50", balance="104.50")
    data_dir = write_statements(tmp_path / "data", [coffee, dict(coffee), pay])
    client = create_app(data_dir).test_client()

    served = transactions(accounts_of(client, "login-1", DaysOfTransactions="Days365"))

    assert [t["Description"] for t in served] == ["COFFEE", "COFFEE", "PAY"]
    first, second = served[0]["Id"], served[1]["Id"]
    assert first != second
    values = ("login-1", "0042-login-1", "2026-10-04", "COFFEE", "4.50", "", "100.00")
    assert first == transaction_id(*values, occurrence=0)
    assert second == transaction_id(*values, occurrence=1)
    reloaded = transactions(
        accounts_of(create_app(data_dir).test_client(), "login-1", DaysOfTransactions="Days365")
    )
    assert [t["Id"] for t in reloaded] == [t["Id"] for t in served]
