"""The whole graph through Dagster's own CLI, against the real mock server with faults on both APIs.

Applications -> bronze -> silver -> dbt features -> Taktile decisions (the HTTP client) ->
decision monitoring, as one backfill run over the sample days, exactly as an operator runs it.
"""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from credit_scoring.applications import read_applications_csv, validate_applications
from credit_scoring.instance import write_dagster_yaml
from credit_scoring.ledger import Ledger
from credit_scoring.ledger.engine import dispose_engines
from credit_scoring.settings import REPO_ROOT
from credit_scoring_tests.conftest import SAMPLE_DATA
from credit_scoring_tests.dbt_harness import query
from credit_scoring_tests.pipeline import pipeline_env, run_pipeline

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def sample_days() -> list[str]:
    valid, _ = validate_applications(read_applications_csv(SAMPLE_DATA / "applications.csv"))
    return sorted(valid["partition_date"].unique())


def materialize(env: dict[str, str], days: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "dagster",
            "asset",
            "materialize",
            "-m",
            "credit_scoring.definitions",
            "--select",
            "*",
            "--partition-range",
            f"{days[0]}...{days[-1]}",
        ],
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

    decisions = query(tmp_path, "select * from scoring.credit_decisions")
    scored = set(statuses.loc[statuses["status"] == "SCORED", "application_id"])
    assert set(decisions["application_id"]) == scored
    assert decisions["application_id"].is_unique
    assert decisions["decision_id"].is_unique
    stats = server.stats()
    assert sum(stats["faults"].values()) > 0, "the fault profile injected nothing"
    # a decision asked again can only be one whose answer the mock dropped on the wire
    assert stats["decision_repeats"] <= stats["faults"]["drop"]
    monitoring = query(
        tmp_path, "select sum(decisions) as d, sum(scored) as s from decision_monitoring"
    )
    assert int(monitoring["d"].item()) == int(monitoring["s"].item()) == len(scored)

    server.reset_stats()
    again = materialize(env, days)
    assert again.returncode == 0, again.stderr[-6000:]
    calls = server.stats()["requests"]
    assert calls.get("Authorize", 0) == 0, calls
    assert calls.get("decide", 0) == 0, calls
    assert len(query(tmp_path, "select * from scoring.credit_decisions")) == len(decisions)
    dispose_engines()


@pytest.fixture(scope="module")
def decision_server(mock_server_module_factory):
    return mock_server_module_factory(SAMPLE_DATA)


@pytest.fixture(scope="module")
def reference_decisions(decision_server, tmp_path_factory) -> dict[str, str]:
    """decision id per application after one undisturbed whole-graph run."""
    home = tmp_path_factory.mktemp("reference_decisions")
    days = sample_days()
    code, output = run_pipeline(
        home,
        decision_server.base_url,
        start=days[0],
        end=days[-1],
        groups=None,
        TAKTILE_BASE_URL=decision_server.base_url,
    )
    assert code == 0, output[-4000:]
    decisions = query(home, "select application_id, decision_id from scoring.credit_decisions")
    dispose_engines()
    return dict(zip(decisions["application_id"], decisions["decision_id"], strict=True))


@pytest.mark.parametrize("crash_at", ["decide.after_send", "warehouse.stored_before_ledger"])
def test_a_run_killed_between_deciding_and_recording_is_completed_without_a_second_decision(
    decision_server, reference_decisions, tmp_path, crash_at
):
    days = sample_days()
    run = {
        "start": days[0],
        "end": days[-1],
        "groups": None,
        "TAKTILE_BASE_URL": decision_server.base_url,
    }
    decision_server.reset_stats()
    code, output = run_pipeline(
        tmp_path, decision_server.base_url, CREDIT_SCORING_CRASH_AT=crash_at, **run
    )
    assert code == -signal.SIGKILL, f"the run was not killed at {crash_at}:\n{output[-3000:]}"
    first = decision_server.stats()
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    in_flight = set(ledger.application_statuses(days).query("status == 'SENT'")["application_id"])
    assert in_flight, "the kill left nothing in flight: the crash point did not bite"

    code, output = run_pipeline(tmp_path, decision_server.base_url, **run)

    assert code == 0, output[-4000:]
    statuses = ledger.application_statuses(days)
    assert set(statuses["status"]) == {"SCORED"}
    stored = query(tmp_path, "select application_id, decision_id from scoring.credit_decisions")
    assert stored["application_id"].is_unique
    assert dict(zip(stored["application_id"], stored["decision_id"], strict=True)) == (
        reference_decisions
    )
    second = decision_server.stats()
    # only the applications in flight at the kill were asked again, each exactly once
    assert second["decisions"] - first["decisions"] == len(in_flight)
    assert second["decision_repeats"] - first["decision_repeats"] == len(in_flight)
    dispose_engines()
