"""Partition locks: one writer at a time per lake partition file.

A lock is a lease row in ``lake_locks``, in the ledger's database, because every process that
writes the lake already shares that database (SQLite locally, PostgreSQL when writers are on
several machines). It is taken with ``INSERT ... ON CONFLICT DO NOTHING``, so of two writers
racing on PostgreSQL's READ COMMITTED exactly one inserts the row and the other sees it held.

The holder renews its lease while it works (every third of the lease), so a write that takes
longer than the lease never loses the lock to a second writer. A lease held by a dead process
on this host is broken at once; one held elsewhere when it expires, that is within one lease
of its holder's death. A holder whose lease was taken anyway (its database unreachable for a
whole lease) learns it on release: :class:`LockLost` fails its run rather than let it pass.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from credit_scoring.ledger.owners import new_owner_token, on_this_host, owner_is_dead
from credit_scoring.ledger.schema import lake_locks
from credit_scoring.ledger.sql import aware, insert_ignore, utcnow

#: How long a lease lasts without renewal: how long a crashed holder on another host blocks.
LEASE_SECONDS = 60.0


class LockTimeout(TimeoutError):
    """A lake partition stayed locked by another live writer for too long."""


class LockLost(RuntimeError):
    """The lease expired and was taken over while its holder was still writing."""


def _try_take(
    engine: sa.Engine, name: str, owner: str, ttl_seconds: float
) -> tuple[bool, sa.Row | None]:
    """Take the lease if free (or held by the dead / expired): (taken, the live holder if not;
    None when the holder let go meanwhile)."""
    t = lake_locks
    now = utcnow()
    current_holder = sa.select(t.c.owner, t.c.expires_at).where(t.c.name == name)
    with engine.begin() as conn:
        holder = conn.execute(current_holder).first()
        if holder is not None and (aware(holder.expires_at) < now or owner_is_dead(holder.owner)):
            # compare-and-set on the owner: of two breakers only one deletes the row
            conn.execute(t.delete().where(t.c.name == name, t.c.owner == holder.owner))
        # RETURNING, not rowcount: SQLAlchemy reports no rowcount for a psycopg INSERT
        taken = conn.execute(
            insert_ignore(engine, t)
            .values(name=name, owner=owner, expires_at=now + timedelta(seconds=ttl_seconds))
            .returning(t.c.name)
        ).first()
        if taken is not None:
            return True, None
        return False, conn.execute(current_holder).first()


class _Renewer(threading.Thread):
    """Pushes the lease's expiry forward every ``ttl / 3`` seconds until stopped."""

    def __init__(self, engine: sa.Engine, name: str, owner: str, ttl_seconds: float) -> None:
        super().__init__(name=f"lease-renewer {name}", daemon=True)
        self.engine, self.lock_name, self.owner, self.ttl = engine, name, owner, ttl_seconds
        self.stopped = threading.Event()
        self.lost = False

    def run(self) -> None:
        t = lake_locks
        while not self.stopped.wait(self.ttl / 3):
            try:
                with self.engine.begin() as conn:
                    renewed = conn.execute(
                        t.update()
                        .where(t.c.name == self.lock_name, t.c.owner == self.owner)
                        .values(expires_at=utcnow() + timedelta(seconds=self.ttl))
                    ).rowcount
            except sa.exc.OperationalError:
                continue  # the database is busy or unreachable: the next tick tries again
            if renewed == 0:
                self.lost = True
                return


