"""Taktile: the HTTP contract (respx), error mapping, retries, and the engine each decision
records."""

from __future__ import annotations

import asyncio
import logging

import httpx
import orjson
import pytest
import respx

from credit_scoring.core.retrying import RetryPolicy
from credit_scoring.decisioning.decision_contract import MOCK_ENGINE_HEADER
from credit_scoring.decisioning.taktile_client import DecisionRequest, TaktileClient, engine_host
from credit_scoring.decisioning.taktile_resource import TaktileResource
from credit_scoring_tests.builders.features import GOOD_FEATURES as GOOD
from mock_api import decision_flow

BASE = "https://taktile.test"
URL = f"{BASE}/run/api/v1/flows/credit-decision/decide"
FAST = RetryPolicy(max_attempts=3, wait_initial=0.001, wait_max=0.001, wait_jitter=0.0)
RESPONSE = {
    "data": {
        "score": 712,
        "outcome": "APPROVE",
        "credit_limit": 9000.0,
        "reasons": [],
        "flow_version": "v7",
    },
    "metadata": {
        "decision_id": "dec-1",
        "entity_id": "APP-1",
        "version": "v1.0",
        "timestamp": "2026-10-05T10:00:00Z",
    },
}


def decide(api_key: str | None = "secret-key", sandbox: bool = False, features=None):
    async def run():
        async with TaktileClient(
            BASE, "credit-decision", api_key=api_key, sandbox=sandbox, retry=FAST
        ) as client:
            return await client.decide(DecisionRequest("APP-1", features or GOOD))

    return asyncio.run(run())


@respx.mock
def test_decide_posts_the_contract_body_to_the_flow_url_with_the_key():
    route = respx.post(URL).respond(json=RESPONSE)

    decision = decide()

    request = route.calls[0].request
    assert str(request.url) == URL
    assert request.headers["X-Api-Key"] == "secret-key"
    assert orjson.loads(request.content) == {
        "data": GOOD,
        "metadata": {"version": "v1.0", "entity_id": "APP-1"},
        "control": {"execution_mode": "sync"},
    }
    assert (decision.decision_id, decision.score, decision.outcome) == ("dec-1", 712.0, "APPROVE")
    assert decision.flow_version == "v7"


@respx.mock
def test_sandbox_path_and_no_key_header_when_unset():
    route = respx.post(f"{BASE}/run/api/v1/flows/credit-decision/sandbox/decide").respond(
        json=RESPONSE
    )
    assert decide(api_key=None, sandbox=True).ok
    assert "X-Api-Key" not in route.calls[0].request.headers


@pytest.mark.parametrize("status", [429, 500, 502, 503])
@respx.mock
def test_transient_statuses_are_retried_then_succeed(status):
    route = respx.post(URL).mock(
        side_effect=[
            httpx.Response(status, json={"detail": "busy"}),
            httpx.Response(200, json=RESPONSE),
        ]
    )
    decision = decide()
    assert decision.ok
    assert route.call_count == 2
    assert decision.http_calls == 2


@respx.mock
def test_timeouts_exhaust_the_bounded_attempts():
    route = respx.post(URL).mock(side_effect=httpx.ReadTimeout("slow"))
    decision = decide()
    assert decision.error_code == "TIMEOUT"
    assert route.call_count == FAST.max_attempts


@pytest.mark.parametrize(
    ("status", "detail"),
    [(422, "data.history_days: field required"), (401, "Invalid API key"), (404, "Flow not found")],
)
@respx.mock
def test_client_errors_are_terminal_with_the_servers_detail(status, detail):
    route = respx.post(URL).respond(status, json={"detail": detail})
    decision = decide()
    assert route.call_count == 1
    assert decision.error_code == f"HTTP_{status}"
    assert decision.error_message == detail


@respx.mock
def test_the_api_key_never_reaches_the_logs(caplog):
    respx.post(URL).respond(401, json={"detail": "Invalid API key"})
    with caplog.at_level(logging.DEBUG):
        decision = decide(api_key="canary-7f3a")
    assert "canary-7f3a" not in caplog.text
    assert "canary-7f3a" not in repr(decision)


