"""``make bench-cluster``: a generated month backfilled through the local cluster, with one and
with two Celery workers, in one run.

    .venv/bin/python -m bench.cluster_backfill [--applications 125] [--days 30]
        [--workers 1,2] [--run-days 3]

For each worker count, on fresh state (a new ledger database, Dagster database and bucket on
the same local PostgreSQL, S3-compatible server and Redis): the workers (one step at a time
each, every one in its own directory), the code server and the daemon start, a backfill of
every day is submitted as the UI submits one, the daemon splits it into runs of
``--run-days`` days and the run queue runs up to four at once. Timed from submission to the
backfill's completion (the daemon looks at backfills every 30 s, so up to 30 s of that is
its tick), and from the first run's start to the last run's end.

Exactly-once is counted, not assumed: partitions materialised more than once (Dagster's own
records, per asset and day), applications fetched more than once and decisions requested
again (the mock's counters). Results go to ``bench/results/cluster-backfill-<date>.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections import Counter
from contextlib import ExitStack
from datetime import date, timedelta
from pathlib import Path

from bench.figures import CONCURRENCY, DAY, START_DATE, generate_cached
from credit_scoring.core.settings import REPO_ROOT
from devtools.cluster import on_services, start_cluster, submit_asset_backfill, wait_for_backfill
from devtools.postgres import start_postgres
from devtools.redis import start_redis
from devtools.s3 import start_s3
from mock_api.process import start_mock_server

RESULTS = Path(__file__).parent / "results"
FINISHED = "] succeeded in "


def materialised_twice(instance, asset_keys) -> int:
    """Asset partitions with more than one materialisation in Dagster's event log."""
    twice = 0
    for key in asset_keys:
        counts: Counter[str | None] = Counter()
        cursor = None
        while True:
            page = instance.fetch_materializations(key, limit=10_000, cursor=cursor)
            counts.update(record.partition_key for record in page.records)
            if not page.has_more:
                break
            cursor = page.cursor
        twice += sum(1 for count in counts.values() if count > 1)
    return twice


def backfill_once(
    root: Path, services, workers: int, first: str, last: str, extra: dict[str, str]
) -> dict:
    """One backfill of ``first..last`` on ``workers`` workers; its figures."""
    import dagster as dg

    from credit_scoring.definitions import defs

    cluster = start_cluster(root, services, workers=workers, **extra)
    try:
        with cluster.open_instance() as instance:
            submitted = time.monotonic()
            backfill_id = submit_asset_backfill(instance, first, last)
            status = wait_for_backfill(cluster, instance, backfill_id, timeout=6 * 3600)
            seconds = time.monotonic() - submitted
            records = instance.get_run_records()
            keys = defs.resolve_asset_graph().materializable_asset_keys
            twice = materialised_twice(instance, keys)
    finally:
        cluster.stop()
    starts = [r.start_time for r in records if r.start_time]
    ends = [r.end_time for r in records if r.end_time]
    steps = {worker.name: worker.log().count(FINISHED) for worker in cluster.workers}
    return {
        "workers": workers,
        "status": status,
        "runs": len(records),
        "runs_failed": sum(r.dagster_run.status != dg.DagsterRunStatus.SUCCESS for r in records),
        "submitted_to_done_seconds": round(seconds, 1),
        "first_start_to_last_end_seconds": round(max(ends) - min(starts), 1) if ends else None,
        "steps_per_worker": steps,
        "partitions_materialised_twice": twice,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--applications", type=int, default=125, help="applications a day")
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--workers", default="1,2", help="worker counts to compare")
    parser.add_argument("--run-days", default="3", help="days per backfill run")
    parser.add_argument("--cache", type=Path, default=REPO_ROOT / "bench" / "data")
    parser.add_argument("--scratch", type=Path, default=Path("/tmp/credit-scoring-bench-cluster"))
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    start = DAY - timedelta(days=args.days - 1)
    applications = args.applications * args.days
    data = args.cache / f"month-{args.applications}x{args.days}"
    transactions = generate_cached(data, applications, args.days, start)
    print(f"{applications} applications, {transactions:,} transactions", flush=True)
    extra = {"CREDIT_SCORING_BACKFILL_RUN_DAYS": args.run_days}
    # this process submits the backfill: it loads the code location, on the same data
    os.environ["CREDIT_SCORING_APPLICATIONS"] = str(data / "applications.csv")
    os.environ["CREDIT_SCORING_ENV"] = "dev"
    os.environ["CREDIT_SCORING_START_DATE"] = START_DATE
    results = []
    with ExitStack() as stack:
        postgres, s3, redis = start_postgres(), start_s3(), start_redis()
        for server in (postgres, s3, redis):
            stack.callback(server.stop)
        mock = start_mock_server(data, args=("--threads", str(CONCURRENCY)))
        stack.callback(mock.stop)
        for workers in [int(n) for n in args.workers.split(",")]:
            services = on_services(postgres, s3, redis, mock, data / "applications.csv")
            mock.reset_stats()
            figures = backfill_once(
                args.scratch / f"workers-{workers}",
                services,
                workers,
                start.isoformat(),
                DAY.isoformat(),
                extra,
            )
            stats = mock.stats()
            figures["applications_fetched_twice"] = stats["requests"]["Authorize"] - applications
            figures["decisions_requested_again"] = stats["decision_repeats"]
            figures["decisions"] = stats["decisions"]
            print(json.dumps(figures), flush=True)
            results.append(figures)
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = date.today().isoformat()
    (args.out / f"cluster-backfill-{stamp}.json").write_text(json.dumps(results, indent=2))
    lines = [
        f"# {args.days}-day backfill on the local cluster ({applications:,} applications, "
        f"{transactions:,} transactions; runs of {args.run_days} days)\n",
        "| workers | runs | submitted → done (s) | first run start → last run end (s) "
        "| steps per worker | partitions twice | fetched twice | decided again |",
        "|---:|---:|---:|---:|---|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r['workers']} | {r['runs']} ({r['runs_failed']} failed) "
            f"| {r['submitted_to_done_seconds']} | {r['first_start_to_last_end_seconds']} "
            f"| {r['steps_per_worker']} | {r['partitions_materialised_twice']} "
            f"| {r['applications_fetched_twice']} | {r['decisions_requested_again']} |"
        )
    (args.out / f"cluster-backfill-{stamp}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0 if all(r["status"] == "COMPLETED_SUCCESS" for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
