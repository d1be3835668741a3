"""The local Dagster instance: DAGSTER_HOME under CREDIT_SCORING_HOME, and its dagster.yaml.

``make dev``, ``make demo`` and the tests write the same ``dagster.yaml``:

- telemetry off;
- a run queue (the daemon launches at most four runs at once; more wait, in order). No pool
  holds runs back: every table is in the lake, each partition written under its own lock, so
  overlapping runs and backfills share nothing but the ledger's and the lake's locks;
- run monitoring, so a run whose process died (OOM, kill -9) is marked failed instead of
  showing as running for ever.

Production instances (PostgreSQL storage, Kubernetes or Celery run launchers) set the same
``concurrency`` and ``run_monitoring`` blocks in their own dagster.yaml.
"""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
from filelock import FileLock

from credit_scoring.core.settings import load_settings

DAGSTER_YAML = """\
# Local instance settings for this checkout (written by devtools.instance).
telemetry:
  enabled: false
concurrency:
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

#: Written in DAGSTER_HOME once the instance's storage has been created by a first open.
STORAGE_READY = ".storage-ready"
#: The run storage this yaml's default (SQLite) storage creates on that first open.
RUN_STORAGE = Path("history") / "runs.db"


def write_dagster_yaml(home: Path, *, overwrite: bool = False) -> Path:
    """Write this project's ``dagster.yaml`` into ``home`` (kept if present, unless asked).

    Also opens the instance once, so its storage exists before any run: runs started at once
    on a fresh home take turns here (a file lock), since Dagster creates its SQLite storage on
    first open and two processes creating it together both fail. A marker written after that
    first open spares later calls the open (a third of a second of a re-run's start-up),
    as long as the run storage it vouches for is still there (an operator who deletes
    ``history/`` to start afresh gets it created again here, not by runs racing each other).
    """
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    ready = home / STORAGE_READY
    with FileLock(str(home / ".instance.lock"), timeout=300):
        if overwrite or not config.exists():
            config.write_text(DAGSTER_YAML, encoding="utf-8")
            ready.unlink(missing_ok=True)
        if not (ready.exists() and (home / RUN_STORAGE).exists()):
            with dg.DagsterInstance.from_config(str(home)):
                pass
            ready.touch()
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
