"""Celery workers SIGKILLed in the middle of steps: nothing lost, nothing duplicated.

One run of the three sample days (``dagster asset materialize --partition-range``, as an
operator types it) on two workers, and four kills while it runs, each as soon as the step has
started:

- fetch, silver and decide: the pool process running the step is killed (as the OOM killer
  would): Celery hands the step back to the broker at once and a worker runs it again;
- dbt features: the whole worker is killed (its host is gone): the broker hands the step to
  another worker once the visibility timeout has passed. A new worker joins meanwhile.

The run must succeed, every killed step must have started again (so the kill did interrupt
it), the dbt step must have finished on another worker, and the final state must equal the
embedded run: each application fetched once and decided once.

All workers share this host, so a claim left by a killed process is recognised as dead at once
(its pid is gone); on separate hosts the claim's lease must expire first.
"""

from __future__ import annotations

import os
import re
import signal
import time

import dagster as dg
import pytest

from credit_scoring.ledger.engine import dispose_engines
from credit_scoring_tests.conftest import SAMPLE_DATA
from credit_scoring_tests.pipeline import (
    assert_same_state,
    dagster_materialize,
    lost_and_duplicated,
    sample_days,
    whole_graph_snapshot,
)
from credit_scoring_tests.reliability.report import ScenarioFigures
from credit_scoring_tests.reliability.test_concurrency import application_count
from devtools.cluster import Process, on_services, start_process, start_worker

pytestmark = [pytest.mark.integration, pytest.mark.reliability, pytest.mark.slow]

#: Dagster's console line for a step starting: "... - <pid> - <step key> - STEP_START - ..."
STEP_START = re.compile(r" - (\d+) - (\S+) - STEP_START - ")
#: step key -> what is killed when it starts
KILLS = {
    "bronze__flinks_accounts_detail": "step",
    "silver": "step",
    "dbt_features": "worker",
    "credit_decisions": "step",
}
#: A step whose worker vanished comes back after this; it is longer than any step here.
VISIBILITY_TIMEOUT = "45"


def started_steps(worker: Process) -> list[tuple[int, str]]:
    return [(int(pid), step) for pid, step in STEP_START.findall(worker.log())]


@pytest.mark.timeout(1500)
def test_workers_killed_mid_step_lose_nothing_and_duplicate_nothing(
    mock_server_factory,
    undisturbed_state,
    postgres_server,
    s3_server,
    redis_server,
    tmp_path,
    monkeypatch,
    reliability_report,
):
    # each call answers after 300 ms, so that fetching and deciding last long enough to be
    # interrupted
    server = mock_server_factory(SAMPLE_DATA, "--latency-ms", "300")
    services = on_services(postgres_server, s3_server, redis_server, server)
    for name, value in s3_server.environment().items():
        monkeypatch.setenv(name, value)
    days = sample_days()
    extra = {"CREDIT_SCORING_CELERY_VISIBILITY_TIMEOUT": VISIBILITY_TIMEOUT}
    workers = [start_worker(tmp_path / name, services, name, **extra) for name in ("w1", "w2")]
    launcher = tmp_path / "launcher"
    killed: dict[str, str] = {}
    command = dagster_materialize("*", "--partition-range", f"{days[0]}...{days[-1]}")
    launched = start_process(launcher, services, "run", command, **extra)
    run = launched.process
    try:
        deadline = time.monotonic() + 1200
        while run.poll() is None and time.monotonic() < deadline:
            for worker in list(workers):
                if worker.process.poll() is not None:
                    continue
                for pid, step in started_steps(worker):
                    if KILLS.get(step) and step not in killed:
                        if KILLS[step] == "step":
                            os.kill(pid, signal.SIGKILL)
                        else:
                            os.killpg(worker.process.pid, signal.SIGKILL)
                            workers.append(start_worker(tmp_path / "w3", services, "w3", **extra))
                        killed[step] = worker.name
                        break
            time.sleep(0.1)
        assert run.poll() == 0, f"the run failed:\n{launched.log()[-4000:]}"
    finally:
        launched.stop()
        for worker in workers:
            worker.stop()
    assert set(killed) == set(KILLS), f"not every kill happened: {killed}"

    with services.open_instance(launcher / "dagster_home") as instance:
        (only_run,) = instance.get_runs()
        starts = instance.all_logs(only_run.run_id, of_type=dg.DagsterEventType.STEP_START)
        successes = instance.all_logs(only_run.run_id, of_type=dg.DagsterEventType.STEP_SUCCESS)
        engine = instance.all_logs(only_run.run_id, of_type=dg.DagsterEventType.ENGINE_EVENT)
    started = [record.step_key for record in starts]
    succeeded = [record.step_key for record in successes]
    for step in KILLS:
        assert started.count(step) >= 2, f"{step} was not interrupted: {started.count(step)} start"
        assert succeeded.count(step) == 1, step
    # the dbt step finished on a worker other than the one killed under it
    dbt_hosts = {
        entry.text
        for record in engine
        if record.step_key == "dbt_features"
        for label, entry in record.dagster_event.engine_event_data.metadata.items()
        if label == "Celery worker"
    }
    assert any(not host.startswith(f"{killed['dbt_features']}@") for host in dbt_hosts), dbt_hosts

    state = whole_graph_snapshot(tmp_path, days, services.ledger_url, services.lake_url)
    lost, duplicated = lost_and_duplicated(state, undisturbed_state)
    stats = server.stats()
    reliability_report(
        ScenarioFigures(
            scenario="celery: workers killed mid-fetch, mid-silver, mid-dbt, mid-decide",
            faults_injected=len(killed),
            recovered=len(killed) if (lost, duplicated) == (0, 0) else 0,
            recorded_error=int((state["applications"]["status"] == "ERROR").sum()),
            rows_lost=lost,
            duplicates=duplicated,
        )
    )
    assert (lost, duplicated) == (0, 0)
    assert_same_state(state, undisturbed_state)
    # every application decided; a repeat is only a decision re-sent with its idempotency key
    # after its sender was killed, and it changed nothing (the decisions equal the embedded run)
    assert stats["decisions"] - stats["decision_repeats"] == application_count()
    dispose_engines()
