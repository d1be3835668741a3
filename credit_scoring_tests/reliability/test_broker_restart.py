"""The Celery broker restarted in the middle of a run: ridden out, or the run fails cleanly and
the next run finishes the work; nothing lost, nothing decided twice, nothing left queued.

Redis keeps an append-only file, as a production broker does. While a run of the three sample
days executes on two Celery workers, Redis is stopped (SIGTERM: it writes its file out), stays
down for a few seconds, as a host restarting would, and starts again on the same port, just as
the dbt features step starts.

The expected outcome is that the run survives: the run process and the workers retry the broker
with backoff for about two minutes (``core/celery_settings.py``), the step that was running
finishes and is acknowledged on the new connection (an acknowledgement is a delete in Redis,
valid from any connection), the queued steps come back from the file, and the run succeeds with
no step succeeding twice. The other correct outcome, for an outage that outlasts the retries,
is accepted too and reported as such: the run is marked failed (never left "started") and a
second run of the same command completes it.

After either, the broker holds nothing (no queued message, none unacknowledged: such a message
would be delivered again, after its run ended), the state equals the embedded run, and the mock
decided each application once.
"""

from __future__ import annotations

import time

import dagster as dg
import pytest
import redis

from credit_scoring.ledger.engine import dispose_engines
from credit_scoring_tests.pipeline import (
    assert_same_state,
    dagster_materialize,
    lost_and_duplicated,
    sample_days,
    whole_graph_snapshot,
)
from credit_scoring_tests.reliability.report import ScenarioFigures
from credit_scoring_tests.reliability.test_concurrency import application_count
from credit_scoring_tests.reliability.test_worker_kill import started_steps
from devtools.cluster import Process, on_services, start_process, start_worker
from devtools.redis import RedisServer, start_redis

pytestmark = [pytest.mark.integration, pytest.mark.reliability, pytest.mark.slow]

#: The broker goes down as this step starts on a worker: a long step, running through the
#: restart, with the decisions still queued behind it.
RESTART_AT = "dbt_features"
#: How long the broker stays down: a restart, not a blip. (A blip shorter than a worker's
#: reaction lets Celery put the running step's message back at once, and the step runs
#: twice; the ledger makes that harmless, as the worker-kill test shows, but it is not this
#: scenario.)
DOWN_SECONDS = 3.0
RUN_TIMEOUT = 1200


def run_restarting_the_broker(
    process: Process, workers: list[Process], broker: RedisServer
) -> tuple[int | None, bool]:
    """Wait for ``process``, restarting the broker once ``RESTART_AT`` starts on a worker."""
    restarted = False
    deadline = time.monotonic() + RUN_TIMEOUT
    while process.process.poll() is None and time.monotonic() < deadline:
        if not restarted and any(
            step == RESTART_AT for worker in workers for _, step in started_steps(worker)
        ):
            broker.restart(down_seconds=DOWN_SECONDS)
            restarted = True
        time.sleep(0.1)
    return process.process.poll(), restarted


@pytest.mark.timeout(1800)
def test_a_broker_restarted_mid_run_is_survived_or_the_next_run_finishes_the_work(
    mock_server,
    undisturbed_state,
    postgres_server,
    s3_server,
    tmp_path,
    monkeypatch,
    reliability_report,
):
    broker = start_redis(persistent=True)
    try:
        services = on_services(postgres_server, s3_server, broker, mock_server)
        for name, value in s3_server.environment().items():
            monkeypatch.setenv(name, value)
        days = sample_days()
        launcher = tmp_path / "launcher"
        command = dagster_materialize("*", "--partition-range", f"{days[0]}...{days[-1]}")
        workers = [start_worker(tmp_path / name, services, name) for name in ("w1", "w2")]
        launches: list[Process] = []
        try:
            launches.append(start_process(launcher, services, "run", command))
            code, restarted = run_restarting_the_broker(launches[0], workers, broker)
            assert restarted, f"{RESTART_AT} never started:\n{launches[0].log()[-4000:]}"
            assert code is not None, f"the run hung:\n{launches[0].log()[-4000:]}"
            if code != 0:
                launches.append(start_process(launcher, services, "run-again", command))
                again = launches[1].process.wait(timeout=RUN_TIMEOUT)
                assert again == 0, f"the next run failed:\n{launches[1].log()[-4000:]}"
            client = redis.Redis(port=broker.port, db=0)
            queued, unacknowledged = client.llen("dagster"), client.hlen("unacked")
        finally:
            for launched in launches:
                launched.stop()
            for worker in workers:
                worker.stop()
    finally:
        broker.stop()
    assert (queued, unacknowledged) == (0, 0), "a step's message is left to be delivered again"

    with services.open_instance(launcher / "dagster_home") as instance:
        runs = list(reversed(instance.get_runs()))  # oldest first
        statuses = [run.status for run in runs]
        successes = instance.all_logs(runs[0].run_id, of_type=dg.DagsterEventType.STEP_SUCCESS)
    outcome = "survived" if code == 0 else "failed cleanly, the next run finished"
    print(f"broker restart: the run {outcome}")
    if code == 0:
        assert statuses == [dg.DagsterRunStatus.SUCCESS]
        succeeded = [record.step_key for record in successes]
        assert len(succeeded) == len(set(succeeded)), "a step succeeded twice"
    else:
        # failed cleanly: marked failed, then completed by the next run
        assert statuses == [dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.SUCCESS], statuses

    state = whole_graph_snapshot(tmp_path, days, services.ledger_url, services.lake_url)
    lost, duplicated = lost_and_duplicated(state, undisturbed_state)
    stats = mock_server.stats()
    reliability_report(
        ScenarioFigures(
            scenario=f"celery: the broker restarted as {RESTART_AT} starts ({outcome})",
            faults_injected=1,
            recovered=int((lost, duplicated) == (0, 0)),
            recorded_error=int((state["applications"]["status"] == "ERROR").sum()),
            rows_lost=lost,
            duplicates=duplicated,
        )
    )
    assert (lost, duplicated) == (0, 0)
    assert_same_state(state, undisturbed_state)
    assert stats["decisions"] == application_count()
    assert stats["decision_repeats"] == 0
    dispose_engines()
