"""A small in-test Flinks double (respx): explicit payloads per login, counted calls.

Unit tests use it to drive the assets through `materialize()` without a server; integration
tests use the real mock server instead. The payloads come from :mod:`builders.flinks`.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

import httpx
import orjson
import respx

BASE_URL = "https://flinks.fake"
CUSTOMER = "fake"
API = f"{BASE_URL}/v3/{CUSTOMER}/BankingServices"


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
