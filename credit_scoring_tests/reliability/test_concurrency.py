"""Three overlapping backfills: from the CLI at once, and through the run queue and the daemon.

Whatever the interleaving, the promise is the ledger's: each application fetched once and
decided once, no row twice anywhere, no run failed by a lock (the SQLite ledger, the lake's
partition locks) — runs wait or retry instead — and the final state is the state of one
sequential run.

How much the runs really overlapped is measured from the runs' own start and end times, and
asserted: launched from the CLI, and through the daemon's run queue too (no pool holds runs
back: every table is in the lake, each partition written under its own lock).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from credit_scoring.core.settings import REPO_ROOT
from credit_scoring.ingestion.applications_source import (
    read_applications_csv,
    validate_applications,
)
from credit_scoring.ledger.engine import dispose_engines
from credit_scoring_tests.conftest import SAMPLE_DATA
from credit_scoring_tests.pipeline import (
    assert_same_state,
    dagster_materialize,
    lost_and_duplicated,
    pipeline_env,
    sample_days,
    whole_graph_snapshot,
)
from credit_scoring_tests.reliability.report import ScenarioFigures
from devtools.cluster import submit_asset_backfill
from devtools.instance import write_dagster_yaml
from mock_api.process import stop_process_group

pytestmark = [pytest.mark.integration, pytest.mark.reliability, pytest.mark.slow]

#: A hang guard, not a performance bound: these tests run several whole-graph runs (and, first
#: on their worker, the undisturbed reference run), three times as slow when the other test
#: worker is busy too. The suite's default of 600 s is too tight for them on two loaded cores.
HANG_GUARD_SECONDS = 1500


def overlapping_ranges(days: list[str]) -> list[tuple[str, str]]:
    """Three ranges over the sample days, each overlapping the two others."""
    assert len(days) >= 3, "the sample data must span three days"
    return [(days[0], days[-1]), (days[1], days[-1]), (days[0], days[1])]


def application_count() -> int:
    valid, _ = validate_applications(read_applications_csv(SAMPLE_DATA / "applications.csv"))
    return len(valid)


def run_intervals(dagster_home: Path) -> list[tuple[float, float]]:
    """(start, end) of every run recorded in the instance, in seconds since the epoch."""
    import dagster as dg

    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        records = instance.get_run_records()
    return [(record.start_time, record.end_time) for record in records]


def most_at_once(intervals: list[tuple[float, float]]) -> int:
    """The largest number of runs in progress at one instant (a run ending as another starts
    does not overlap it)."""
    events = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    running = most = 0
    for _, change in events:
        running += change
        most = max(most, running)
    return most


def check_final_state(
    home: Path,
    server,
    reference,
    reliability_report,
    scenario: str,
    runs_succeeded: int,
    ledger_url: str | None = None,
) -> None:
    days = sample_days()
    state = whole_graph_snapshot(home, days, ledger_url)
    lost, duplicated = lost_and_duplicated(state, reference)
    stats = server.stats()
    repeats = stats["decision_repeats"]
    statuses = state["applications"]["status"]
    reliability_report(
        ScenarioFigures(
            scenario=scenario,
            faults_injected=len(overlapping_ranges(days)),
            recovered=runs_succeeded if (lost, duplicated, repeats) == (0, 0, 0) else 0,
            recorded_error=int((statuses == "ERROR").sum()),
            rows_lost=lost,
            duplicates=duplicated + repeats,
        )
    )
    assert (lost, duplicated) == (0, 0)
    assert_same_state(state, reference)
    # exactly once against the outside world too: one fetch and one decision per application
    applications = application_count()
    assert stats["requests"]["Authorize"] == applications
    assert stats["decisions"] == applications
    assert repeats == 0


@pytest.mark.timeout(HANG_GUARD_SECONDS)
@pytest.mark.parametrize("ledger", ["sqlite", "postgresql"])
def test_three_overlapping_cli_backfills_at_once_end_as_one_sequential_run(
    sample_server, undisturbed_state, tmp_path, reliability_report, request, ledger
):
    """On the SQLite ledger, and on PostgreSQL (READ COMMITTED: the runs' claims and lake
    locks race for real), the end state is the embedded sequential run's, row for row."""
    sample_server.reset_stats()
    extra = {}
    if ledger == "postgresql":
        server = request.getfixturevalue("postgres_server")
        extra["CREDIT_SCORING_LEDGER_URL"] = server.url(server.create_database())
    env = pipeline_env(
        tmp_path, sample_server.base_url, TAKTILE_BASE_URL=sample_server.base_url, **extra
    )
    write_dagster_yaml(tmp_path / "dagster_home")
    launches = [
        subprocess.Popen(
            dagster_materialize("*", "--partition-range", f"{first}...{last}"),
            env=env,
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        for first, last in overlapping_ranges(sample_days())
    ]
    try:
        outputs = [launch.communicate(timeout=HANG_GUARD_SECONDS - 300)[0] for launch in launches]
    finally:
        for launch in launches:
            stop_process_group(launch)
    codes = [launch.returncode for launch in launches]
    assert codes == [0, 0, 0], "\n\n".join(out[-3000:] for out in outputs)
    intervals = run_intervals(tmp_path / "dagster_home")
    assert len(intervals) == 3
    together = most_at_once(intervals)
    # all three started together; each run lasts far longer than the others take to start
    assert together >= 2, intervals

    check_final_state(
        tmp_path,
        sample_server,
        undisturbed_state,
        reliability_report,
        f"concurrency: 3 overlapping CLI backfills, {together} runs executing at once, "
        f"{ledger} ledger",
        runs_succeeded=codes.count(0),
        ledger_url=extra.get("CREDIT_SCORING_LEDGER_URL"),
    )
    if ledger == "postgresql":
        assert not (tmp_path / "ledger.sqlite").exists(), "a run fell back to the SQLite ledger"
    dispose_engines()


@pytest.mark.timeout(HANG_GUARD_SECONDS)
def test_three_overlapping_backfills_through_the_daemon_queue_and_all_succeed(
    sample_server, undisturbed_state, tmp_path, reliability_report
):
    import dagster as dg
    from dagster._core.execution.backfill import BulkActionStatus

    sample_server.reset_stats()
    dagster_home = tmp_path / "dagster_home"
    write_dagster_yaml(dagster_home)
    env = pipeline_env(tmp_path, sample_server.base_url, TAKTILE_BASE_URL=sample_server.base_url)
    # the daemon and the runs it launches log a lot: to a file, never to a pipe nobody reads
    log_path = tmp_path / "daemon.log"
    with log_path.open("w") as log_file:
        daemon = subprocess.Popen(
            [str(Path(sys.executable).parent / "dagster-daemon"), "run", "-w", "workspace.yaml"],
            env=env,
            cwd=REPO_ROOT,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        instance = dg.DagsterInstance.from_config(str(dagster_home))
        ids = [submit_asset_backfill(instance, *r) for r in overlapping_ranges(sample_days())]
        deadline = time.monotonic() + HANG_GUARD_SECONDS - 300
        done = {BulkActionStatus.COMPLETED_SUCCESS, BulkActionStatus.COMPLETED_FAILED}
        done |= {BulkActionStatus.FAILED, BulkActionStatus.CANCELED}
        while time.monotonic() < deadline:
            statuses = [instance.get_backfill(i).status for i in ids]
            if all(status in done for status in statuses):
                break
            assert daemon.poll() is None, "the daemon exited"
            time.sleep(2)
    finally:
        stop_process_group(daemon, grace_seconds=10)
    log = log_path.read_text(errors="replace")
    runs = instance.get_runs()
    failed = [run.run_id for run in runs if run.status != dg.DagsterRunStatus.SUCCESS]
    assert statuses == [BulkActionStatus.COMPLETED_SUCCESS] * 3, (statuses, log[-4000:])
    assert runs, "the daemon launched no run"
    assert failed == [], log[-4000:]
    # the queue lets up to four runs go at once, and nothing else holds them back
    overlap = most_at_once(run_intervals(dagster_home))
    assert overlap >= 2, f"the daemon's runs never overlapped (at most {overlap} at once)"

    check_final_state(
        tmp_path,
        sample_server,
        undisturbed_state,
        reliability_report,
        f"concurrency: 3 overlapping backfills via the daemon ({len(runs)} runs, up to "
        f"{overlap} at once)",
        runs_succeeded=statuses.count(BulkActionStatus.COMPLETED_SUCCESS),
    )
    dispose_engines()
