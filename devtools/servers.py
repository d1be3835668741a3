"""What every throwaway server on loopback shares: a free port, and waiting until it answers."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def spawn(command: list[str], log_path: Path, **popen: object) -> subprocess.Popen:
    """``command`` in a session of its own (stopped by process group, never by a terminal's
    Ctrl-C), its output and errors to ``log_path``."""
    with open(log_path, "wb") as log:
        return subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, **popen
        )


def wait_until_ready(
    name: str,
    process: subprocess.Popen,
    ready: Callable[[], bool],
    *,
    timeout: float,
    stop: Callable[[], None],
    error: type[Exception],
    log: Path | None = None,
) -> None:
    """Poll ``ready`` until it answers True. If the server exits first or ``timeout`` passes,
    ``stop`` it and raise ``error`` saying which (with the end of its ``log``)."""
    deadline = time.monotonic() + timeout
    while not ready():
        if process.poll() is not None:
            output = log.read_text(errors="replace")[-2000:] if log else ""
            stop()
            raise error(f"{name} exited with {process.returncode}: {output}".rstrip(": "))
        if time.monotonic() > deadline:
            stop()
            raise error(f"{name} did not answer within {timeout:.0f} s")
        time.sleep(0.1)
