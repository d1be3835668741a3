"""The whole graph on a local cluster of "machines" that share nothing but the services
(PostgreSQL, S3, Redis): a control plane (dagster-daemon, on Dagster's PostgreSQL storage),
the code location served over gRPC by ``dagster code-server start``, and two Celery workers,
each in its own directory with its own empty home.

A three-day backfill, submitted as the UI submits one, is split by the code location's
backfill policy (``CREDIT_SCORING_BACKFILL_RUN_DAYS=1``) into three runs that the daemon
launches through the run queue; every step of every run executes on a worker. The result must
equal the embedded run of the same days, with every application fetched and decided once,
steps on both workers, every partition an object in the bucket, and no table file written on
any machine's disk. The same backfill submitted again changes nothing and reuses the first
one's dbt builds from the bucket.
"""

from __future__ import annotations

import re
from pathlib import Path

import dagster as dg
import pytest
import s3fs

from credit_scoring.lake.tables import DBT_MODEL_TABLES, TABLES
from credit_scoring.ledger.engine import dispose_engines
from credit_scoring_tests.pipeline import (
    assert_same_state,
    lost_and_duplicated,
    sample_days,
    whole_graph_snapshot,
)
from credit_scoring_tests.reliability.test_concurrency import application_count
from devtools.cluster import (
    on_services,
    start_cluster,
    submit_asset_backfill,
    wait_for_backfill,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

#: Celery's INFO line for a step a worker finished (``celery.app.trace``).
FINISHED = re.compile(r"Task execute_plan\[[0-9a-f-]+\] succeeded")
TABLE_SUFFIXES = {".parquet", ".duckdb", ".sqlite", ".db"}


def local_tables(directory: Path) -> list[Path]:
    return [path for path in directory.rglob("*") if path.suffix in TABLE_SUFFIXES]


@pytest.mark.timeout(1500)
def test_a_backfill_split_into_runs_through_the_queue_runs_on_two_workers_as_the_embedded_run(
    mock_server, undisturbed_state, postgres_server, s3_server, redis_server, tmp_path, monkeypatch
):
    services = on_services(postgres_server, s3_server, redis_server, mock_server)
    for name, value in s3_server.environment().items():
        monkeypatch.setenv(name, value)
    days = sample_days()
    cluster = start_cluster(tmp_path, services, workers=2, CREDIT_SCORING_BACKFILL_RUN_DAYS="1")
    try:
        with cluster.open_instance() as instance:
            backfill_id = submit_asset_backfill(instance, days[0], days[-1])
            status = wait_for_backfill(cluster, instance, backfill_id, timeout=1200)
            runs = instance.get_runs()
            # the same days again: the workers find the first backfill's reconciliations and
            # dbt builds in the bucket, their inputs unchanged, and reuse them
            again_id = submit_asset_backfill(instance, days[0], days[-1])
            again_status = wait_for_backfill(cluster, instance, again_id, timeout=1200)
            again_runs = instance.get_runs(
                filters=dg.RunsFilter(tags={"dagster/backfill": again_id})
            )
            features = instance.get_latest_materialization_event(dg.AssetKey("applicant_features"))
    finally:
        cluster.stop()
    logs = "\n".join(piece.log()[-3000:] for piece in cluster.pieces)
    assert status == "COMPLETED_SUCCESS", logs
    # one run per day, all through the queue, all succeeded
    assert len(runs) == len(days), [run.tags for run in runs]
    assert {run.status for run in runs} == {dg.DagsterRunStatus.SUCCESS}

    state = whole_graph_snapshot(tmp_path, days, services.ledger_url, services.lake_url)
    assert lost_and_duplicated(state, undisturbed_state) == (0, 0)
    assert_same_state(state, undisturbed_state)
    stats = mock_server.stats()
    assert stats["requests"]["Authorize"] == application_count()
    assert stats["decisions"] == application_count()
    assert stats["decision_repeats"] == 0
    # the steps spread over both workers
    finished = {worker.name: len(FINISHED.findall(worker.log())) for worker in cluster.workers}
    assert all(count >= 1 for count in finished.values()), finished
    # every partition of every table is an object in the bucket; no machine wrote a table
    objects = set(s3fs.S3FileSystem(use_listings_cache=False).find(services.bucket))
    expected = {
        f"{services.bucket}/lake/{path}/application_date={day}/data.parquet"
        for path in [*TABLES, *DBT_MODEL_TABLES]
        for day in days
    }
    assert expected <= objects, sorted(expected - objects)
    for piece in cluster.pieces:
        assert local_tables(piece.directory) == [], piece.name

    assert again_status == "COMPLETED_SUCCESS", logs
    assert len(again_runs) == len(days)
    assert features is not None
    assert features.run_id in {run.run_id for run in again_runs}
    assert "reused_from" in features.asset_materialization.metadata
    assert_same_state(
        whole_graph_snapshot(tmp_path, days, services.ledger_url, services.lake_url), state
    )
    dispose_engines()
