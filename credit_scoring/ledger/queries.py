"""Reading the ledger: counts per day and status, one row per application, one application's
whole story, the keys of a day's transactions, stuck work, and the fetch leases. Nothing here
writes."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pandas as pd
import pyarrow as pa
import sqlalchemy as sa

from credit_scoring.ledger.schema import (
    APPLICATION_ROW,
    ERROR,
    FETCHED,
    PENDING,
    SCORED,
    SENT,
    application_ingestion,
    application_row_of,
    application_transactions,
    scoring_status,
    transaction_status,
)
from credit_scoring.ledger.sql import (
    driver_frame,
    driver_text_batches,
    json_text_array,
    utcnow,
)


@dataclass(frozen=True)
class Days:
    """Which partitions a query reads: listed days, an inclusive range, or both (all when
    nothing is given). ISO dates compare as text, so the range is a plain string comparison."""

    listed: tuple[str, ...] | None = None
    since: str | None = None
    until: str | None = None

    def conditions(self, column: sa.ColumnElement[str]) -> list[sa.ColumnElement[bool]]:
        where = []
        if self.listed is not None:
            where.append(column.in_(list(self.listed)))
        if self.since is not None:
            where.append(column >= self.since)
        if self.until is not None:
            where.append(column <= self.until)
        return where


def as_days(partition_dates: Iterable[str] | Days | None) -> Days:
    if isinstance(partition_dates, Days):
        return partition_dates
    return Days(None if partition_dates is None else tuple(partition_dates))


def membership_counts(counted: bool = True) -> list[sa.Label]:
    """For a query over application rows of ``scoring_status``: each application's
    ``transactions`` and how many of them are ``held`` back from its status (arrived after its
    decision); zeros when not ``counted``.

    Counted application by application, two correlated counts over its range of the
    membership table's primary key, instead of grouping the join of the day's memberships:
    that sorted every membership of the day to group it (SQLite's temporary B-tree; 0.51 s
    against 0.19 s for the 2M-transaction day; on PostgreSQL, with 29 more days of
    memberships, 0.60 s against 0.45 s). Each is selected once, and what is derived
    from them is computed by the caller, since an expression repeating a correlated count
    runs it again.
    """
    if not counted:
        return [sa.literal(0).label("transactions"), sa.literal(0).label("held")]
    s, t = scoring_status, application_transactions
    of_application = t.c.application_id == s.c.application_id
    return [
        sa.select(sa.func.count()).where(of_application).scalar_subquery().label("transactions"),
        sa.select(sa.func.count(t.c.held_code))
        .where(of_application)
        .scalar_subquery()
        .label("held"),
    ]


@dataclass
class ApplicationStory:
    """Everything the ledger knows of one application (``ledger show``)."""

    application: dict[str, Any]
    fetch: dict[str, Any] | None
    transactions: dict[str, int]


class Queries:
    """What operators, checks and the reconciliation read."""

    engine: sa.Engine

    def status_counts(
        self,
        partition_dates: Iterable[str] | Days | None = None,
        statuses: Iterable[str] | None = None,
    ) -> pd.DataFrame:
        """Counts per partition and status: transactions and applications.

        A transaction counts under its application's status, or under ERROR while it is held.
        """
        s = scoring_status
        days = as_days(partition_dates)
        query = sa.select(s.c.partition_date, s.c.status, *membership_counts()).where(
            s.c.transaction_id == APPLICATION_ROW, *days.conditions(s.c.partition_date)
        )
        with self.engine.begin() as conn:
            per_app = pd.DataFrame(
                conn.execute(query).all(), columns=["partition_date", "status", "total", "held"]
            )
        per_app["following"] = per_app["total"] - per_app["held"]
        own = per_app.assign(transactions=per_app["following"], applications=1)
        held = per_app.loc[per_app["held"] > 0]
        held = held.assign(status=ERROR, transactions=held["held"], applications=0)
        columns = ["partition_date", "status", "transactions", "applications"]
        frame = (
            pd.concat([own.loc[:, columns], held.loc[:, columns]], ignore_index=True)
            .groupby(["partition_date", "status"], as_index=False)
            .sum()
            .sort_values(["partition_date", "status"], ignore_index=True)
        )
        if statuses is not None:
            frame = frame.loc[frame["status"].isin(list(statuses))].reset_index(drop=True)
        return frame.astype({"transactions": "int64", "applications": "int64"})

    def application_statuses(
        self,
        partition_dates: Iterable[str] | Days | None = None,
        *,
        transaction_counts: bool = True,
        statuses: Iterable[str] | None = None,
    ) -> pd.DataFrame:
        """One row per application: its own status, error, decision, and transaction counts.

        ``transaction_counts=False`` leaves the counts out (all zero): they cost a pass over
        the days' transactions, which callers that only need the application's own state (the
        checks) skip. ``statuses`` keeps applications whose own status is one of them.
        """
        s = scoring_status
        days = as_days(partition_dates)
        query = (
            sa.select(
                s.c.partition_date,
                s.c.application_id,
                s.c.status,
                s.c.attempts,
                s.c.error_stage,
                s.c.error_code,
                s.c.error_message,
                s.c.decision_id,
                s.c.updated_at,
                *membership_counts(counted=transaction_counts),
            )
            .where(s.c.transaction_id == APPLICATION_ROW, *days.conditions(s.c.partition_date))
            .order_by(s.c.partition_date, s.c.application_id)
        )
        if statuses is not None:
            query = query.where(s.c.status.in_(list(statuses)))
        with self.engine.begin() as conn:
            rows = conn.execute(query).mappings().all()
        frame = pd.DataFrame(rows, columns=list(query.selected_columns.keys()))
        held = frame.pop("held").astype("int64")
        frame["transactions"] = frame["transactions"].astype("int64")
        following = frame["transactions"] - held
        for status in (PENDING, SENT, SCORED, ERROR):
            own = following.where(frame["status"] == status, 0)
            frame[f"tx_{status.lower()}"] = own + held if status == ERROR else own
        return frame

    def application_story(self, application_id: str) -> ApplicationStory | None:
        """The application's own row, its fetch lease and its transactions by status; None
        when the ledger has never seen it."""
        s, t = scoring_status, application_ingestion
        tx = transaction_status().subquery()
        with self.engine.begin() as conn:
            application = (
                conn.execute(
                    sa.select(s).where(
                        s.c.application_id == application_id,
                        s.c.transaction_id == APPLICATION_ROW,
                    )
                )
                .mappings()
                .first()
            )
            fetch = conn.execute(sa.select(t).where(t.c.application_id == application_id))
            fetch_row = fetch.mappings().first()
            by_status = conn.execute(
                sa.select(tx.c.status, sa.func.count())
                .where(tx.c.application_id == application_id)
                .group_by(tx.c.status)
            ).all()
        if application is None and fetch_row is None:
            return None
        counts = {status: 0 for status in (PENDING, SENT, SCORED, ERROR)}
        counts.update({status: int(n) for status, n in by_status})
        return ApplicationStory(
            application=dict(application) if application is not None else {},
            fetch=dict(fetch_row) if fetch_row is not None else None,
            transactions=counts,
        )

    def transaction_keys(self, partition_dates: Iterable[str]) -> pd.DataFrame:
        """(application_id, transaction_id, status) of every transaction of the partitions."""
        tx = transaction_status().subquery()
        query = sa.select(tx.c.application_id, tx.c.transaction_id, tx.c.status).where(
            tx.c.partition_date.in_(list(partition_dates))
        )
        with self.engine.begin() as conn:
            return driver_frame(conn, query)

    def transaction_key_batches(
        self, day: str, applications: int = 500
    ) -> Iterator[pa.RecordBatch]:
        """The transactions registered for ``day``, one row per application: its
        ``application_id`` and ``transaction_ids``, the text of a JSON array of its transaction
        ids, in Arrow batches of ``applications`` rows.

        For the reconciliation, which unnests the arrays in DuckDB: the database builds each
        array, so a day's two million keys cross the driver as a few thousand strings (2.7 s
        instead of 6.7 s for the benchmark's largest day, as one Python row per key).
        """
        t, s = application_transactions, scoring_status
        ids = json_text_array(self.engine.dialect.name, t.c.transaction_id)
        query = (
            sa.select(t.c.application_id, ids.label("transaction_ids"))
            .select_from(t.join(s, application_row_of(t.c.application_id)))
            .where(s.c.partition_date == day)
            .group_by(t.c.application_id)
        )
        with self.engine.begin() as conn:
            yield from driver_text_batches(conn, query, applications)

    def stale_sent(self, older_than: timedelta) -> pd.DataFrame:
        """Applications SENT longer ago than ``older_than`` (stuck work)."""
        s = scoring_status
        cutoff = utcnow() - older_than
        with self.engine.begin() as conn:
            rows = conn.execute(
                sa.select(
                    s.c.partition_date, s.c.application_id, s.c.sent_at, s.c.claim_token
                ).where(
                    s.c.transaction_id == APPLICATION_ROW, s.c.status == SENT, s.c.sent_at < cutoff
                )
            ).all()
        return pd.DataFrame(
            rows, columns=["partition_date", "application_id", "sent_at", "claim_token"]
        )

    def applications_to_silver(self, partition_dates: Iterable[str]) -> list[str]:
        """Fetched applications whose transactions are not yet in silver."""
        t = application_ingestion
        with self.engine.begin() as conn:
            return list(
                conn.scalars(
                    sa.select(t.c.application_id)
                    .where(t.c.partition_date.in_(list(partition_dates)), t.c.state == FETCHED)
                    .order_by(t.c.application_id)
                ).all()
            )

    def day_stamp(self, day: str) -> dict[str, Any]:
        """A summary of what the reconciliation reads of ``day`` that changes when it does.

        Registered transactions are only ever added (a transaction's status lives on its
        application), so their count, the total length of their keys and the latest
        registration time change whenever the day's keys do; the fetch leases are summarised
        by state, with their latest change.
        """
        s, t, i = scoring_status, application_transactions, application_ingestion
        keys = (
            sa.select(
                sa.func.count(),
                sa.func.sum(
                    sa.func.length(t.c.application_id) + sa.func.length(t.c.transaction_id)
                ),
                sa.func.max(t.c.created_at),
            )
            .select_from(t.join(s, application_row_of(t.c.application_id)))
            .where(s.c.partition_date == day)
        )
        leases = (
            sa.select(i.c.state, sa.func.count(), sa.func.max(i.c.updated_at))
            .where(i.c.partition_date == day)
            .group_by(i.c.state)
            .order_by(i.c.state)
        )
        with self.engine.begin() as conn:
            count, length, latest = conn.execute(keys).one()
            states = conn.execute(leases).all()
        return {
            "transactions": [count, length, str(latest)],
            "leases": [[state, n, str(changed)] for state, n, changed in states],
        }

    def ingestion_states(self, partition_dates: Iterable[str]) -> pd.DataFrame:
        """Every fetch lease of the days, as stored."""
        t = application_ingestion
        with self.engine.begin() as conn:
            rows = (
                conn.execute(sa.select(t).where(t.c.partition_date.in_(list(partition_dates))))
                .mappings()
                .all()
            )
        return pd.DataFrame(rows, columns=[c.name for c in t.columns])
