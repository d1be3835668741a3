"""Partition locks: one writer per lake partition; a live holder keeps it, a killed one loses
it at once (same host), a release frees it."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys

import pytest

from credit_scoring.core.settings import REPO_ROOT
from credit_scoring.lake.locks import LockTimeout, partition_lock
from credit_scoring.ledger import Ledger
from credit_scoring.ledger.engine import dispose_engines

PARTITION = "silver/transactions/2026-10-05"
#: Takes the lock for ten minutes (its lease lasts as long), says so, and waits to be killed.
HOLDER = """
import sys, time
from credit_scoring.lake.locks import partition_lock
from credit_scoring.ledger import Ledger
with partition_lock(Ledger(sys.argv[1]).engine, sys.argv[2], ttl_seconds=600):
    print("held", flush=True)
    time.sleep(600)
"""


@pytest.fixture
def ledger(tmp_path) -> Ledger:
    yield Ledger(f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    dispose_engines()


def test_a_held_partition_refuses_a_second_writer_until_released(ledger):
    with (
        partition_lock(ledger.engine, PARTITION),
        pytest.raises(LockTimeout, match=PARTITION),
        partition_lock(ledger.engine, PARTITION, timeout_seconds=0.5),
    ):
        pass
    with partition_lock(ledger.engine, PARTITION, timeout_seconds=0.5) as owner:
        assert ":lock:" in owner


def test_another_partition_is_not_blocked(ledger):
    with (
        partition_lock(ledger.engine, PARTITION),
        partition_lock(ledger.engine, "silver/transactions/2026-10-06", timeout_seconds=0.5),
    ):
        pass


def test_a_live_holder_keeps_the_lock_and_a_killed_one_loses_it_at_once(ledger):
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, ledger.url, PARTITION],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with (
            pytest.raises(LockTimeout, match=f":{holder.pid}:lock:"),
            partition_lock(ledger.engine, PARTITION, timeout_seconds=1),
        ):
            pass

        os.killpg(holder.pid, signal.SIGKILL)
        holder.wait(timeout=30)

        # the holder's lease runs for ten minutes: only its death frees the lock this soon
        with partition_lock(ledger.engine, PARTITION, timeout_seconds=30) as owner:
            assert f":{os.getpid()}:" in owner
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(holder.pid, signal.SIGKILL)
        holder.wait(timeout=30)
