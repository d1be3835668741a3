"""Partition locks: one writer at a time per lake partition file.

A lock is a lease row in ``lake_locks``, in the ledger's database, because every process that
writes the lake already shares that database (SQLite locally, PostgreSQL when writers are on
several machines). A lease held by a dead process on this host is broken at once; one held
elsewhere is broken when it expires.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import sqlalchemy as sa

from credit_scoring.ledger.owners import new_owner_token, owner_is_dead
from credit_scoring.ledger.schema import lake_locks
from credit_scoring.ledger.sql import aware, utcnow


class LockTimeout(TimeoutError):
    """A lake partition stayed locked by another live writer for too long."""


@contextmanager
def partition_lock(
    engine: sa.Engine,
    name: str,
    *,
    ttl_seconds: float = 600.0,
    timeout_seconds: float = 900.0,
) -> Iterator[str]:
    """Exclusive lease on ``name`` (a lake partition) while its file is rewritten.

    Yields the owner token of the lease. Waits (backing off up to 0.5 s between tries) while a
    live holder has it, and raises :class:`LockTimeout` after ``timeout_seconds``.
    """
    owner = new_owner_token("lock")
    t = lake_locks
    deadline = time.monotonic() + timeout_seconds
    wait = 0.02
    while True:
        now = utcnow()
        with engine.begin() as conn:
            holder = conn.execute(
                sa.select(t.c.owner, t.c.expires_at).where(t.c.name == name)
            ).first()
            if holder is not None and (
                aware(holder.expires_at) < now or owner_is_dead(holder.owner)
            ):
                conn.execute(t.delete().where(t.c.name == name, t.c.owner == holder.owner))
                holder = None
            if holder is None:
                conn.execute(
                    t.insert().values(
                        name=name, owner=owner, expires_at=now + timedelta(seconds=ttl_seconds)
                    )
                )
                break
        if time.monotonic() > deadline:
            raise LockTimeout(
                f"lake partition {name!r} is locked by {holder.owner} (until "
                f"{holder.expires_at}); if that run is gone, delete the row from lake_locks"
            )
        time.sleep(wait)
        wait = min(wait * 2, 0.5)
    try:
        yield owner
    finally:
        with engine.begin() as conn:
            conn.execute(t.delete().where(t.c.name == name, t.c.owner == owner))
