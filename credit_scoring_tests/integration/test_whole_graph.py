"""The whole graph through Dagster's own CLI, against the real mock server with faults on both APIs.

Applications -> bronze -> silver -> dbt features -> Taktile decisions (the HTTP client) ->
decision monitoring, as one backfill run over the sample days, exactly as an operator runs it.
One test, three phases on the same home, in order: what the run decided, a re-run that does
nothing, and then a day made to disagree with its ledger, which the blocking reconciliation
check stops.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest

from credit_scoring.core.settings import REPO_ROOT
from credit_scoring.ingestion.applications_source import (
    read_applications_csv,
    validate_applications,
)
from credit_scoring.ledger import Ledger
from credit_scoring.ledger.engine import dispose_engines
from credit_scoring_tests.builders.ledger_rows import forget_one_transaction
from credit_scoring_tests.conftest import SAMPLE_DATA
from credit_scoring_tests.dbt_harness import CATALOGUE, query
from credit_scoring_tests.pipeline import dagster_materialize, pipeline_env, sample_days
from devtools.instance import write_dagster_yaml

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def materialize(env: dict[str, str], days: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        dagster_materialize("*", "--partition-range", f"{days[0]}...{days[-1]}"),
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )


@dataclass
class FaultedRun:
    home: Path
    env: dict[str, str]
    days: list[str]
    server: object


def test_faults_on_both_apis_then_a_rerun_then_a_day_that_disagrees(mock_server_factory, tmp_path):
    server = mock_server_factory(
        SAMPLE_DATA,
        "--fault-rate", "0.2",
        "--fault-seed", "20",
        "--slow-ms", "800",
    )  # fmt: skip
    days = sample_days()
    env = pipeline_env(tmp_path, server.base_url, TAKTILE_BASE_URL=server.base_url)
    write_dagster_yaml(tmp_path / "dagster_home")
    run = FaultedRun(tmp_path, env, days, server)

    first = materialize(env, days)
    assert first.returncode == 0, first.stderr[-6000:]

    statuses = Ledger(f"sqlite:///{tmp_path / 'ledger.sqlite'}").application_statuses(days)
    valid, _ = validate_applications(read_applications_csv(SAMPLE_DATA / "applications.csv"))
    assert set(statuses["application_id"]) == set(valid["application_id"])
    assert set(statuses["status"]) <= {"SCORED", "ERROR"}
    errors = statuses.loc[statuses["status"] == "ERROR"]
    assert errors["error_code"].notna().all()
    assert (errors["error_message"] != "").all()

    decisions = query(tmp_path, database=CATALOGUE, sql="select * from scoring.credit_decisions")
    scored = set(statuses.loc[statuses["status"] == "SCORED", "application_id"])
    assert set(decisions["application_id"]) == scored
    assert decisions["application_id"].is_unique
    assert decisions["decision_id"].is_unique
    stats = server.stats()
    assert sum(stats["faults"].values()) > 0, "the fault profile injected nothing"
    # a decision asked again can only be one whose answer the mock dropped on the wire
    assert stats["decision_repeats"] <= stats["faults"]["drop"]
    monitoring = query(
        tmp_path,
        database=CATALOGUE,
        sql="select sum(decisions) as d, sum(scored) as s from decision_monitoring",
    )
    assert int(monitoring["d"].item()) == int(monitoring["s"].item()) == len(scored)

    # dbt's published models report what they wrote, as the lake's tables do
    features = query(tmp_path, database=CATALOGUE, sql="select * from applicant_features")
    with dg.DagsterInstance.from_config(str(tmp_path / "dagster_home")) as instance:
        event = instance.get_latest_materialization_event(dg.AssetKey("applicant_features"))
    metadata = event.asset_materialization.metadata
    assert metadata["dagster/row_count"].value == len(features)
    columns = [column.name for column in metadata["dagster/column_schema"].schema.columns]
    assert set(columns) == set(features.columns)

    rerun_calls_neither_api_and_adds_nothing(run)
    a_day_whose_ledger_disagrees_gets_no_features_or_decisions(run)
    dispose_engines()


def rerun_calls_neither_api_and_adds_nothing(faulted_run: FaultedRun) -> None:
    tmp_path, server = faulted_run.home, faulted_run.server
    decisions = query(tmp_path, database=CATALOGUE, sql="select * from scoring.credit_decisions")
    server.reset_stats()
    again = materialize(faulted_run.env, faulted_run.days)
    assert again.returncode == 0, again.stderr[-6000:]
    calls = server.stats()["requests"]
    assert calls.get("Authorize", 0) == 0, calls
    assert calls.get("decide", 0) == 0, calls
    assert len(
        query(tmp_path, database=CATALOGUE, sql="select * from scoring.credit_decisions")
    ) == len(decisions)
    # nothing the features are built from changed: the first run's build stands, and the
    # reconciliation of every day is the one the first run computed
    with dg.DagsterInstance.from_config(str(tmp_path / "dagster_home")) as instance:
        (rerun,) = instance.get_runs(limit=1)
        features = instance.get_latest_materialization_event(dg.AssetKey("applicant_features"))
    assert features is not None
    assert features.run_id == rerun.run_id
    assert "reused_from" in features.asset_materialization.metadata
    assert "dbt not run for application dates" in again.stderr


def a_day_whose_ledger_disagrees_gets_no_features_or_decisions(faulted_run: FaultedRun) -> None:
    """The reconciliation check is blocking: with one ledger row gone, the day's run fails at
    the check and never starts the dbt features, the decisions or the monitoring."""
    day = faulted_run.days[0]
    planted = forget_one_transaction(faulted_run.home / "ledger.sqlite", day)
    assert planted == 1

    blocked = subprocess.run(
        dagster_materialize("*", "--partition", day),
        env=faulted_run.env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert blocked.returncode != 0
    assert "blocking asset check failed" in blocked.stderr

    with dg.DagsterInstance.from_config(str(faulted_run.home / "dagster_home")) as instance:
        run = instance.get_runs(limit=1)[0]
        assert run.status == dg.DagsterRunStatus.FAILURE
        started = {
            record.step_key
            for record in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_START)
        }
        evaluations = [
            record.asset_check_evaluation
            for record in instance.all_logs(
                run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
            )
        ]
    assert "silver" in started
    assert not {"dbt_features", "credit_decisions", "dbt_monitoring"} & started, started
    (reconciliation,) = [e for e in evaluations if e.check_name == "bronze_silver_reconciliation"]
    assert not reconciliation.passed
    assert reconciliation.metadata["ledger_without_silver_row"].value == 0
    assert reconciliation.metadata["silver_without_ledger_row"].value == 1
