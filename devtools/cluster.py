"""A local cluster of plain processes: the services a deployment shares, and Celery workers that
share nothing else.

- services: PostgreSQL (the ledger and Dagster's storage), an S3-compatible server (the lake),
  Redis (Celery's broker and result backend), and the mock Flinks + Taktile server;
- workers: ``python -m credit_scoring.worker``, each in its own directory with its own empty
  ``CREDIT_SCORING_HOME`` and its own ``DAGSTER_HOME`` (the same ``deploy/dagster.yaml``), so
  a step that reached for a local file would find nothing there.

The tests start the pieces they need from here; ``python -m devtools.cluster`` (``make
cluster``) starts all of them plus dagster-daemon, the webserver and the code server, and
Ctrl-C stops everything it started.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from credit_scoring.core.settings import REPO_ROOT
from devtools.postgres import SUPERUSER, PostgresServer, start_postgres
from devtools.redis import RedisServer, start_redis
from devtools.s3 import S3Server, start_s3
from mock_api.process import MockServer, start_mock_server, stop_process_group

DEPLOY_DAGSTER_YAML = REPO_ROOT / "deploy" / "dagster.yaml"


@dataclass
class Services:
    """The shared services and the databases and bucket this cluster uses on them."""

    postgres: PostgresServer
    s3: S3Server
    redis: RedisServer
    mock: MockServer
    ledger_database: str
    dagster_database: str
    bucket: str

    @property
    def lake_url(self) -> str:
        return f"s3://{self.bucket}/lake"

    @property
    def ledger_url(self) -> str:
        return self.postgres.url(self.ledger_database)

    def environment(self, **extra: str) -> dict[str, str]:
        """What every process of the cluster is given: where the services are, nothing local."""
        return {
            "CREDIT_SCORING_ENV": "dev",
            "CREDIT_SCORING_EXECUTOR": "celery",
            "CREDIT_SCORING_CELERY_BROKER_URL": self.redis.url(0),
            "CREDIT_SCORING_CELERY_BACKEND_URL": self.redis.url(1),
            "CREDIT_SCORING_LEDGER_URL": self.ledger_url,
            "CREDIT_SCORING_LAKE_URL": self.lake_url,
            "FLINKS_BASE_URL": self.mock.base_url,
            "TAKTILE_BASE_URL": self.mock.base_url,
            "DAGSTER_POSTGRES_HOST": "127.0.0.1",
            "DAGSTER_POSTGRES_PORT": str(self.postgres.port),
            "DAGSTER_POSTGRES_DB": self.dagster_database,
            "DAGSTER_POSTGRES_USER": SUPERUSER,
            "DAGSTER_POSTGRES_PASSWORD": "",
            **self.s3.environment(),
            **extra,
        }


def on_services(
    postgres: PostgresServer, s3: S3Server, redis: RedisServer, mock: MockServer
) -> Services:
    """A fresh ledger database, Dagster database and lake bucket on running servers."""
    return Services(
        postgres=postgres,
        s3=s3,
        redis=redis,
        mock=mock,
        ledger_database=postgres.create_database("ledger"),
        dagster_database=postgres.create_database("dagster"),
        bucket=s3.create_bucket(),
    )


def dagster_home(directory: Path) -> Path:
    """A ``DAGSTER_HOME`` holding the deployment's ``dagster.yaml`` (PostgreSQL storage)."""
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(DEPLOY_DAGSTER_YAML, directory / "dagster.yaml")
    return directory


def machine_environment(directory: Path, services: Services, **extra: str) -> dict[str, str]:
    """The environment of one "machine": its own empty home and Dagster home under
    ``directory``, the shared services for everything else."""
    home = directory / "home"
    home.mkdir(parents=True, exist_ok=True)
    return {
        **os.environ,
        **services.environment(**extra),
        "CREDIT_SCORING_HOME": str(home),
        "DAGSTER_HOME": str(dagster_home(directory / "dagster_home")),
    }


@dataclass
class Worker:
    """A running worker: its process (group leader), name, directory and log."""

    name: str
    directory: Path
    process: subprocess.Popen
    log_path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log_path = self.directory / "worker.log"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, grace_seconds: float = 20.0) -> None:
        stop_process_group(self.process, grace_seconds)


def start_worker(
    directory: Path, services: Services, name: str, *, concurrency: int = 1, **extra: str
) -> Worker:
    """``python -m credit_scoring.worker`` in ``directory`` (its working directory too)."""
    directory.mkdir(parents=True, exist_ok=True)
    env = machine_environment(directory, services, **extra)
    with open(directory / "worker.log", "wb") as log:
        process = subprocess.Popen(
            [
                *(sys.executable, "-m", "credit_scoring.worker"),
                *("--name", name, "--concurrency", str(concurrency)),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=directory,
            env={**env, "PYTHONUNBUFFERED": "1"},
            start_new_session=True,
        )
    return Worker(name=name, directory=directory, process=process)


def start_services(stack: ExitStack, data_dir: Path = REPO_ROOT / "data") -> Services:
    """Start every shared service; ``stack`` stops them, last started first."""
    postgres = start_postgres()
    stack.callback(postgres.stop)
    s3 = start_s3()
    stack.callback(s3.stop)
    redis = start_redis()
    stack.callback(redis.stop)
    mock = start_mock_server(data_dir)
    stack.callback(mock.stop)
    return on_services(postgres, s3, redis, mock)
