"""The mock's behaviour switches: pending polls, latency, deterministic faults, the API key,
session expiry."""

from __future__ import annotations

import time

import orjson
import pytest

from credit_scoring_tests.mock_server.helpers import (
    API,
    SAMPLE_LOGIN,
    assert_flinks_error,
    authorize,
    authorize_statuses,
    decide,
    decide_body,
    detail,
    expected_faults,
    flinks,
    stats,
    timed,
    transactions,
)
from mock_api.behaviour import FAULT_KINDS, fault_draw


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

    first = authorize_statuses(sample_client(**switches), 12)
    second = authorize_statuses(sample_client(**switches), 12)
    other_seed = authorize_statuses(sample_client(**{**switches, "fault_seed": 12}), 12)

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

    assert authorize_statuses(client, 6) == statuses


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
