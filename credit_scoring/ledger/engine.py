"""Engines for the ledger database: SQLite by default, any SQLAlchemy URL in production.

SQLite needs three things to be safe with several run processes writing at once: WAL (readers
never block the writer), a busy timeout (writers wait instead of failing), and ``BEGIN
IMMEDIATE`` (a transaction takes the write lock up front; with SQLite's default deferred
transactions two processes that both read then write deadlock and one fails at once with
"database is locked", which the busy timeout does not cover).

The schema is checked once per process and URL on first use (:mod:`upgrades`): an empty
database is created at the current revision, an out-of-date one is refused with the command
that upgrades it.
"""

from __future__ import annotations

import threading
from pathlib import Path

import sqlalchemy as sa

from credit_scoring.ledger.upgrades import ensure_current

BUSY_TIMEOUT_MS = 60_000

_engines: dict[str, sa.Engine] = {}
_checked: set[str] = set()
_lock = threading.Lock()


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def get_engine(url: str) -> sa.Engine:
    """One engine per URL per process, its schema checked (or created) on first use."""
    with _lock:
        engine = _engine(url)
        if url not in _checked:
            ensure_current(engine)
            _checked.add(url)
        return engine


def open_engine(url: str) -> sa.Engine:
    """The engine of ``url`` without the schema check: for migrating the database itself."""
    with _lock:
        return _engine(url)


def dispose_engines() -> None:
    """Close every pooled connection (tests, and processes that fork)."""
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()
        _checked.clear()


def _engine(url: str) -> sa.Engine:
    engine = _engines.get(url)
    if engine is None:
        engine = _engines[url] = _create_engine(url)
    return engine


def _create_engine(url: str) -> sa.Engine:
    if not url.startswith("sqlite"):
        return sa.create_engine(url, pool_pre_ping=True, future=True)
    database = sa.make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(
        url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False}
    )

    @sa.event.listens_for(engine, "connect")
    def _configure(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        # Let SQLAlchemy's "begin" hook below issue BEGIN itself.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _begin_immediate(connection) -> None:  # type: ignore[no-untyped-def]
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine
