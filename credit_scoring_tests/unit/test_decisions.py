"""Exactly-once decisions through `materialize()` with the mock resource and a real DuckDB."""

from __future__ import annotations

import threading

import dagster as dg
import pandas as pd
import pytest

from credit_scoring.assets.decisions import credit_decisions
from credit_scoring.decisions import build_requests
from credit_scoring.ledger import Ledger
from credit_scoring.ledger.engine import dispose_engines
from credit_scoring.partitions import daily_partitions
from credit_scoring.resources.bindings import build_resources
from credit_scoring.resources.taktile import MockTaktileResource
from credit_scoring.settings import load_settings
from credit_scoring.warehouse import connect
from mock_api import decision_flow

DAY = "2026-10-05"
GOOD = {
    "nsf_count_90d": 0,
    "total_inflow_90d": 12000.0,
    "total_outflow_90d": 10500.0,
    "avg_daily_balance_90d": 2200.0,
    "min_daily_balance_90d": 150.0,
    "days_negative_90d": 0,
    "employer_income_monthly": 3900.0,
    "history_days": 400,
    "debt_to_income": None,
}


class CountingTaktile(MockTaktileResource):
    """The mock flow, counting what was asked, optionally crashing after sending."""

    def decide_many(self, requests, *, on_progress=None):
        decisions = super().decide_many(requests, on_progress=on_progress)
        CALLS.extend(r.entity_id for r in requests)
        if CRASH_AFTER_SEND.is_set():
            raise RuntimeError("simulated crash between send and store")
        return decisions


CALLS: list[str] = []
CRASH_AFTER_SEND = threading.Event()


@pytest.fixture
def day_with_features():
    """Five applications with features in the warehouse and PENDING rows in the ledger."""
    CALLS.clear()
    CRASH_AFTER_SEND.clear()
    settings = load_settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    rows = [
        {
            "application_id": f"APP-{i}",
            "application_date": pd.Timestamp(DAY),
            **GOOD,
            "nsf_count_90d": i,
        }
        for i in range(5)
    ]
    rows[3]["employer_income_monthly"] = float("nan")  # cannot be sent
    with connect(str(settings.warehouse_path)) as connection:
        connection.register("features", pd.DataFrame(rows).astype({"debt_to_income": "float"}))
        connection.execute("create table main.applicant_features as select * from features")
    ledger = Ledger(settings.ledger_url)
    ledger.register_transactions(
        pd.DataFrame(
            {
                "application_id": [f"APP-{i}" for i in range(5)],
                "transaction_id": ["t"] * 5,
                "partition_date": [DAY] * 5,
            }
        ),
        pd.DataFrame(
            {"application_id": [f"APP-{i}" for i in range(5)], "partition_date": [DAY] * 5}
        ),
    )
    yield ledger
    dispose_engines()


#: Stands in for the dbt model upstream (built by dbt in the integration tests).
FEATURES_SPEC = dg.AssetSpec(
    "applicant_features",
    partitions_def=daily_partitions,
    metadata={"partition_expr": "application_date"},
)


def materialize_decisions(**config) -> dg.ExecuteInProcessResult:
    resources = {**build_resources(), "taktile": CountingTaktile()}
    run_config = {"ops": {"credit_decisions": {"config": config}}} if config else None
    return dg.materialize(
        [FEATURES_SPEC, credit_decisions],
        partition_key=DAY,
        resources=resources,
        run_config=run_config,
        raise_on_error=False,
        selection=[credit_decisions],
    )


def stored() -> pd.DataFrame:
    with connect(str(load_settings().warehouse_path)) as connection:
        return connection.execute(
            "select * from scoring.credit_decisions order by application_id"
        ).df()


