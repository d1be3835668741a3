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

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from credit_scoring.core.environment import environment_set
from credit_scoring.core.settings import REPO_ROOT
from devtools.postgres import SUPERUSER, PostgresServer, start_postgres
from devtools.redis import RedisServer, start_redis
from devtools.s3 import S3Server, start_s3
from devtools.servers import free_port, spawn
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
    #: The applications CSV, as an object in the bucket: no machine reads a local copy.
    applications_url: str

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
            "CREDIT_SCORING_APPLICATIONS": self.applications_url,
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

    def open_instance(self, dagster_home: Path):
        """Dagster's instance on this cluster's PostgreSQL, opened from ``dagster_home``
        (its ``dagster.yaml`` reads the ``DAGSTER_POSTGRES_*`` variables while it opens)."""
        import dagster as dg

        variables = {
            name: value
            for name, value in self.environment().items()
            if name.startswith("DAGSTER_POSTGRES_")
        }
        with environment_set(variables):
            return dg.DagsterInstance.from_config(str(dagster_home))


def on_services(
    postgres: PostgresServer,
    s3: S3Server,
    redis: RedisServer,
    mock: MockServer,
    applications: Path = REPO_ROOT / "data" / "applications.csv",
) -> Services:
    """A fresh ledger database, Dagster database and lake bucket on running servers, with the
    ``applications`` CSV copied into the bucket."""
    bucket = s3.create_bucket()
    return Services(
        postgres=postgres,
        s3=s3,
        redis=redis,
        mock=mock,
        ledger_database=postgres.create_database("ledger"),
        dagster_database=postgres.create_database("dagster"),
        bucket=bucket,
        applications_url=s3.put_object(bucket, "applications.csv", applications.read_bytes()),
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
class Process:
    """A running piece of the cluster: its process (group leader), name, directory and log."""

    name: str
    directory: Path
    process: subprocess.Popen
    log_path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log_path = self.directory / f"{self.name}.log"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, grace_seconds: float = 20.0) -> None:
        stop_process_group(self.process, grace_seconds)


def start_process(
    directory: Path, services: Services, name: str, command: list[str], **extra: str
) -> Process:
    """``command`` on its own "machine" ``directory`` (its working directory), logged to
    ``directory/<name>.log``."""
    directory.mkdir(parents=True, exist_ok=True)
    env = machine_environment(directory, services, **extra)
    process = spawn(
        command, directory / f"{name}.log", cwd=directory, env={**env, "PYTHONUNBUFFERED": "1"}
    )
    return Process(name=name, directory=directory, process=process)


def start_worker(
    directory: Path, services: Services, name: str, *, concurrency: int = 1, **extra: str
) -> Process:
    """``python -m credit_scoring.worker`` taking ``concurrency`` steps at a time."""
    command = [
        *(sys.executable, "-m", "credit_scoring.worker"),
        *("--name", name, "--concurrency", str(concurrency)),
    ]
    return start_process(directory, services, name, command, **extra)


def _dagster(program: str) -> str:
    return str(Path(sys.executable).with_name(program))


def start_code_server(directory: Path, services: Services, port: int, **extra: str) -> Process:
    """The code location served over gRPC (``dagster code-server start``); runs launched by
    the daemon start here, on this machine."""
    command = [
        *(_dagster("dagster"), "code-server", "start", "-m", "credit_scoring.definitions"),
        *("-h", "127.0.0.1", "-p", str(port)),
    ]
    return start_process(directory, services, "code-server", command, **extra)


def write_workspace(directory: Path, code_server_port: int) -> Path:
    """A workspace that reaches the code location over gRPC only (no local Python code)."""
    directory.mkdir(parents=True, exist_ok=True)
    workspace = directory / "workspace.yaml"
    workspace.write_text(
        "load_from:\n"
        "  - grpc_server:\n"
        "      host: 127.0.0.1\n"
        f"      port: {code_server_port}\n"
        "      location_name: credit_scoring\n",
        encoding="utf-8",
    )
    return workspace


def start_daemon(directory: Path, services: Services, workspace: Path, **extra: str) -> Process:
    command = [_dagster("dagster-daemon"), "run", "-w", str(workspace)]
    return start_process(directory, services, "daemon", command, **extra)


def start_webserver(
    directory: Path, services: Services, workspace: Path, port: int, **extra: str
) -> Process:
    command = [
        *(_dagster("dagster-webserver"), "-w", str(workspace)),
        *("-h", "127.0.0.1", "-p", str(port)),
    ]
    return start_process(directory, services, "webserver", command, **extra)


def wait_for_port(port: int, process: Process, timeout: float = 120.0) -> None:
    """Until something accepts connections on 127.0.0.1:``port``; fails if ``process`` exits."""
    deadline = time.monotonic() + timeout
    while True:
        if process.process.poll() is not None:
            raise RuntimeError(f"{process.name} exited:\n{process.log()[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"{process.name} did not listen on {port} within {timeout:.0f} s"
                ) from None
            time.sleep(0.2)


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
    return on_services(postgres, s3, redis, mock, data_dir / "applications.csv")


