"""Bad data is served as the bank sent it: catching it is the pipeline's job, not the mock's."""

from __future__ import annotations

import re

from flask.testing import FlaskClient

from credit_scoring_tests.mock_server.helpers import (
    MALFORMED,
    accounts_of,
    transactions,
)


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