@respx.mock
def test_a_response_without_outputs_is_an_error_not_a_crash():
    respx.post(URL).respond(json={"data": {}, "metadata": {"decision_id": "x"}})
    assert decide().error_code == "MALFORMED_RESPONSE"


def test_http_resource_decides_many_in_order():
    with respx.mock:
        respx.post(URL).mock(
            side_effect=lambda request: httpx.Response(
                200,
                json=decision_flow.decide(
                    orjson.loads(request.content)["data"],
                    entity_id=orjson.loads(request.content)["metadata"]["entity_id"],
                ),
            )
        )
        resource = TaktileResource(base_url=BASE, retry_wait_initial_seconds=0.001)
        decisions = resource.decide_many([DecisionRequest(f"APP-{i}", GOOD) for i in range(5)])
    assert [d.entity_id for d in decisions] == [f"APP-{i}" for i in range(5)]
    assert all(d.ok for d in decisions)


@respx.mock
def test_a_decision_records_the_engine_host_or_mock_when_the_server_says_it_is_one():
    respx.post(URL).mock(
        side_effect=[
            httpx.Response(200, json=RESPONSE),
            httpx.Response(200, json=RESPONSE, headers={MOCK_ENGINE_HEADER: "mock_api"}),
        ]
    )

    real, mock = decide(), decide()

    assert real.engine == "taktile.test"
    assert mock.engine == "mock"


def test_the_engine_host_names_a_port_only_when_it_is_not_the_default():
    assert engine_host("https://acme.decide.taktile.com") == "acme.decide.taktile.com"
    assert engine_host("https://acme.decide.taktile.com:443/") == "acme.decide.taktile.com"
    assert engine_host("http://127.0.0.1:8765") == "127.0.0.1:8765"


@respx.mock
def test_a_redirect_to_another_host_is_refused_and_the_key_never_leaves_the_configured_host():
    flow = respx.post(URL).respond(
        308, headers={"Location": "https://collector.elsewhere.test/decide"}
    )
    elsewhere = respx.route(host="collector.elsewhere.test").respond(json=RESPONSE)

    decision = decide(api_key="canary-7f3a")

    assert elsewhere.call_count == 0
    assert flow.call_count == 1
    assert decision.error_code == "REDIRECT_REFUSED"
    assert "https://collector.elsewhere.test:443" in decision.error_message
    assert "TAKTILE_BASE_URL" in decision.error_message


@pytest.mark.parametrize(
    "answer",
    [
        lambda key: httpx.Response(401, json={"detail": f"API key {key} is not valid"}),
        lambda key: httpx.Response(502, content=f"<pre>X-Api-Key: {key}</pre>".encode()),
        lambda key: httpx.Response(200, content=f"not json, key {key}".encode()),
    ],
    ids=["json-detail", "error-page", "malformed"],
)
@respx.mock
def test_a_server_echoing_the_key_does_not_put_the_key_in_the_decision(answer):
    respx.post(URL).mock(side_effect=lambda request: answer(request.headers["X-Api-Key"]))

    decision = decide(api_key="canary-7f3a")

    assert not decision.ok
    assert "canary-7f3a" not in decision.error_message
    assert "canary-7f3a" not in repr(decision)


@pytest.mark.parametrize("bad_key", ["canary\n7f3a", "canary-7f3a\r\nX-Injected: 1", "canäry-7f3a"])
def test_a_key_no_header_can_carry_is_refused_without_echoing_it(bad_key):
    with pytest.raises(ValueError, match="TAKTILE_API_KEY") as refused:
        TaktileClient(BASE, "credit-decision", api_key=bad_key)

    assert "7f3a" not in str(refused.value)


def test_the_http_resource_never_shows_its_key():
    resource = TaktileResource(base_url=BASE, api_key="canary-7f3a")

    assert "canary-7f3a" not in repr(resource)
    assert "canary-7f3a" not in str(resource)
    assert resource.api_key == "canary-7f3a"