@contextmanager
def partition_lock(
    engine: sa.Engine,
    name: str,
    *,
    ttl_seconds: float = LEASE_SECONDS,
    timeout_seconds: float = 900.0,
) -> Iterator[str]:
    """Exclusive, renewed lease on ``name`` (a lake partition) while its file is rewritten.

    Yields the owner token of the lease. Waits (backing off up to 0.5 s between tries) while a
    live holder has it, and raises :class:`LockTimeout` after ``timeout_seconds``.
    """
    owner = new_owner_token("lock")
    deadline = time.monotonic() + timeout_seconds
    wait = 0.02
    while True:
        taken, holder = _try_take(engine, name, owner, ttl_seconds)
        if taken:
            break
        if holder is None:
            continue
        if time.monotonic() > deadline:
            raise LockTimeout(
                f"lake partition {name!r} is still locked by {holder.owner}, which renews its "
                f"lease (until {holder.expires_at}): that writer is alive; `python -m "
                "credit_scoring.ledger locks` shows it, and `unlock` releases it once it is gone"
            )
        time.sleep(wait)
        wait = min(wait * 2, 0.5)
    renewer = _Renewer(engine, name, owner, ttl_seconds)
    renewer.start()
    try:
        yield owner
    finally:
        renewer.stopped.set()
        renewer.join()
        t = lake_locks
        with engine.begin() as conn:
            released = conn.execute(t.delete().where(t.c.name == name, t.c.owner == owner))
    if renewer.lost or released.rowcount == 0:
        raise LockLost(
            f"the lease on lake partition {name!r} expired and was taken while {owner} held "
            "it: another writer may have rewritten the file meanwhile; run the partition again"
        )


@dataclass(frozen=True)
class HeldLock:
    """A row of ``lake_locks``, and whether its holder can still be writing."""

    name: str
    owner: str
    expires_at: str
    alive: bool


def holder_alive(owner: str, expires_at: datetime, now: datetime) -> bool:
    """A holder on this host is alive while its process runs, whatever its lease says (its
    renewal may be waiting on the database); one elsewhere while its lease runs, since a live
    holder renews it."""
    if owner_is_dead(owner):
        return False
    return on_this_host(owner) or aware(expires_at) >= now


def _locks_query(match: str | None) -> sa.Select:
    t = lake_locks
    query = sa.select(t.c.name, t.c.owner, t.c.expires_at).order_by(t.c.name)
    if match is not None:
        day_of = t.c.name.endswith(f"/{match}", autoescape=True)
        query = query.where(sa.or_(t.c.name == match, day_of))
    return query


def _held(rows: list[sa.Row], now: datetime) -> list[HeldLock]:
    return [
        HeldLock(name, owner, aware(expires).isoformat(), holder_alive(owner, expires, now))
        for name, owner, expires in rows
    ]


def held_locks(engine: sa.Engine, match: str | None = None) -> list[HeldLock]:
    """The lake locks held now (those named ``match``, or ending in ``/match``: a day)."""
    with engine.begin() as conn:
        rows = conn.execute(_locks_query(match)).all()
    return _held(list(rows), utcnow())


def release_dead_locks(engine: sa.Engine, match: str) -> tuple[list[HeldLock], list[HeldLock]]:
    """Delete the locks named ``match`` (or of that day) whose holder is gone; a live holder's
    lock is left alone. Returns (released, refused).

    One transaction, the rows locked while they are judged (``FOR UPDATE`` on PostgreSQL;
    SQLite's writers take turns), and each delete names the owner and the expiry it judged: a
    holder that renewed its lease meanwhile keeps it.
    """
    t = lake_locks
    with engine.begin() as conn:
        rows = list(conn.execute(_locks_query(match).with_for_update()).all())
        locks = _held(rows, utcnow())
        dead = [(lock, row) for lock, row in zip(locks, rows, strict=True) if not lock.alive]
        judged = [
            {"b_name": row.name, "b_owner": row.owner, "b_expires": row.expires_at}
            for _, row in dead
        ]
        if judged:
            conn.execute(
                t.delete().where(
                    t.c.name == sa.bindparam("b_name"),
                    t.c.owner == sa.bindparam("b_owner"),
                    t.c.expires_at == sa.bindparam("b_expires"),
                ),
                judged,
            )
    return [lock for lock, _ in dead], [lock for lock in locks if lock.alive]
