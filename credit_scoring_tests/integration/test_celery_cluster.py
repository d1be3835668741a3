"""The whole graph on a local cluster: steps on two Celery workers that share nothing but the
services (PostgreSQL, S3, Redis), each in its own directory with its own empty home.

Three days launched at once as three runs (``dagster asset materialize`` with
``CREDIT_SCORING_EXECUTOR=celery``, as a backfill's runs are) must end exactly as the embedded
run of the same days, with every application fetched and decided once, steps spread over
both workers, and no table file written under any worker's home: whatever a step writes, it
writes to the lake on S3 and the ledger on PostgreSQL.
"""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import pytest

from credit_scoring.ledger.engine import dispose_engines
from credit_scoring_tests.pipeline import (
    assert_same_state,
    dagster_materialize,
    lost_and_duplicated,
    sample_days,
    whole_graph_snapshot,
)
from credit_scoring_tests.reliability.test_concurrency import application_count
from devtools.cluster import Worker, machine_environment, on_services, start_worker
from mock_api.process import stop_process_group

pytestmark = [pytest.mark.integration, pytest.mark.slow]

#: Celery's INFO line for a step a worker finished (``celery.app.trace``).
FINISHED = re.compile(r"Task execute_plan\[[0-9a-f-]+\] succeeded")
TABLE_SUFFIXES = {".parquet", ".duckdb", ".sqlite", ".db"}


def local_tables(directory: Path) -> list[Path]:
    return [path for path in directory.rglob("*") if path.suffix in TABLE_SUFFIXES]


@pytest.mark.timeout(1500)
def test_three_days_as_three_runs_on_two_celery_workers_end_as_the_embedded_run(
    mock_server, undisturbed_state, postgres_server, s3_server, redis_server, tmp_path, monkeypatch
):
    services = on_services(postgres_server, s3_server, redis_server, mock_server)
    for name, value in s3_server.environment().items():
        monkeypatch.setenv(name, value)
    days = sample_days()
    workers: list[Worker] = []
    runs: list[subprocess.Popen] = []
    try:
        workers = [start_worker(tmp_path / name, services, name) for name in ("w1", "w2")]
        launcher = tmp_path / "launcher"
        env = machine_environment(launcher, services)
        for day in days:
            log = open(launcher / f"run-{day}.log", "wb")  # noqa: SIM115 - closed below
            runs.append(
                subprocess.Popen(
                    dagster_materialize("*", "--partition", day),
                    env=env,
                    cwd=launcher,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
            log.close()
        deadline = time.monotonic() + 1200
        while any(run.poll() is None for run in runs) and time.monotonic() < deadline:
            assert all(w.process.poll() is None for w in workers), "a worker exited"
            time.sleep(1)
        for day, run in zip(days, runs, strict=True):
            output = (launcher / f"run-{day}.log").read_text(errors="replace")
            assert run.poll() == 0, f"the run of {day} failed:\n{output[-4000:]}"
    finally:
        for run in runs:
            stop_process_group(run)
        for worker in workers:
            worker.stop()

    state = whole_graph_snapshot(tmp_path, days, services.ledger_url, services.lake_url)
    assert lost_and_duplicated(state, undisturbed_state) == (0, 0)
    assert_same_state(state, undisturbed_state)
    stats = mock_server.stats()
    assert stats["requests"]["Authorize"] == application_count()
    assert stats["decisions"] == application_count()
    assert stats["decision_repeats"] == 0
    # the steps spread over both workers, which wrote no table to their own disks
    finished = {worker.name: len(FINISHED.findall(worker.log())) for worker in workers}
    assert all(count >= 1 for count in finished.values()), finished
    for worker in workers:
        assert local_tables(worker.directory) == [], worker.name
    assert local_tables(launcher) == []
    dispose_engines()
