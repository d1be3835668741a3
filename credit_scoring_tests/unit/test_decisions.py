"""Exactly-once decisions through `materialize()`, the real mock decision engine over HTTP and
the real lake: each application asked once, stored once, a killed run's work re-sent once."""

from __future__ import annotations

import multiprocessing
import os
import threading

import dagster as dg
import pandas as pd
import pyarrow as pa
import pytest

from credit_scoring.core.partitions import daily_partitions
from credit_scoring.core.settings import load_settings
from credit_scoring.decisioning.decision_assets import credit_decisions
from credit_scoring.decisioning.payloads import build_requests
from credit_scoring.deployment import build_resources
from credit_scoring.lake.storage import LakeStore
from credit_scoring.lake.tables import table_for
from credit_scoring.ledger import Ledger
from credit_scoring.ledger.engine import dispose_engines
from credit_scoring_tests.builders.features import GOOD_FEATURES
from mock_api import decision_flow

DAY = "2026-10-05"
APPLICATIONS = [f"APP-{i}" for i in range(5)]
#: APP-3's employer income is NaN: it cannot be sent, the others can.
SENDABLE = ["APP-0", "APP-1", "APP-2", "APP-4"]


def features_of(application_id: str) -> dict:
    return {**GOOD_FEATURES, "debt_to_income": None, "nsf_count_90d": int(application_id[-1])}


@pytest.fixture
def engine(mock_server, monkeypatch):
    """The mock server as the decision engine, its counters at zero."""
    monkeypatch.setenv("TAKTILE_BASE_URL", mock_server.base_url)
    mock_server.reset_stats()
    return mock_server


@pytest.fixture
def day_with_features(engine):
    """Five applications with features in the lake (as dbt publishes them) and PENDING rows in
    the ledger."""
    settings = load_settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    rows = [
        {"application_id": app, "application_date": pd.Timestamp(DAY), **features_of(app)}
        for app in APPLICATIONS
    ]
    rows[3]["employer_income_monthly"] = float("nan")
    features = pd.DataFrame(rows).astype({"debt_to_income": "float"})
    features["application_date"] = features["application_date"].dt.date
    LakeStore(settings.lake_root).write_arrow(
        table_for("applicant_features"), DAY, pa.Table.from_pandas(features, preserve_index=False)
    )
    ledger = Ledger(settings.ledger_url)
    ledger.register_transactions(
        pd.DataFrame(
            {"application_id": APPLICATIONS, "transaction_id": ["t"] * 5, "partition_date": DAY}
        ),
        pd.DataFrame({"application_id": APPLICATIONS, "partition_date": DAY}),
    )
    yield ledger
    dispose_engines()


#: Stands in for the dbt model upstream (built by dbt in the integration tests).
FEATURES_SPEC = dg.AssetSpec("applicant_features", partitions_def=daily_partitions)


def materialize_decisions(**config) -> dg.ExecuteInProcessResult:
    run_config = {"ops": {"credit_decisions": {"config": config}}} if config else None
    return dg.materialize(
        [FEATURES_SPEC, credit_decisions],
        partition_key=DAY,
        resources=build_resources(),
        run_config=run_config,
        raise_on_error=False,
        selection=[credit_decisions],
    )


def stored() -> pd.DataFrame:
    store = LakeStore(load_settings().lake_root)
    decisions = store.read(table_for("scoring/credit_decisions"), [DAY])
    return decisions.sort_values("application_id", ignore_index=True)


def expected_decision_id(application_id: str) -> str:
    """The id the engine gives this application's request (the mock is deterministic)."""
    frame = pd.DataFrame([{"application_id": application_id, **features_of(application_id)}])
    (request,), _ = build_requests(frame, [application_id])
    return decision_flow.decision_id(application_id, request.features)


