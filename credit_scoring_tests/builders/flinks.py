"""Flinks JSON as the API sends it: transactions, accounts, GetAccountsDetail answers, and the
bronze rows that carry them to silver.

Every builder takes ``drop`` (fields to leave out) and keyword overrides, so a test states only
what is special about its data.
"""

from __future__ import annotations

from typing import Any

import orjson
import pandas as pd

DAY = "2026-10-05"
PULLED = f"{DAY}T12:00:00"


def _without(body: dict[str, Any], drop: tuple[str, ...]) -> dict[str, Any]:
    return {key: value for key, value in body.items() if key not in drop}


def transaction(
    tid: Any,
    description: Any = "ITEM",
    *,
    date: Any = "2026-10-01",
    debit: Any = None,
    credit: Any = 10.0,
    balance: Any = 1000.0,
    drop: tuple[str, ...] = (),
    **extra: Any,
) -> dict[str, Any]:
    """A Flinks transaction (one of Debit/Credit set; Balance after it)."""
    body = {
        "Id": tid,
        "Date": date,
        "Code": None,
        "Description": description,
        "Debit": debit,
        "Credit": credit,
        "Balance": balance,
        **extra,
    }
    return _without(body, drop)


def account(
    account_id: str,
    transactions: Any,
    *,
    holder: dict[str, Any] | None = None,
    drop: tuple[str, ...] = (),
    **extra: Any,
) -> dict[str, Any]:
    """A chequing (Operations) account holding ``transactions``."""
    body = {
        "Id": account_id,
        "Title": "Chequing",
        "AccountNumber": f"0042-{account_id}",
        "Balance": {"Available": 1000.0, "Current": 1000.0, "Limit": None},
        "Category": "Operations",
        "Type": "Chequing",
        "Currency": "CAD",
        "Holder": holder or {"Name": "Test Holder", "Email": "holder@example.com"},
        "Transactions": transactions,
        **extra,
    }
    return _without(body, drop)


def response(
    login_id: str,
    accounts: Any,
    *,
    pulled: str = PULLED,
    institution: str = "Test Bank",
    drop: tuple[str, ...] = (),
) -> dict[str, Any]:
    """A GetAccountsDetail answer for ``login_id``."""
    body = {
        "HttpStatusCode": 200,
        "Login": {"Id": login_id, "LastRefresh": pulled},
        "Institution": institution,
        "Accounts": accounts,
        "RequestId": f"request-{login_id}",
    }
    return _without(body, drop)


def simple_history(login: str, pulled: str, n: int = 3) -> dict[str, Any]:
    """``n`` daily credits of 10.00 ending the day before ``pulled``, newest first."""
    end = pd.Timestamp(pulled).normalize() - pd.Timedelta(days=1)
    days = [(end - pd.Timedelta(days=i)).date().isoformat() for i in range(n)]
    transactions = [
        transaction(f"{login}-t{i}", date=day, credit=10.0, balance=10.0 * (n - i))
        for i, day in enumerate(days)
    ]
    return response(login, [account(f"acc-{login}", transactions)], pulled=pulled)


def bronze_row(
    application_id: str,
    payload: dict[str, Any] | bytes | str,
    *,
    day: str = DAY,
    fetched_at: str = f"{DAY}T14:00:05Z",
) -> dict[str, Any]:
    """A successful bronze row carrying ``payload`` (JSON-encoded unless already text)."""
    if isinstance(payload, dict):
        payload = orjson.dumps(payload)
    text = payload.decode() if isinstance(payload, bytes) else payload
    return {
        "response_id": f"r-{application_id}",
        "application_id": application_id,
        "login_id": f"login-{application_id}",
        "partition_date": day,
        "request_id": f"req-{application_id}",
        "fetched_at": pd.Timestamp(fetched_at),
        "ok": True,
        "payload": text,
    }
