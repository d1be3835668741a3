"""Registering silver's transactions in the ledger: every one PENDING, exactly once.

Registration is insert-or-ignore through the driver's bulk path, so registering a day again
(a re-run, or a run that died between writing silver and the ledger) adds nothing and costs
little. It also moves the applications silver processed from FETCHED to SILVERED, clears a
fetch error a later fetch superseded, and keeps transactions that arrive after their
application was decided from being sent again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import repeat

import pandas as pd
import sqlalchemy as sa

from credit_scoring.core.crashpoints import crash_point
from credit_scoring.ledger.schema import (
    APPLICATION_ROW,
    ERROR,
    FETCHED,
    NO_ERROR,
    PENDING,
    SCORED,
    SENT,
    SILVERED,
    application_ingestion,
    scoring_status,
)
from credit_scoring.ledger.sql import bound, bulk_insert_ignore, chunks, utcnow

#: Code given to transactions that arrive (by refetch) for an application already decided.
ARRIVED_AFTER_DECISION = "ARRIVED_AFTER_DECISION"
_COLUMNS = [
    "application_id",
    "transaction_id",
    "partition_date",
    "status",
    "attempts",
    "created_at",
    "updated_at",
]


@dataclass(frozen=True)
class RegisterResult:
    """What :meth:`Registration.register_transactions` did."""

    new_transactions: int
    already_registered: int
    new_applications: int
    late_transactions: int


class Registration:
    """Bulk registration of transactions and of the applications they belong to."""

    engine: sa.Engine

    def register_transactions(
        self, transactions: pd.DataFrame, applications: pd.DataFrame
    ) -> RegisterResult:
        """Register silver's transactions as PENDING (insert-or-ignore) and mark apps SILVERED.

        ``transactions``: application_id, transaction_id, partition_date. ``applications``:
        application_id, partition_date — every application silver processed, including those
        with no transactions, so each gets its application row. Transactions arriving for an
        application already SENT or SCORED are not sent again: they become ERROR
        ``ARRIVED_AFTER_DECISION`` until an operator asks for a new decision.
        """
        now = utcnow()
        s = scoring_status
        app_ids = [str(a) for a in applications["application_id"]]
        keys = transactions.loc[:, ["application_id", "transaction_id", "partition_date"]].astype(
            str
        )
        app_keys = applications.loc[:, ["application_id", "partition_date"]].astype(str)
        with self.engine.begin() as conn:
            before_tx = self._count_rows(conn, app_ids, transactions_only=True)
            before_apps = self._count_rows(conn, app_ids, applications_only=True)
            stamp = bound(conn, s.c.created_at, now)
            for ids, tx_ids, days in (
                (keys["application_id"], keys["transaction_id"], keys["partition_date"]),
                (app_keys["application_id"], repeat(APPLICATION_ROW), app_keys["partition_date"]),
            ):
                bulk_insert_ignore(
                    self.engine,
                    conn,
                    s,
                    _COLUMNS,
                    zip(
                        ids, tx_ids, days, repeat(PENDING), repeat(0), repeat(stamp), repeat(stamp)
                    ),
                )
            crash_point("ledger.register_before_commit")
            after_tx = self._count_rows(conn, app_ids, transactions_only=True)
            after_apps = self._count_rows(conn, app_ids, applications_only=True)
            late = sum(self._settle_applications(conn, chunk, now) for chunk in chunks(app_ids))
        new_tx = after_tx - before_tx
        return RegisterResult(
            new_transactions=new_tx,
            already_registered=len(keys) - new_tx,
            new_applications=after_apps - before_apps,
            late_transactions=late,
        )

    def _settle_applications(self, conn: sa.Connection, chunk: Sequence[str], now) -> int:
        """After registering a chunk of applications: clear superseded fetch errors, hold back
        late transactions of decided applications, mark them SILVERED. Returns late rows."""
        s = scoring_status
        # a successful (re)fetch clears an earlier fetch error
        conn.execute(
            s.update()
            .where(
                s.c.application_id.in_(chunk),
                s.c.transaction_id == APPLICATION_ROW,
                s.c.status == ERROR,
                s.c.error_stage == "fetch",
            )
            .values(status=PENDING, **NO_ERROR, updated_at=now)
        )
        decided = (
            sa.select(s.c.application_id)
            .where(
                s.c.application_id.in_(chunk),
                s.c.transaction_id == APPLICATION_ROW,
                s.c.status.in_([SENT, SCORED]),
            )
            .scalar_subquery()
        )
        late = (
            conn.execute(
                s.update()
                .where(
                    s.c.application_id.in_(decided),
                    s.c.transaction_id != APPLICATION_ROW,
                    s.c.status == PENDING,
                )
                .values(
                    status=ERROR,
                    error_stage="ingest",
                    error_code=ARRIVED_AFTER_DECISION,
                    error_message="transaction arrived after the application was decided; "
                    "retry the application's errors to request a new decision",
                    updated_at=now,
                )
            ).rowcount
            or 0
        )
        t = application_ingestion
        conn.execute(
            t.update()
            .where(t.c.application_id.in_(chunk), t.c.state == FETCHED)
            .values(state=SILVERED, updated_at=now)
        )
        return late

    def _count_rows(
        self,
        conn: sa.Connection,
        app_ids: Sequence[str],
        *,
        transactions_only: bool = False,
        applications_only: bool = False,
    ) -> int:
        s = scoring_status
        total = 0
        for chunk in chunks(app_ids):
            query = sa.select(sa.func.count()).select_from(s).where(s.c.application_id.in_(chunk))
            if transactions_only:
                query = query.where(s.c.transaction_id != APPLICATION_ROW)
            if applications_only:
                query = query.where(s.c.transaction_id == APPLICATION_ROW)
            total += conn.scalar(query) or 0
        return total
