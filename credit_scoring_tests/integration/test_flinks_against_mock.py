"""The Flinks client against the real mock server over HTTP: the calls it makes are counted."""

from __future__ import annotations

import pandas as pd
import pytest

from credit_scoring.ingestion.applications_source import (
    read_applications_csv,
    validate_applications,
)
from credit_scoring.ingestion.flinks_resource import FlinksResource
from credit_scoring_tests.builders.generated import generated_data
from credit_scoring_tests.conftest import SAMPLE_DATA

pytestmark = pytest.mark.integration

API_ENDPOINTS = ("Authorize", "GetAccountsDetail", "GetAccountsDetailAsync", "GetAccountsSummary")


def sample_logins() -> list[str]:
    valid, _ = validate_applications(read_applications_csv(SAMPLE_DATA / "applications.csv"))
    return list(valid["login_id"])


def resource(base_url: str, **overrides) -> FlinksResource:
    config = {
        "base_url": base_url,
        "customer_id": "itest",
        "concurrency": 8,
        "retry_wait_initial_seconds": 0.01,
        "retry_wait_max_seconds": 0.05,
        "poll_interval_seconds": 0.01,
        "timeout_seconds": 5.0,
    }
    return FlinksResource(**{**config, **overrides})


def api_calls(stats: dict) -> int:
    return sum(stats["requests"].get(name, 0) for name in API_ENDPOINTS)


def transactions_in(results) -> int:
    return sum(
        len(account.get("Transactions") or [])
        for result in results
        for account in result.parsed()["Accounts"]
    )


def test_every_sample_application_is_fetched_with_two_calls_each(mock_server):
    logins = sample_logins()

    results = resource(mock_server.base_url).fetch_many(logins)

    assert [r.login_id for r in results] == logins
    assert all(r.ok for r in results), [(r.login_id, r.error_code) for r in results if not r.ok]
    stats = mock_server.stats()
    assert stats["requests"]["Authorize"] == len(logins)
    assert stats["requests"]["GetAccountsDetail"] == len(logins)
    assert api_calls(stats) == sum(r.http_calls for r in results) == 2 * len(logins)
    assert stats["transactions_served"] == transactions_in(results) > 0


def test_year_of_history_is_requested_by_default_and_windows_follow_the_pull_date(
    mock_server_factory, tmp_path
):
    # the committed sample keeps ~100 days per applicant; this needs more than 90
    generated_data(tmp_path, applications=3, seed=11)
    server = mock_server_factory(tmp_path)
    logins = list(pd.read_csv(tmp_path / "applications.csv")["login_id"])
    year = resource(server.base_url).fetch_many(logins)
    quarter = resource(server.base_url, days_of_transactions="Days90").fetch_many(logins)

    def dates(result) -> pd.Series:
        # the sample holds a few malformed dates on purpose (served raw; silver rejects them)
        raw = [t["Date"] for a in result.parsed()["Accounts"] for t in a["Transactions"]]
        return pd.to_datetime(pd.Series(raw), format="%Y-%m-%d", errors="coerce").dropna()

    for long, short in zip(year, quarter, strict=True):
        long_dates, short_dates = dates(long), dates(short)
        assert len(short_dates) < len(long_dates)
        assert (short_dates.max() - short_dates.min()).days <= 90


def test_pending_polls_are_followed_to_completion(mock_server_factory):
    server = mock_server_factory(SAMPLE_DATA, "--pending-polls", "2")
    logins = sample_logins()

    results = resource(server.base_url).fetch_many(logins)

    assert all(r.ok for r in results)
    stats = server.stats()
    assert stats["requests"]["GetAccountsDetailAsync"] == 2 * len(logins)
    assert stats["pending_answers"] == 2 * len(logins)
    assert api_calls(stats) == sum(r.http_calls for r in results) == 4 * len(logins)


def test_transient_faults_at_rate_0_3_are_all_recovered_by_retries(mock_server_factory):
    server = mock_server_factory(
        SAMPLE_DATA,
        "--fault-rate", "0.3",
        "--fault-seed", "7",
        "--fault-kinds", "500,retry_later,too_many_requests,drop,slow",
        "--slow-ms", "1500",
    )  # fmt: skip
    logins = sample_logins()

    results = resource(server.base_url, timeout_seconds=0.5, max_attempts=5).fetch_many(logins)

    assert all(r.ok for r in results), [(r.login_id, r.error_code) for r in results if not r.ok]
    stats = server.stats()
    faults = sum(stats["faults"].values())
    assert faults > 0
    # every call the client made reached the server and was counted, faults included
    assert api_calls(stats) == sum(r.http_calls for r in results) == 2 * len(logins) + faults


def test_unknown_login_is_a_terminal_error_and_others_still_land(mock_server):
    logins = [*sample_logins()[:2], "00000000-0000-0000-0000-000000000000"]

    results = resource(mock_server.base_url).fetch_many(logins)

    assert [r.ok for r in results] == [True, True, False]
    assert results[2].error_code == "INVALID_LOGIN"
    assert results[2].http_calls == 1


def test_api_key_is_enforced_by_the_mock_and_sent_by_the_client(mock_server_factory):
    server = mock_server_factory(SAMPLE_DATA, "--api-key", "k-integration")
    login = sample_logins()[:1]

    refused = resource(server.base_url).fetch_many(login)
    accepted = resource(server.base_url, api_key="k-integration").fetch_many(login)

    assert refused[0].error_code == "UNAUTHORIZED"
    assert accepted[0].ok