def test_exactly_one_decision_per_application_and_a_nan_feature_is_an_error(day_with_features):
    result = materialize_decisions()

    assert result.success
    decisions = stored()
    assert list(decisions["application_id"]) == ["APP-0", "APP-1", "APP-2", "APP-4"]
    assert decisions["decision_id"].is_unique
    statuses = day_with_features.application_statuses([DAY]).set_index("application_id")
    assert statuses.loc["APP-3", "status"] == "ERROR"
    assert statuses.loc["APP-3", "error_code"] == "INVALID_FEATURES"
    assert "employer_income_monthly" in statuses.loc["APP-3", "error_message"]
    assert (statuses.drop(index="APP-3")["status"] == "SCORED").all()
    assert sorted(CALLS) == ["APP-0", "APP-1", "APP-2", "APP-4"]


def test_rematerialising_a_scored_partition_sends_nothing(day_with_features):
    materialize_decisions()
    first = stored()
    CALLS.clear()

    assert materialize_decisions().success

    assert CALLS == []
    pd.testing.assert_frame_equal(stored(), first)


def test_a_crash_between_send_and_store_resends_with_the_same_decision_id(day_with_features):
    CRASH_AFTER_SEND.set()
    assert not materialize_decisions().success
    assert set(day_with_features.application_statuses([DAY])["status"]) >= {"SENT"}
    CRASH_AFTER_SEND.clear()
    sent_first = list(CALLS)

    # the claim of a run that died is taken over at once when its process is gone; here the
    # "dead" run lived in this very process, so take it over explicitly by age
    ledger = day_with_features
    from datetime import timedelta

    _, won = ledger.claim_for_decision([DAY], stale_sent_after=timedelta(0))
    ledger.engine.dispose()
    assert won == ["APP-0", "APP-1", "APP-2", "APP-4"]
    with ledger.engine.begin() as connection:
        connection.exec_driver_sql(
            "update scoring_status set claim_token = 'gone:1:decide:x', sent_at = '2000-01-01' "
            "where status = 'SENT'"
        )
    CALLS.clear()

    assert materialize_decisions().success

    decisions = stored()
    assert len(decisions) == 4
    assert decisions["application_id"].is_unique
    assert sorted(CALLS) == sorted(sent_first)  # re-sent once each, nothing else
    for row in decisions.itertuples():
        expected = decision_flow.decision_id(
            row.application_id,
            build_requests(
                pd.DataFrame(
                    [
                        {
                            "application_id": row.application_id,
                            **GOOD,
                            "nsf_count_90d": int(row.application_id[-1]),
                        }
                    ]
                ),
                [row.application_id],
            )[0][0].features,
        )
        assert row.decision_id == expected


def test_two_concurrent_runs_decide_each_application_once(day_with_features):
    results = []
    threads = [
        threading.Thread(target=lambda: results.append(materialize_decisions())) for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert all(r.success for r in results)
    assert sorted(CALLS) == ["APP-0", "APP-1", "APP-2", "APP-4"]
    assert stored()["application_id"].is_unique


def test_dry_run_sends_nothing_and_changes_nothing(day_with_features):
    result = materialize_decisions(dry_run=True)
    assert result.success
    assert CALLS == []
    assert set(day_with_features.application_statuses([DAY])["status"]) == {"PENDING"}


def test_build_requests_names_what_is_missing():
    features = pd.DataFrame([{"application_id": "A", **GOOD, "history_days": None}])
    requests, unsendable = build_requests(features, ["A", "B"])
    assert requests == []
    assert [(u.application_id, u.error_code) for u in unsendable] == [
        ("A", "INVALID_FEATURES"),
        ("B", "NO_FEATURES"),
    ]
    assert "history_days" in unsendable[0].error_message


def test_a_missing_dataframe_scan_is_retried_like_a_lock_conflict():
    """DuckDB's transient "pandas_scan does not exist" under concurrent connections is retried;
    other catalog errors are not."""
    import duckdb

    from credit_scoring.lake.warehouse_io import _is_lock_conflict

    missing = duckdb.CatalogException(
        "Catalog Error: Table Function with name pandas_scan does not exist!"
    )
    assert _is_lock_conflict(missing)
    assert not _is_lock_conflict(duckdb.CatalogException("Table with name nope does not exist"))
    assert _is_lock_conflict(duckdb.IOException("Could not set lock on file"))
