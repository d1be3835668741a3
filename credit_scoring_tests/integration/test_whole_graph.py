"""The whole graph through Dagster's own CLI, against the real mock server with faults on both APIs.

Applications -> bronze -> silver -> dbt features -> Taktile decisions (the HTTP client) ->
decision monitoring, as one backfill run over the sample days, exactly as an operator runs it.
"""

from __future__ import annotations

import subprocess

import pytest

from credit_scoring.core.settings import REPO_ROOT
from credit_scoring.ingestion.applications_source import (
    read_applications_csv,
    validate_applications,
)
from credit_scoring.ledger import Ledger
from credit_scoring.ledger.engine import dispose_engines
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


def test_faults_on_both_apis_end_with_every_application_decided_once_or_in_error(
    mock_server_factory, tmp_path
):
    server = mock_server_factory(
        SAMPLE_DATA,
        "--fault-rate", "0.2",
        "--fault-seed", "20",
        "--slow-ms", "800",
    )  # fmt: skip
    days = sample_days()
    env = pipeline_env(tmp_path, server.base_url, TAKTILE_BASE_URL=server.base_url)
    write_dagster_yaml(tmp_path / "dagster_home")

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

    server.reset_stats()
    again = materialize(env, days)
    assert again.returncode == 0, again.stderr[-6000:]
    calls = server.stats()["requests"]
    assert calls.get("Authorize", 0) == 0, calls
    assert calls.get("decide", 0) == 0, calls
    assert len(
        query(tmp_path, database=CATALOGUE, sql="select * from scoring.credit_decisions")
    ) == len(decisions)
    dispose_engines()