def test_exactly_one_decision_per_application_and_a_nan_feature_is_an_error(
    day_with_features, engine
):
    result = materialize_decisions()

    assert result.success
    decisions = stored()
    assert list(decisions["application_id"]) == SENDABLE
    assert list(decisions["decision_id"]) == [expected_decision_id(a) for a in SENDABLE]
    assert set(decisions["decision_engine"]) == {"mock"}
    statuses = day_with_features.application_statuses([DAY]).set_index("application_id")
    assert statuses.loc["APP-3", "status"] == "ERROR"
    assert statuses.loc["APP-3", "error_code"] == "INVALID_FEATURES"
    assert "employer_income_monthly" in statuses.loc["APP-3", "error_message"]
    assert (statuses.drop(index="APP-3")["status"] == "SCORED").all()
    stats = engine.stats()
    assert (stats["decisions"], stats["distinct_entities_decided"]) == (4, 4)


def test_rematerialising_a_scored_partition_sends_nothing(day_with_features, engine):
    materialize_decisions()
    first = stored()

    store = LakeStore(load_settings().lake_root)
    tables = [table_for("scoring/credit_decisions"), table_for("scoring/decision_status")]
    stamps = [store.file_stamp(table, DAY) for table in tables]

    again = materialize_decisions()

    assert again.success
    assert engine.stats()["decisions"] == 4
    pd.testing.assert_frame_equal(stored(), first)
    # nothing new: both day files are left as they were (what dbt built from them stays
    # current), and the run says so
    assert [store.file_stamp(table, DAY) for table in tables] == stamps
    materializations = again.asset_materializations_for_node("credit_decisions")
    assert {m.asset_key.to_user_string() for m in materializations} == {
        "scoring/credit_decisions",
        "scoring/decision_status",
    }
    assert [m.metadata["days_unchanged"].value for m in materializations] == [1, 1]


def _decide_then_die(crash_at: str) -> None:
    """A run of the decision asset in its own process, SIGKILLed at ``crash_at``."""
    os.environ["CREDIT_SCORING_CRASH_AT"] = crash_at
    materialize_decisions()


def test_a_run_killed_between_send_and_store_is_resent_once_with_the_same_decision_ids(
    day_with_features, engine
):
    context = multiprocessing.get_context("spawn")
    killed = context.Process(target=_decide_then_die, args=("decide.after_send",))
    killed.start()
    killed.join(timeout=240)

    assert killed.exitcode == -9, "the run was not killed at decide.after_send"
    statuses = day_with_features.application_statuses([DAY]).set_index("application_id")
    assert list(statuses.loc[SENDABLE, "status"]) == ["SENT"] * 4
    assert engine.stats()["decisions"] == 4
    assert not stored_table_exists()

    # the killed run's process is gone: its claim is taken over at once, no waiting
    assert materialize_decisions().success

    decisions = stored()
    assert list(decisions["application_id"]) == SENDABLE
    assert list(decisions["decision_id"]) == [expected_decision_id(a) for a in SENDABLE]
    stats = engine.stats()
    # each sendable application asked exactly twice: once by the killed run, once again now
    assert (stats["decisions"], stats["decision_repeats"]) == (8, 4)
    assert stats["repeated_entities"] == SENDABLE


def stored_table_exists() -> bool:
    return LakeStore(load_settings().lake_root).exists(table_for("scoring/credit_decisions"), DAY)


def test_two_concurrent_runs_decide_each_application_once(day_with_features, engine):
    results: list[dg.ExecuteInProcessResult] = []
    threads = [
        threading.Thread(target=lambda: results.append(materialize_decisions())) for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert len(results) == 2
    assert all(r.success for r in results)
    stats = engine.stats()
    assert (stats["decisions"], stats["decision_repeats"]) == (4, 0)
    assert list(stored()["application_id"]) == SENDABLE


def test_dry_run_sends_nothing_and_changes_nothing(day_with_features, engine):
    result = materialize_decisions(dry_run=True)
    assert result.success
    assert engine.stats()["decisions"] == 0
    assert set(day_with_features.application_statuses([DAY])["status"]) == {"PENDING"}


def test_build_requests_names_what_is_missing():
    features = pd.DataFrame([{"application_id": "A", **GOOD_FEATURES, "history_days": None}])
    requests, unsendable = build_requests(features, ["A", "B"])
    assert requests == []
    assert [(u.application_id, u.error_code) for u in unsendable] == [
        ("A", "INVALID_FEATURES"),
        ("B", "NO_FEATURES"),
    ]
    assert "history_days" in unsendable[0].error_message
