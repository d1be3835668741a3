"""A throwaway PostgreSQL server on loopback, for the tests and for trying the scaled stack.

It runs the ``postgres`` binary of the host's PostgreSQL (Debian's ``postgresql`` package,
which ``make postgres`` installs) as a child process in its own process group, on a free port,
its data in a new temporary directory that is removed when it stops. PostgreSQL refuses to run
as root, so as root the server runs as the ``postgres`` user the package creates.

Durability is traded for speed (``fsync=off``): this server is for tests and trials, never for
a lender's ledger.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg

from devtools.servers import free_port, spawn, wait_until_ready

#: Where Debian installs the server programs (``/usr/lib/postgresql/<major>/bin``).
_DEBIAN_BINARIES = "/usr/lib/postgresql/*/bin"
SUPERUSER = "postgres"


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server program on this host, or it did not start; says what to do."""


def server_binaries() -> Path:
    """The directory holding ``initdb`` and ``postgres`` (newest Debian major first)."""
    configured = os.environ.get("PG_BIN")
    candidates = [configured] if configured else []
    candidates += sorted(glob.glob(_DEBIAN_BINARIES), reverse=True)
    which = shutil.which("initdb")
    if which:
        candidates.append(str(Path(which).resolve().parent))
    for candidate in candidates:
        if (Path(candidate) / "postgres").exists() and (Path(candidate) / "initdb").exists():
            return Path(candidate)
    raise PostgresUnavailable(
        "no PostgreSQL server programs found (looked in $PG_BIN and "
        f"{_DEBIAN_BINARIES}): run `make postgres` (Debian's postgresql package)"
    )


@dataclass
class PostgresServer:
    """A running server: its process (group leader), port and directory."""

    process: subprocess.Popen
    port: int
    directory: Path

    def url(self, database: str = SUPERUSER, driver: str = "psycopg") -> str:
        """SQLAlchemy URL of ``database`` (``driver``: psycopg for the ledger, psycopg2 for
        Dagster's storage)."""
        return f"postgresql+{driver}://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def connect(self, database: str = SUPERUSER) -> psycopg.Connection:
        return psycopg.connect(
            host="127.0.0.1", port=self.port, user=SUPERUSER, dbname=database, autocommit=True
        )

    def create_database(self, prefix: str = "ledger") -> str:
        """A new empty database; returns its name."""
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        with self.connect() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return name

    def stop(self, grace_seconds: float = 10.0) -> None:
        """Fast shutdown (SIGINT: clients are disconnected), then KILL; the data is removed."""
        try:
            if self.process.poll() is None:
                try:
                    os.killpg(self.process.pid, signal.SIGINT)
                    self.process.wait(timeout=grace_seconds)
                except subprocess.TimeoutExpired:
                    os.killpg(self.process.pid, signal.SIGKILL)
                    self.process.wait(timeout=grace_seconds)
                except ProcessLookupError:
                    pass
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)


def _server_user() -> dict:
    """Popen's arguments to run as the ``postgres`` user when we are root (it refuses root)."""
    if os.geteuid() != 0:
        return {}
    try:
        entry = pwd.getpwnam(SUPERUSER)
    except KeyError as missing:
        raise PostgresUnavailable(
            "running as root, and there is no `postgres` user to run PostgreSQL as: "
            "run `make postgres` (Debian's postgresql package creates it)"
        ) from missing
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def start_postgres(*, port: int = 0, ready_timeout: float = 60.0) -> PostgresServer:
    """Initialise a cluster in a new temporary directory and start it on 127.0.0.1."""
    binaries = server_binaries()
    as_user = _server_user()
    directory = Path(tempfile.mkdtemp(prefix="credit-scoring-postgres-"))
    if as_user:
        os.chown(directory, as_user["user"], as_user["group"])
    data = directory / "data"
    init = subprocess.run(
        [
            *(str(binaries / "initdb"), "-D", str(data), "-U", SUPERUSER, "-A", "trust"),
            *("-E", "UTF8", "--locale=C", "--no-sync"),
        ],
        capture_output=True,
        text=True,
        check=False,
        **as_user,
    )
    if init.returncode != 0:
        shutil.rmtree(directory, ignore_errors=True)
        raise PostgresUnavailable(f"initdb failed ({init.returncode}): {init.stderr.strip()}")
    port = port or free_port()
    process = spawn(
        [
            *(str(binaries / "postgres"), "-D", str(data), "-p", str(port), "-k", str(directory)),
            *("-c", "listen_addresses=127.0.0.1", "-c", "max_connections=200"),
            *("-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"),
        ],
        directory / "postgres.log",
        **as_user,
    )
    server = PostgresServer(process=process, port=port, directory=directory)

    def accepts_connections() -> bool:
        try:
            with server.connect():
                return True
        except psycopg.OperationalError:
            return False

    wait_until_ready(
        f"postgres on 127.0.0.1:{port}",
        process,
        accepts_connections,
        timeout=ready_timeout,
        stop=server.stop,
        error=PostgresUnavailable,
        log=directory / "postgres.log",
    )
    return server


def main() -> int:
    """``make postgres-server``: a throwaway server with a ledger and a Dagster database, the
    variables that point the pipeline at them, and Ctrl-C to stop (its data goes with it)."""
    server = start_postgres()
    try:
        ledger, dagster = server.create_database("ledger"), server.create_database("dagster")
        print(
            "PostgreSQL is running; in another shell:\n\n"
            f"  export CREDIT_SCORING_LEDGER_URL={server.url(ledger)}\n"
            f"  export DAGSTER_POSTGRES_HOST=127.0.0.1 DAGSTER_POSTGRES_PORT={server.port} "
            f"DAGSTER_POSTGRES_DB={dagster} DAGSTER_POSTGRES_USER={SUPERUSER} "
            "DAGSTER_POSTGRES_PASSWORD=\n\n"
            "and copy deploy/dagster.yaml into $DAGSTER_HOME. Ctrl-C stops it and deletes its "
            "data.",
            flush=True,
        )
        server.process.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
