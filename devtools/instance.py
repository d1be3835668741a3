"""The local Dagster instance: DAGSTER_HOME under CREDIT_SCORING_HOME, and its dagster.yaml.

``make dev``, ``make demo`` and the tests write the same ``dagster.yaml``:

- telemetry off;
- the ``warehouse`` pool (every step that opens DuckDB: dbt, decisions, their checks) limited
  to one run at a time, so overlapping runs and backfills launched from the UI, schedules and
  sensors wait in the run queue for the single-writer warehouse instead of failing on its file
  lock. The granularity is the run, not the step: a step slot held by a run that was killed
  (OOM, kill -9) would block every later run's warehouse steps until freed by hand, whereas a
  queued run only waits for runs the instance still considers in progress (and run
  monitoring fails dead ones). Runs started outside the queue (CLI, ``materialize()``) are not
  limited; they wait for DuckDB's file lock with bounded retries instead;
- a run queue (the daemon launches at most four runs at once; more wait, in order);
- run monitoring, so a run whose process died (OOM, kill -9) is marked failed and its pool
  slot is given back instead of blocking every later run.

Production instances (PostgreSQL storage, Kubernetes or Celery run launchers) set the same
``concurrency`` and ``run_monitoring`` blocks in their own dagster.yaml.
"""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
from filelock import FileLock

from credit_scoring.core.pools import WAREHOUSE_POOL
from credit_scoring.core.settings import load_settings

DAGSTER_YAML = f"""\
# Local instance settings for this checkout (written by devtools.instance).
telemetry:
  enabled: false
concurrency:
  pools:
    # runs with steps in the "{WAREHOUSE_POOL}" pool (DuckDB allows one writer): one at a time
    default_limit: 1
    granularity: run
  runs:
    max_concurrent_runs: 4
run_queue:
  dequeue_interval_seconds: 2
run_monitoring:
  enabled: true
  start_timeout_seconds: 180
  poll_interval_seconds: 20
  max_resume_run_attempts: 0
  free_slots_after_run_end_seconds: 15
"""


def write_dagster_yaml(home: Path, *, overwrite: bool = False) -> Path:
    """Write this project's ``dagster.yaml`` into ``home`` (kept if present, unless asked).

    Also registers the ``warehouse`` pool in the instance at its default limit: the run queue
    only holds back runs for pools it knows, and Dagster registers a pool when a step first
    claims it, so on a fresh instance the first overlapping runs would all be let through.
    Runs started at once on a fresh home take turns here (a file lock): Dagster creates its
    SQLite storage on first open, and two processes creating it together both fail.
    """
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    with FileLock(str(home / ".instance.lock"), timeout=300):
        if overwrite or not config.exists():
            config.write_text(DAGSTER_YAML, encoding="utf-8")
        with dg.DagsterInstance.from_config(str(home)) as instance:
            instance.event_log_storage.initialize_concurrency_limit_to_default(WAREHOUSE_POOL)
    return config


def ensure_dagster_home() -> Path:
    """Use DAGSTER_HOME if set, else ``$CREDIT_SCORING_HOME/dagster_home``; create its yaml."""
    home = Path(os.environ.get("DAGSTER_HOME") or load_settings().dagster_home)
    write_dagster_yaml(home)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def local_instance() -> dg.DagsterInstance:
    ensure_dagster_home()
    return dg.DagsterInstance.get()
