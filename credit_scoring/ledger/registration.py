"""Registering silver's transactions in the ledger: every one exactly once, with its application.

Registration is insert-or-ignore through the driver's bulk path, so registering a day again
(a re-run, or a run that died between writing silver and the ledger) adds nothing and costs
little. It also moves the applications silver processed from FETCHED to SILVERED, clears a
fetch error a later fetch superseded, and keeps transactions that arrive after their
application was decided from being sent again.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
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
    application_transactions,
    scoring_status,
)
from credit_scoring.ledger.sql import bound, bulk_insert_ignore, chunks, text_rows, utcnow

#: Marker of transactions that arrive (by refetch) for an application already decided.
ARRIVED_AFTER_DECISION = "ARRIVED_AFTER_DECISION"
_APPLICATION_COLUMNS = [
    "application_id",
    "transaction_id",
    "partition_date",
    "status",
    "attempts",
    "created_at",
    "updated_at",
]
_TRANSACTION_COLUMNS = ["application_id", "transaction_id"]


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
        self, transactions: pd.DataFrame | Iterable[pd.DataFrame], applications: pd.DataFrame
    ) -> RegisterResult:
        """Register silver's transactions (insert-or-ignore) and mark their applications SILVERED.

        ``transactions``: application_id, transaction_id; or such frames one after another (a
        day's silver read back a batch at a time), registered in the same database transaction
        as a single frame would be. ``applications``: application_id,
        partition_date — every application silver processed, including those with no
        transactions, so each gets its application row (new ones PENDING). A transaction's
        status is its application's; one arriving for an application already SENT or SCORED is
        not sent again: it is held as ERROR ``ARRIVED_AFTER_DECISION`` until an operator asks
        for a new decision.
        """
        now = utcnow()
        app_ids = [str(a) for a in applications["application_id"]]
        frames = [transactions] if isinstance(transactions, pd.DataFrame) else transactions
        offered = 0

        def keys() -> Iterator[tuple[str, ...]]:
            nonlocal offered
            for frame in frames:
                offered += len(frame)
                yield from text_rows(frame.loc[:, ["application_id", "transaction_id"]])

        app_keys = applications.loc[:, ["application_id", "partition_date"]].astype(str)
        t = application_transactions
        with self.engine.begin() as conn:
            stamp = bound(conn, t.c.created_at, now)
            # the rows each insert reports are the ones that were not there yet
            new_tx = bulk_insert_ignore(
                self.engine,
                conn,
                t,
                _TRANSACTION_COLUMNS,
                keys(),
                constants={"created_at": stamp},
            )
            new_apps = bulk_insert_ignore(
                self.engine,
                conn,
                scoring_status,
                _APPLICATION_COLUMNS,
                zip(
                    app_keys["application_id"],
                    repeat(APPLICATION_ROW),
                    app_keys["partition_date"],
                    repeat(PENDING),
                    repeat(0),
                    repeat(stamp),
                    repeat(stamp),
                ),
            )
            crash_point("ledger.register_before_commit")
            late = sum(self._settle_applications(conn, chunk, now) for chunk in chunks(app_ids))
        return RegisterResult(
            new_transactions=new_tx,
            already_registered=offered - new_tx,
            new_applications=new_apps,
            late_transactions=late,
        )

    def _settle_applications(self, conn: sa.Connection, chunk: Sequence[str], now) -> int:
        """After registering a chunk of applications: clear superseded fetch errors, hold back
        the transactions just registered for decided applications, mark them SILVERED.
        Returns the transactions held back."""
        s, t = scoring_status, application_transactions
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
        # this registration's rows carry its time: rows registered before it were part of the
        # decision (or are already held)
        late = (
            conn.execute(
                t.update()
                .where(
                    t.c.application_id.in_(decided),
                    t.c.created_at == now,
                    t.c.held_code.is_(None),
                )
                .values(held_code=ARRIVED_AFTER_DECISION)
            ).rowcount
            or 0
        )
        i = application_ingestion
        conn.execute(
            i.update()
            .where(i.c.application_id.in_(chunk), i.c.state == FETCHED)
            .values(state=SILVERED, updated_at=now)
        )
        return late