@dataclass
class Cluster:
    """The machines of a running cluster: the workers, the code server, the control plane."""

    root: Path
    services: Services
    workers: list[Process]
    others: list[Process]

    @property
    def pieces(self) -> list[Process]:
        return [*self.workers, *self.others]

    @property
    def control(self) -> Path:
        """The control plane's machine: the daemon, the webserver and their workspace."""
        return self.root / "control-plane"

    def open_instance(self):
        """Dagster's instance as the control plane sees it (its ``DAGSTER_HOME``)."""
        return self.services.open_instance(self.control / "dagster_home")

    def check_running(self) -> None:
        """Fails, naming the piece and showing its log's end, once any piece has exited."""
        for piece in self.pieces:
            if piece.process.poll() is not None:
                raise RuntimeError(f"{piece.name} exited:\n{piece.log()[-3000:]}")

    def stop(self) -> None:
        for piece in reversed(self.pieces):
            piece.stop()


def start_cluster(
    root: Path,
    services: Services,
    *,
    workers: int = 2,
    webserver_port: int | None = None,
    **extra: str,
) -> Cluster:
    """``workers`` Celery workers, the code server and the control plane (the daemon, and the
    webserver when given a port), each on its own "machine" under ``root``."""
    cluster = Cluster(root=root, services=services, workers=[], others=[])
    try:
        for number in range(1, workers + 1):
            name = f"worker-{number}"
            cluster.workers.append(start_worker(root / name, services, name, **extra))
        code_port = free_port()
        cluster.others.append(start_code_server(root / "code-server", services, code_port, **extra))
        wait_for_port(code_port, cluster.others[-1])
        workspace = write_workspace(cluster.control, code_port)
        cluster.others.append(start_daemon(cluster.control, services, workspace, **extra))
        if webserver_port is not None:
            webserver = start_webserver(
                cluster.control, services, workspace, webserver_port, **extra
            )
            cluster.others.append(webserver)
            wait_for_port(webserver_port, webserver)
    except BaseException:
        cluster.stop()
        raise
    return cluster


def submit_asset_backfill(instance, first: str, last: str) -> str:
    """Submit an asset backfill of the whole graph over ``first..last``, as the UI does; the
    daemon plans its runs with the code location's backfill policy."""
    import dagster as dg
    from dagster._core.execution.backfill import PartitionBackfill
    from dagster._core.utils import make_new_backfill_id

    from credit_scoring.core.partitions import daily_partitions
    from credit_scoring.definitions import defs

    graph = defs.resolve_asset_graph()
    partitions = daily_partitions.get_partition_keys_in_range(dg.PartitionKeyRange(first, last))
    backfill = PartitionBackfill.from_asset_partitions(
        backfill_id=make_new_backfill_id(),
        asset_graph=graph,
        partition_names=partitions,
        asset_selection=list(graph.materializable_asset_keys),
        backfill_timestamp=time.time(),
        tags={},
        dynamic_partitions_store=instance,
        all_partitions=False,
        title=f"backfill {first}..{last}",
        description=None,
        run_config=None,
    )
    instance.add_backfill(backfill)
    return backfill.backfill_id


#: A backfill's states once the daemon is done with it.
BACKFILL_DONE = {"COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}


def wait_for_backfill(cluster: Cluster, instance, backfill_id: str, timeout: float) -> str:
    """Until the daemon is done with the backfill (its final status), while every piece runs."""
    deadline = time.monotonic() + timeout
    while (status := instance.get_backfill(backfill_id).status.value) not in BACKFILL_DONE:
        if time.monotonic() > deadline:
            raise TimeoutError(f"backfill {backfill_id} still {status} after {timeout:.0f} s")
        cluster.check_running()
        time.sleep(2)
    return status


def main(argv: list[str] | None = None) -> int:
    """``make cluster``: every piece as a plain process, each in its own directory."""
    parser = argparse.ArgumentParser(prog="python -m devtools.cluster", description=__doc__)
    parser.add_argument("--workers", type=int, default=2, help="Celery workers (default 2)")
    parser.add_argument("--port", type=int, default=3000, help="the webserver's port")
    parser.add_argument(
        "--backfill-run-days",
        default="3",
        help="days per run of a backfill launched from the UI (default 3)",
    )
    parser.add_argument("--root", type=Path, help="where each machine's directory goes")
    args = parser.parse_args(argv)
    # Ctrl-C, and a plain `kill`, stop every piece: the pieces run in sessions of their own (a
    # terminal's Ctrl-C never reaches them), so this process stops them on the way out, even
    # when it was started with SIGINT ignored (in the background)
    for stop_signal in (signal.SIGINT, signal.SIGTERM):
        signal.signal(stop_signal, signal.default_int_handler)
    root = args.root or Path(tempfile.mkdtemp(prefix="credit-scoring-cluster-"))
    extra = {"CREDIT_SCORING_BACKFILL_RUN_DAYS": args.backfill_run_days}
    with ExitStack() as stack:
        services = start_services(stack)
        cluster = start_cluster(
            root, services, workers=args.workers, webserver_port=args.port, **extra
        )
        stack.callback(cluster.stop)
        print(
            f"The cluster is up: http://127.0.0.1:{args.port}\n"
            f"  lake {services.lake_url}; ledger and Dagster on PostgreSQL, port "
            f"{services.postgres.port}; broker {services.redis.url(0)}\n"
            f"  each machine's directory and log under {root}:\n"
            + "".join(f"    {piece.name}: {piece.log_path}\n" for piece in cluster.pieces)
            + "Ctrl-C stops all of it.",
            flush=True,
        )
        try:
            while True:
                cluster.check_running()
                time.sleep(1)
        except RuntimeError as stopped:
            print(f"{stopped}\nstopping the cluster", flush=True)
            return 1
        except KeyboardInterrupt:
            return 0


if __name__ == "__main__":
    raise SystemExit(main())
