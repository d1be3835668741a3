"""The decision store: the ledger-aware IO manager of the decisioning assets (DuckDB).

Decisions are money: a stored decision must never be lost, and the ledger must never say
SCORED for a decision the warehouse does not hold. So each write is one DuckDB transaction that
only adds or replaces rows by primary key (``credit_decisions``: new decisions are upserted,
nothing is deleted), and only after it commits does the store close the claim the
:class:`DecisionBatch` it was handed carries: its applications are marked SCORED in the ledger
(compare-and-set on the claim token). A crash before that leaves them SENT; the next run
re-sends them with the same idempotency key and stores the same decision.

``decision_status`` is a snapshot of the ledger, so its slice of days is replaced, also in one
transaction. DuckDB allows one writer process per file: writes retry on a held lock (bounded),
and the ``warehouse`` pool keeps runs from contending in the first place. Within one process
(threads, or several runs in one test process) writes to a file take turns on a lock: DuckDB
shares one database instance between a process's connections, and concurrent transactions on
it conflict and, retried, can fail inside DuckDB's pandas scan.

Values always travel as bound parameters or as a registered DataFrame, never inside SQL text;
the only names spliced into statements (tables from :data:`TABLES`, the frame's columns) are
quoted identifiers.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import stamina

from credit_scoring.core.crashpoints import crash_point
from credit_scoring.core.warehouse import connect
from credit_scoring.ledger.resource import LedgerResource


@dataclass(frozen=True)
class DecisionBatch:
    """New decision rows and the ledger claim they answer: once the rows are committed, the
    store marks their applications SCORED under ``claim_token``."""

    rows: pd.DataFrame
    claim_token: str


_WRITE_LOCKS: dict[str, threading.Lock] = {}
_WRITE_LOCKS_GUARD = threading.Lock()


def _write_lock(database: str) -> threading.Lock:
    """The in-process lock of one warehouse file."""
    key = str(Path(database).resolve())
    with _WRITE_LOCKS_GUARD:
        return _WRITE_LOCKS.setdefault(key, threading.Lock())


def quoted(identifier: str) -> str:
    """``identifier`` as a DuckDB quoted identifier: whatever it holds, it stays one name."""
    return '"' + identifier.replace('"', '""') + '"'


@dataclass(frozen=True)
class WarehouseTable:
    name: str
    ddl: str
    mode: str  # "upsert" (by primary key, never delete) or "replace_days"
    #: Statements that bring a table created by earlier code to ``ddl`` (idempotent).
    migrations: tuple[str, ...] = ()

    @property
    def qualified(self) -> str:
        """``"schema"."table"``, quoted, for splicing into statements."""
        schema, table = self.name.split(".")
        return f"{quoted(schema)}.{quoted(table)}"


TABLES = {
    ("scoring", "credit_decisions"): WarehouseTable(
        "scoring.credit_decisions",
        """
        create table if not exists scoring.credit_decisions (
            application_id varchar primary key,
            application_date date not null,
            decision_id varchar not null,
            score double not null,
            outcome varchar not null,
            credit_limit double,
            reasons varchar,
            flow_version varchar,
            decision_engine varchar,
            features_hash varchar not null,
            features varchar not null,
            requested_at timestamptz not null,
            decided_at timestamptz not null
        )""",
        "upsert",
        migrations=(
            "alter table scoring.credit_decisions add column if not exists decision_engine varchar",
        ),
    ),
    ("scoring", "decision_status"): WarehouseTable(
        "scoring.decision_status",
        """
        create table if not exists scoring.decision_status (
            application_id varchar primary key,
            application_date date not null,
            status varchar not null,
            attempts integer,
            error_stage varchar,
            error_code varchar,
            error_message varchar,
            decision_id varchar,
            transactions bigint,
            updated_at timestamptz
        )""",
        "replace_days",
    ),
}


#: DuckDB's Python client, while another thread of the process opens or closes a connection
#: to the same file (dagster-duckdb reading features for a concurrent run), can fail to find
#: its own DataFrame scan function. The write's transaction has not committed when it does
#: (closing the connection rolls it back), so the write is simply tried again, like a lock
#: conflict.
MISSING_SCAN = "pandas_scan does not exist"


def _is_lock_conflict(exc: Exception) -> bool:
    if isinstance(exc, duckdb.CatalogException) and MISSING_SCAN in str(exc):
        return True
    return isinstance(exc, duckdb.IOException | duckdb.TransactionException) and any(
        text in str(exc).lower() for text in ("lock", "conflict")
    )


class DecisionStoreIOManager(dg.ConfigurableIOManager):
    """Transactional DuckDB writes for scoring/* assets; a :class:`DecisionBatch`'s claim is
    closed in the ledger after its commit, a bare frame is simply stored."""

    database: str
    ledger: LedgerResource

    def _table(self, context: dg.OutputContext | dg.InputContext) -> WarehouseTable:
        return TABLES[tuple(context.asset_key.path)]

    def handle_output(self, context: dg.OutputContext, obj: pd.DataFrame | DecisionBatch) -> None:
        table = self._table(context)
        days = list(context.asset_partition_keys)
        frame = obj.rows if isinstance(obj, DecisionBatch) else obj
        for attempt in stamina.retry_context(
            on=_is_lock_conflict, attempts=30, timeout=300, wait_initial=0.2, wait_max=3.0
        ):
            with attempt, _write_lock(self.database):
                summary = self._write(table, frame, days)
        crash_point("warehouse.stored_before_ledger")
        marked = 0
        if isinstance(obj, DecisionBatch) and len(frame):
            marked = self.ledger.get().mark_scored(
                frame.loc[:, ["application_id", "decision_id"]], token=obj.claim_token
            )
        context.add_output_metadata(
            {**summary, "rows_written": len(frame), "marked_scored": marked}
        )

    def _write(self, table: WarehouseTable, frame: pd.DataFrame, days: list[str]) -> dict:
        with connect(self.database) as connection:
            connection.execute("begin transaction")
            connection.execute("create schema if not exists scoring")
            connection.execute(table.ddl)
            for statement in table.migrations:
                connection.execute(statement)
            columns = ", ".join(quoted(str(c)) for c in frame.columns)
            connection.register("incoming", frame)
            if table.mode == "replace_days":
                connection.execute(
                    f"delete from {table.qualified} where strftime(application_date, '%Y-%m-%d') "  # noqa: S608
                    "in (select unnest(?::varchar[]))",
                    [days],
                )
                connection.execute(
                    f"insert into {table.qualified} ({columns}) select {columns} from incoming"  # noqa: S608
                )
            else:
                connection.execute(
                    f"insert or replace into {table.qualified} ({columns}) "  # noqa: S608
                    f"select {columns} from incoming"
                )
            connection.execute("commit")
            return self._summary(connection, table, days)

    def _summary(
        self, connection: duckdb.DuckDBPyConnection, table: WarehouseTable, days: list[str]
    ) -> dict:
        where = "strftime(application_date, '%Y-%m-%d') in (select unnest(?::varchar[]))"
        count_sql = f"select count(*) from {table.qualified} where {where}"  # noqa: S608
        if table.name != "scoring.credit_decisions":
            return {"dagster/row_count": int(connection.execute(count_sql, [days]).fetchone()[0])}
        outcome_sql = f"select outcome, count(*) from {table.qualified} where {where} group by 1"  # noqa: S608
        counts = {str(o): int(n) for o, n in connection.execute(outcome_sql, [days]).fetchall()}
        engine_sql = (
            f"select coalesce(decision_engine, 'unrecorded'), count(*) from {table.qualified} "  # noqa: S608
            f"where {where} group by 1"
        )
        engines = {str(e): int(n) for e, n in connection.execute(engine_sql, [days]).fetchall()}
        total = sum(counts.values())
        return {
            "decisions_by_engine": engines,
            "dagster/row_count": total,
            "approval_rate": counts.get("APPROVE", 0) / total if total else 0.0,
            "outcome_approve": counts.get("APPROVE", 0),
            "outcome_review": counts.get("REVIEW", 0),
            "outcome_decline": counts.get("DECLINE", 0),
        }

    def load_input(self, context: dg.InputContext) -> pd.DataFrame:
        table = self._table(context)
        days = list(context.asset_partition_keys)
        with connect(self.database) as connection:
            return connection.execute(
                f"select * from {table.qualified} where strftime(application_date, '%Y-%m-%d') "  # noqa: S608
                "in (select unnest(?::varchar[]))",
                [days],
            ).df()
