"""A small in-test Flinks double (respx): explicit payloads per login, counted calls.

Unit tests use it to drive the assets through `materialize()` without a server; integration
tests use the real mock server instead.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import orjson
import respx

BASE_URL = "https://flinks.fake"
CUSTOMER = "fake"
API = f"{BASE_URL}/v3/{CUSTOMER}/BankingServices"


def transaction(tid: str, date: str, *, debit=None, credit=None, balance=0.0, desc="ITEM"):
    return {
        "Id": tid,
        "Date": date,
        "Code": None,
        "Description": desc,
        "Debit": debit,
        "Credit": credit,
        "Balance": balance,
    }


def account_payload(login: str, transactions: list[dict], pulled: str) -> dict:
    return {
        "HttpStatusCode": 200,
        "Login": {"Id": login, "LastRefresh": pulled},
        "Institution": "FakeBank",
        "Accounts": [
            {
                "Id": f"acc-{login}",
                "Title": "Chequing",
                "AccountNumber": "000111222333",
                "Category": "Operations",
                "Type": "Chequing",
                "Currency": "CAD",
                "Balance": {"Current": 0.0, "Available": 0.0, "Limit": None},
                "Holder": {"Name": "Test Holder", "Email": "holder@fake.test"},
                "Transactions": transactions,
            }
        ],
    }


def simple_history(login: str, pulled: str, n: int = 3) -> dict:
    """``n`` daily credits of 10.00 ending the day before ``pulled``, newest first."""
    import pandas as pd

    end = pd.Timestamp(pulled).normalize() - pd.Timedelta(days=1)
    days = [(end - pd.Timedelta(days=i)).date().isoformat() for i in range(n)]
    txs = [
        transaction(f"{login}-t{i}", day, credit=10.0, balance=10.0 * (n - i))
        for i, day in enumerate(days)
    ]
    return account_payload(login, txs, pulled)


@dataclass
class FakeFlinks:
    """Serves ``payloads[login]``; logins in ``failing`` always answer 503 RETRY_LATER."""

    payloads: dict[str, dict]
    failing: set[str] = field(default_factory=set)
    calls: Counter = field(default_factory=Counter)
    _ids: Iterable[int] = field(default_factory=itertools.count)
    _sessions: dict[str, str] = field(default_factory=dict)

    def install(self, router: respx.MockRouter) -> None:
        router.post(f"{API}/Authorize").mock(side_effect=self._authorize)
        router.post(f"{API}/GetAccountsDetail").mock(side_effect=self._detail)

    def _authorize(self, request: httpx.Request) -> httpx.Response:
        self.calls["Authorize"] += 1
        login = orjson.loads(request.content)["LoginId"]
        if login in self.failing:
            return httpx.Response(503, json={"HttpStatusCode": 503, "FlinksCode": "RETRY_LATER"})
        if login not in self.payloads:
            return httpx.Response(
                401,
                json={
                    "HttpStatusCode": 401,
                    "FlinksCode": "INVALID_LOGIN",
                    "Message": "unknown login",
                },
            )
        request_id = f"req-{next(self._ids)}"
        self._sessions[request_id] = login
        return httpx.Response(
            200, json={"HttpStatusCode": 200, "RequestId": request_id, "Login": {"Id": login}}
        )

    def _detail(self, request: httpx.Request) -> httpx.Response:
        self.calls["GetAccountsDetail"] += 1
        login = self._sessions[orjson.loads(request.content)["RequestId"]]
        return httpx.Response(200, content=orjson.dumps(self.payloads[login]))

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())


def write_applications(path: Path, rows: list[tuple[str, str, str, float]]) -> Path:
    lines = ["application_id,login_id,applied_at,requested_amount"]
    lines += [f"{a},{login},{at},{amount}" for a, login, at, amount in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
