"""The warehouse catalogue: ``warehouse.duckdb`` as views over the lake, for people and tools.

Every table the pipeline writes lives in the lake, one Parquet file per application date, so
that any run on any machine reads and writes its own partitions. On the embedded default (a
local lake) ``$CREDIT_SCORING_HOME/warehouse.duckdb`` names each of them the way analysts know
them, readable with ``duckdb`` alone: ``main.applicant_features``, ``scoring.credit_decisions``,
``silver.transactions`` ... (not restricted bronze, which holds PII and stays in the lake for
those allowed to read it). Each is a view over the table's files, so it shows new partitions
without being touched again: a view is created the first time its table has a file, and only
then does a run open the catalogue for writing (briefly). A catalogue held open by someone's
session is not worth failing a run for: the view is then created by a later run.

A lake on object storage has no local catalogue: DuckDB reads ``s3://`` only through a
registered fsspec filesystem, which a bare ``duckdb`` shell does not have.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from pathlib import Path

import duckdb
import stamina

from credit_scoring.lake.storage import LakeResource, LakeStore
from credit_scoring.lake.tables import LakeTable

#: How long a run waits for someone else's hold on the catalogue file before giving up on it.
CATALOGUE_WAIT_SECONDS = 20.0

_GUARD = threading.Lock()
#: (catalogue, schema, view) seen present by this process: a view, once created, stays, so a
#: run checks each table against the catalogue once, not after every output.
_KNOWN: set[tuple[str, str, str]] = set()


def _held_by_another(exc: Exception) -> bool:
    """DuckDB's answer when another process holds the file, or another thread of this one
    changes the catalogue at the same moment."""
    return isinstance(exc, duckdb.IOException | duckdb.TransactionException) and any(
        text in str(exc).lower() for text in ("lock", "conflict")
    )


def quoted(identifier: str) -> str:
    """``identifier`` as a DuckDB quoted identifier: whatever it holds, it stays one name."""
    return '"' + identifier.replace('"', '""') + '"'


def view_name(table: LakeTable) -> tuple[str, str]:
    """(schema, view) of a lake table: ``silver/transactions`` is ``silver.transactions``,
    a top-level table such as ``applicant_features`` is ``main.applicant_features``."""
    *schema, name = table.path.split("/")
    return (schema[0] if schema else "main"), name


def view_sql(store: LakeStore, table: LakeTable) -> str:
    schema, name = view_name(table)
    glob = store.glob(table).replace("'", "''")
    return (
        f"create or replace view {quoted(schema)}.{quoted(name)} as select * from "  # noqa: S608
        f"read_parquet('{glob}', hive_partitioning = true, union_by_name = true)"
    )


class Catalogue:
    """The views of ``database`` over the lake ``store``."""

    def __init__(self, database: str | Path, store: LakeStore) -> None:
        self.database = str(database)
        self.store = store

    def missing(self, tables: Iterable[LakeTable]) -> list[LakeTable]:
        """Tables with files in the lake but no view yet (reads the catalogue, never waits);
        restricted tables never get one."""
        tables = [
            t
            for t in tables
            if not t.restricted
            and (self.database, *view_name(t)) not in _KNOWN
            and self.store.has_partitions(t)
        ]
        if not tables or not Path(self.database).exists():
            return tables
        try:
            with duckdb.connect(self.database, read_only=True) as connection:
                present = set(
                    connection.execute(
                        "select schema_name, view_name from duckdb_views()"
                    ).fetchall()
                )
        except (duckdb.IOException, duckdb.ConnectionException):
            return tables  # held for writing right now: find out when writing
        _KNOWN.update((self.database, *view) for view in present)
        return [t for t in tables if view_name(t) not in present]

    def register(self, tables: Iterable[LakeTable]) -> list[str] | None:
        """Create the views still missing for ``tables``; returns their names, or None when
        the catalogue stayed held by another process (a later run creates them)."""
        if not self.store.is_local:
            return []
        # DuckDB refuses a read-only and a read-write connection to one file in one process:
        # this process's threads take turns
        with _GUARD:
            return self._register(tables)

    def _register(self, tables: Iterable[LakeTable]) -> list[str] | None:
        to_create = self.missing(tables)
        if not to_create:
            return []
        try:
            for attempt in stamina.retry_context(
                on=_held_by_another,
                timeout=CATALOGUE_WAIT_SECONDS,
                attempts=None,
                wait_initial=0.1,
                wait_max=2.0,
            ):
                with attempt, duckdb.connect(self.database) as connection:
                    for table in to_create:
                        schema = quoted(view_name(table)[0])
                        connection.execute(f"create schema if not exists {schema}")
                        connection.execute(view_sql(self.store, table))
            _KNOWN.update((self.database, *view_name(t)) for t in to_create)
        except (duckdb.IOException, duckdb.TransactionException) as exc:
            if _held_by_another(exc):
                return None
            raise
        return [".".join(view_name(t)) for t in to_create]


def register_views(lake: LakeResource, tables: Iterable[LakeTable], log: logging.Logger) -> None:
    """Give ``tables`` their catalogue views if the lake resource keeps a catalogue, saying so
    in the run's log."""
    if not lake.catalogue:
        return
    created = Catalogue(lake.catalogue, lake.store()).register(tables)
    if created is None:
        log.warning(
            f"the catalogue {lake.catalogue} stayed held by another process for "
            f"{CATALOGUE_WAIT_SECONDS:.0f} s: its new views will be created by a later run "
            "(the lake itself is complete)"
        )
    elif created:
        log.info(f"catalogue {lake.catalogue}: created view(s) {', '.join(created)}")
