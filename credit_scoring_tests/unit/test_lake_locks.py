"""Partition locks, on SQLite and PostgreSQL: one writer per lake partition; a live holder keeps
it (its lease renewed while it works), a killed one loses it at once (same host), a release
frees it."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
import sqlalchemy as sa

from credit_scoring.core.settings import REPO_ROOT
from credit_scoring.lake.locks import LockLost, LockTimeout, partition_lock
from credit_scoring.ledger import Ledger
from credit_scoring.ledger.schema import lake_locks

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
def ledger(ledger_url) -> Ledger:
    return Ledger(ledger_url)


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


def test_a_lease_shorter_than_the_write_is_renewed_and_keeps_the_lock(ledger):
    with partition_lock(ledger.engine, PARTITION, ttl_seconds=0.6):
        time.sleep(2.0)  # three leases long
        with (
            pytest.raises(LockTimeout, match=PARTITION),
            partition_lock(ledger.engine, PARTITION, timeout_seconds=0.5),
        ):
            pass


def test_writers_racing_for_one_partition_hold_it_one_at_a_time(ledger):
    writers, holding, most_at_once, errors = 8, [0], [0], []
    start, guard = threading.Barrier(writers), threading.Lock()

    def write() -> None:
        try:
            start.wait(timeout=30)
            with partition_lock(ledger.engine, PARTITION, timeout_seconds=60):
                with guard:
                    holding[0] += 1
                    most_at_once[0] = max(most_at_once[0], holding[0])
                time.sleep(0.05)
                with guard:
                    holding[0] -= 1
        except Exception as error:
            errors.append(error)

    threads = [threading.Thread(target=write) for _ in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert errors == []
    assert most_at_once[0] == 1


def test_a_holder_whose_lease_was_taken_fails_on_release(ledger):
    with (
        pytest.raises(LockLost, match=PARTITION),
        partition_lock(ledger.engine, PARTITION),
        ledger.engine.begin() as conn,
    ):
        conn.execute(sa.delete(lake_locks))  # as if it expired and another writer took it
