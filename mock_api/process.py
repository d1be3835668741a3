"""Start and stop the mock server as a real process (used by the demo, `make dev` and tests).

The server runs in its own session (process group) so that stopping it never touches anything
else, and a crash of the caller cannot leave workers behind once the group is killed.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx

_LISTENING = re.compile(r"listening on (http://[\d.]+:\d+)")


@dataclass
class MockServer:
    """A running mock server process."""

    process: subprocess.Popen[str]
    base_url: str

    def stats(self) -> dict:
        return httpx.get(f"{self.base_url}/_mock/stats", timeout=10).json()

    def reset_stats(self) -> None:
        httpx.post(f"{self.base_url}/_mock/reset", timeout=10).raise_for_status()

    def stop(self, grace_seconds: float = 5.0) -> None:
        stop_process_group(self.process, grace_seconds)


def stop_process_group(process: subprocess.Popen, grace_seconds: float = 5.0) -> None:
    """TERM the process group, then KILL it if it has not exited within the grace period."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=grace_seconds)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        process.wait(timeout=grace_seconds)


def start_mock_server(
    data_dir: Path | str,
    *,
    args: Sequence[str] = (),
    host: str = "127.0.0.1",
    port: int = 0,
    ready_timeout: float = 60.0,
    env: dict[str, str] | None = None,
) -> MockServer:
    """Start ``python -m mock_api`` and wait until ``/health`` answers."""
    command = [
        sys.executable,
        "-m",
        "mock_api",
        "--data-dir",
        str(data_dir),
        "--host",
        host,
        "--port",
        str(port),
        *args,
    ]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=None,
        text=True,
        start_new_session=True,
        env={**os.environ, **(env or {})},
    )
    try:
        base_url = _read_base_url(process, ready_timeout)
        _wait_healthy(base_url, process, ready_timeout)
    except BaseException:
        stop_process_group(process)
        raise
    return MockServer(process=process, base_url=base_url)


@contextmanager
def running_mock_server(data_dir: Path | str, **kwargs: object) -> Iterator[MockServer]:
    """Context manager form of :func:`start_mock_server`; always stops the process group."""
    server = start_mock_server(data_dir, **kwargs)  # type: ignore[arg-type]
    try:
        yield server
    finally:
        server.stop()


def _read_base_url(process: subprocess.Popen[str], timeout: float) -> str:
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            if process.poll() is not None:
                raise RuntimeError(
                    f"mock server exited with code {process.returncode} before listening"
                )
            continue
        match = _LISTENING.search(line)
        if match:
            # Keep draining stdout so a chatty server can never block on a full pipe.
            threading.Thread(
                target=_drain, args=(process.stdout,), daemon=True, name="mock-stdout"
            ).start()
            return match.group(1)
    raise TimeoutError(f"mock server did not report its address within {timeout:.0f}s")


def _drain(stream: IO[str]) -> None:
    for line in stream:
        sys.stderr.write(line)


def _wait_healthy(base_url: str, process: subprocess.Popen[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"mock server exited with code {process.returncode}")
        try:
            if httpx.get(f"{base_url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"mock server at {base_url} not healthy within {timeout:.0f}s")
