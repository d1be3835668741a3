"""The mock's own routes (health, stats, reset) and its JSON answers to unknown routes."""

from __future__ import annotations

import pytest

from credit_scoring_tests.conftest import SAMPLE_DATA
from credit_scoring_tests.mock_server.helpers import (
    API,
    DECIDE,
    SAMPLE_APPLICATIONS,
    UNKNOWN_LOGIN,
    assert_flinks_error,
    assert_taktile_error,
    authorize,
    authorize_statuses,
    detail,
    flinks,
    read_csv,
    stats,
    transactions,
)
from mock_api.behaviour import FAULT_KINDS


def test_health_reports_the_loaded_logins_and_transactions(client):
    rows = sum(len(read_csv(path)) for path in sorted((SAMPLE_DATA / "statements").glob("*.csv")))

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
    assert authorize_statuses(client, 3) == [500, 500, 200]

    response = client.post("/_mock/reset")

    assert response.status_code == 200
    assert response.json == {"status": "reset"}
    counters = stats(client)
    assert counters["requests"] == {}
    assert counters["responses"] == {}
    assert counters["faults"] == dict.fromkeys(FAULT_KINDS, 0)
    assert counters["transactions_served"] == 0
    assert authorize_statuses(client, 3) == [500, 500, 200]


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
