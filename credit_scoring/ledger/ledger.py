"""The ``scoring_status`` ledger API: set-based, transactional, compare-and-set.

Every method is one database transaction and a bounded number of statements whatever the
number of transactions involved (bulk insert-or-ignore, UPDATE ... WHERE status = expected);
nothing here issues one query per transaction. The same SQL runs on SQLite and PostgreSQL.

States of an application's rows: PENDING (registered, waiting for a decision) -> SENT (claimed
by one decision run) -> SCORED (decision stored) or ERROR (with stage, code and message).
ERROR -> PENDING happens only when an operator asks (:meth:`Ledger.retry_errors`).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import islice, repeat
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from credit_scoring.crashpoints import crash_point
from credit_scoring.flinks.errors import TERMINAL_CODES
from credit_scoring.ledger.engine import get_engine
from credit_scoring.ledger.owners import new_owner_token, owner_is_dead
from credit_scoring.ledger.schema import (
    APPLICATION_ROW,
    ERROR,
    FETCHED,
    FETCHING,
    PENDING,
    SCORED,
    SENT,
    SILVERED,
    application_ingestion,
    lake_locks,
    scoring_status,
)

#: Rows per statement for IN lists and bulk inserts (well under SQLite's variable limit).
CHUNK = 2000
#: Code given to transactions that arrive (by refetch) for an application already decided.
ARRIVED_AFTER_DECISION = "ARRIVED_AFTER_DECISION"


def utcnow() -> datetime:
    return datetime.now(UTC)


def _chunks(values: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


class LockTimeout(TimeoutError):
    """A lake partition stayed locked by another live writer for too long."""


@dataclass(frozen=True)
class RegisterResult:
    """What :meth:`Ledger.register_transactions` did."""

    new_transactions: int
    already_registered: int
    new_applications: int
    late_transactions: int


class Ledger:
    """The ledger database behind one SQLAlchemy URL."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = get_engine(url)

    # -- helpers -------------------------------------------------------------------------------

    def _insert_ignore(self, table: sa.Table) -> Any:
        """``INSERT ... ON CONFLICT DO NOTHING`` in the engine's dialect."""
        dialect = self.engine.dialect.name
        if dialect == "sqlite":
            return sqlite.insert(table).on_conflict_do_nothing()
        if dialect == "postgresql":
            return postgresql.insert(table).on_conflict_do_nothing()
        raise NotImplementedError(f"ledger supports sqlite and postgresql, not {dialect!r}")

    # -- fetch leases (application_ingestion) --------------------------------------------------

    def claim_fetch(
        self,
        applications: pd.DataFrame,
        *,
        owner: str,
        refetch: bool = False,
        retry_errors: bool = False,
        lease_seconds: float = 1800.0,
    ) -> list[str]:
        """Claim the applications this caller should fetch; returns the ids it won.

        Won: never seen before; an expired or dead lease; a transient fetch ERROR (retried
        automatically), or any fetch ERROR with ``retry_errors``; already fetched only with
        ``refetch``. Lost: anything another live run is fetching.
        """
        if applications.empty:
            return []
        now = utcnow()
        expires = now + timedelta(seconds=lease_seconds)
        ids = [str(v) for v in applications["application_id"]]
        rows = [
            {
                "application_id": str(app),
                "login_id": str(login),
                "partition_date": str(day),
                "state": FETCHING,
                "owner": owner,
                "lease_expires_at": expires,
                "attempts": 0,
                "updated_at": now,
            }
            for app, login, day in zip(
                applications["application_id"],
                applications["login_id"],
                applications["partition_date"],
                strict=True,
            )
        ]
        t = application_ingestion
        takeable_states = [FETCHED, SILVERED] if refetch else []
        with self.engine.begin() as conn:
            for chunk in _chunks(rows):
                conn.execute(self._insert_ignore(t), list(chunk))
            for chunk in _chunks(ids):
                current = conn.execute(
                    sa.select(
                        t.c.application_id,
                        t.c.state,
                        t.c.owner,
                        t.c.lease_expires_at,
                        t.c.error_code,
                    ).where(t.c.application_id.in_(chunk))
                ).all()
                takeover: list[dict[str, Any]] = []
                for app, state, holder, lease, code in current:
                    if holder == owner:
                        continue
                    stale = state == FETCHING and (_aware(lease) < now or owner_is_dead(holder))
                    retry = state == ERROR and (retry_errors or code not in TERMINAL_CODES)
                    if stale or retry or state in takeable_states:
                        takeover.append({"app": app, "old_state": state, "old_owner": holder})
                if takeover:
                    conn.execute(
                        t.update()
                        .where(
                            t.c.application_id == sa.bindparam("app"),
                            t.c.state == sa.bindparam("old_state"),
                            _null_safe_eq(t.c.owner, "old_owner"),
                        )
                        .values(
                            state=FETCHING,
                            owner=owner,
                            lease_expires_at=expires,
                            updated_at=now,
                        ),
                        takeover,
                    )
            won: list[str] = []
            for chunk in _chunks(ids):
                won.extend(
                    conn.scalars(
                        sa.select(t.c.application_id).where(
                            t.c.application_id.in_(chunk),
                            t.c.owner == owner,
                            t.c.state == FETCHING,
                        )
                    ).all()
                )
        order = {app: i for i, app in enumerate(ids)}
        return sorted(set(won), key=order.__getitem__)

    def record_fetch_outcomes(self, outcomes: pd.DataFrame, *, owner: str) -> None:
        """Close this caller's leases: FETCHED, or ERROR with the Flinks code (CAS on owner).

        A fetch ERROR is also written on the application's ledger row so the scoring ledger
        shows every application's fate, including those that never had transactions.
        """
        if outcomes.empty:
            return
        now = utcnow()
        params = [
            {
                "app": str(row.application_id),
                "b_owner": owner,
                "b_state": FETCHED if row.ok else ERROR,
                "b_request_id": _none(row.request_id),
                "b_http_status": None if pd.isna(row.http_status) else int(row.http_status),
                "b_error_code": None if row.ok else _none(row.error_code),
                "b_error_message": None if row.ok else _none(row.error_message),
                "b_fetched_at": row.fetched_at.to_pydatetime()
                if isinstance(row.fetched_at, pd.Timestamp)
                else row.fetched_at,
                "now": now,
            }
            for row in outcomes.itertuples(index=False)
        ]
        t = application_ingestion
        failed = [p for p in params if p["b_state"] == ERROR]
        with self.engine.begin() as conn:
            conn.execute(
                t.update()
                .where(
                    t.c.application_id == sa.bindparam("app"),
                    t.c.owner == sa.bindparam("b_owner"),
                    t.c.state == FETCHING,
                )
                .values(
                    state=sa.bindparam("b_state"),
                    request_id=sa.bindparam("b_request_id"),
                    http_status=sa.bindparam("b_http_status"),
                    error_code=sa.bindparam("b_error_code"),
                    error_message=sa.bindparam("b_error_message"),
                    fetched_at=sa.bindparam("b_fetched_at"),
                    attempts=t.c.attempts + 1,
                    lease_expires_at=None,
                    updated_at=sa.bindparam("now"),
                ),
                params,
            )
            if failed:
                partition_of = dict(
                    zip(
                        outcomes["application_id"].astype(str),
                        outcomes["partition_date"].astype(str),
                        strict=True,
                    )
                )
                s = scoring_status
                conn.execute(
                    self._insert_ignore(s),
                    [
                        {
                            "application_id": p["app"],
                            "transaction_id": APPLICATION_ROW,
                            "partition_date": partition_of[p["app"]],
                            "status": ERROR,
                            "attempts": 0,
                            "created_at": now,
                            "updated_at": now,
                        }
                        for p in failed
                    ],
                )
                conn.execute(
                    s.update()
                    .where(
                        s.c.application_id == sa.bindparam("app"),
                        s.c.transaction_id == APPLICATION_ROW,
                        s.c.status == ERROR,
                    )
                    .values(
                        status=ERROR,
                        error_stage="fetch",
                        error_code=sa.bindparam("b_error_code"),
                        error_message=sa.bindparam("b_error_message"),
                        updated_at=sa.bindparam("now"),
                    ),
                    [
                        {
                            "app": p["app"],
                            "b_error_code": p["b_error_code"],
                            "b_error_message": p["b_error_message"],
                            "now": now,
                        }
                        for p in failed
                    ],
                )

    def release_fetch_claims(self, owner: str) -> int:
        """Give back this caller's unfinished leases (its run failed before landing bronze).

        They become a transient ERROR, which the next run retries automatically.
        """
        t = application_ingestion
        with self.engine.begin() as conn:
            result = conn.execute(
                t.update()
                .where(t.c.owner == owner, t.c.state == FETCHING)
                .values(
                    state=ERROR,
                    error_code="RUN_FAILED",
                    error_message="the run fetching this application failed; retried next run",
                    lease_expires_at=None,
                    updated_at=utcnow(),
                )
            )
        return result.rowcount or 0

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

    def ingestion_states(self, partition_dates: Iterable[str]) -> pd.DataFrame:
        t = application_ingestion
        with self.engine.begin() as conn:
            rows = (
                conn.execute(sa.select(t).where(t.c.partition_date.in_(list(partition_dates))))
                .mappings()
                .all()
            )
        return pd.DataFrame(rows, columns=[c.name for c in t.columns])

    # -- registering transactions --------------------------------------------------------------

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
        columns = ["application_id", "transaction_id", "partition_date", "status", "attempts"]
        with self.engine.begin() as conn:
            before_tx = self._count_rows(conn, app_ids, transactions_only=True)
            before_apps = self._count_rows(conn, app_ids, applications_only=True)
            stamp = _bound(conn, s.c.created_at, now)
            self._bulk_insert_ignore(
                conn,
                s,
                [*columns, "created_at", "updated_at"],
                zip(
                    keys["application_id"],
                    keys["transaction_id"],
                    keys["partition_date"],
                    repeat(PENDING),
                    repeat(0),
                    repeat(stamp),
                    repeat(stamp),
                ),
            )
            self._bulk_insert_ignore(
                conn,
                s,
                [*columns, "created_at", "updated_at"],
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
            after_tx = self._count_rows(conn, app_ids, transactions_only=True)
            after_apps = self._count_rows(conn, app_ids, applications_only=True)
            late = 0
            for chunk in _chunks(app_ids):
                # a successful (re)fetch clears an earlier fetch error
                conn.execute(
                    s.update()
                    .where(
                        s.c.application_id.in_(chunk),
                        s.c.transaction_id == APPLICATION_ROW,
                        s.c.status == ERROR,
                        s.c.error_stage == "fetch",
                    )
                    .values(
                        status=PENDING,
                        error_stage=None,
                        error_code=None,
                        error_message=None,
                        updated_at=now,
                    )
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
                late += (
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
        new_tx = after_tx - before_tx
        return RegisterResult(
            new_transactions=new_tx,
            already_registered=len(keys) - new_tx,
            new_applications=after_apps - before_apps,
            late_transactions=late,
        )

    def _bulk_insert_ignore(
        self,
        conn: sa.Connection,
        table: sa.Table,
        columns: list[str],
        rows: Iterable[tuple[Any, ...]],
    ) -> None:
        """Insert-or-ignore many rows given as tuples in ``columns`` order, through the driver.

        The statement is compiled once by SQLAlchemy for the connection's dialect and the rows
        go straight to the DB-API's ``executemany``: SQLAlchemy's per-row parameter processing
        cost more than SQLite's own work (5 s of 8 s for 500k rows). Values must already be in
        the driver's form (see :func:`_bound`).
        """
        compiled = self._insert_ignore(table).compile(dialect=conn.dialect, column_keys=columns)
        if compiled.positional:
            order = [columns.index(name) for name in compiled.positiontup or []]
            if order != list(range(len(columns))):
                rows = (tuple(row[i] for i in order) for row in rows)
        else:
            rows = (dict(zip(columns, row, strict=True)) for row in rows)
        for chunk in _batched(rows, 50_000):
            conn.exec_driver_sql(str(compiled), chunk)

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
        for chunk in _chunks(app_ids):
            query = sa.select(sa.func.count()).select_from(s).where(s.c.application_id.in_(chunk))
            if transactions_only:
                query = query.where(s.c.transaction_id != APPLICATION_ROW)
            if applications_only:
                query = query.where(s.c.transaction_id == APPLICATION_ROW)
            total += conn.scalar(query) or 0
        return total

    # -- decisions: claim, score, fail, retry --------------------------------------------------

    def claim_for_decision(
        self,
        partition_dates: Iterable[str],
        *,
        owner: str | None = None,
        stale_sent_after: timedelta = timedelta(minutes=30),
        application_ids: Sequence[str] | None = None,
    ) -> tuple[str, list[str]]:
        """Claim PENDING applications (PENDING -> SENT, compare-and-set); returns (token, won).

        Applications left SENT by a run that died (owner process gone, or older than
        ``stale_sent_after``) are taken over too: they are re-sent with the same idempotency
        key, so the decision engine answers with the decision it already made.
        """
        token = owner or new_owner_token("decide")
        now = utcnow()
        s = scoring_status
        days = list(partition_dates)
        with self.engine.begin() as conn:
            app_filter = [s.c.partition_date.in_(days), s.c.transaction_id == APPLICATION_ROW]
            if application_ids is not None:
                app_filter.append(s.c.application_id.in_(list(application_ids)))
            conn.execute(
                s.update()
                .where(*app_filter, s.c.status == PENDING)
                .values(
                    status=SENT,
                    claim_token=token,
                    sent_at=now,
                    updated_at=now,
                    attempts=s.c.attempts + 1,
                )
            )
            sent = conn.execute(
                sa.select(s.c.application_id, s.c.claim_token, s.c.sent_at).where(
                    *app_filter, s.c.status == SENT, s.c.claim_token != token
                )
            ).all()
            stale = [
                {"app": app, "old": holder}
                for app, holder, sent_at in sent
                if owner_is_dead(holder) or _aware(sent_at) < now - stale_sent_after
            ]
            if stale:
                conn.execute(
                    s.update()
                    .where(
                        s.c.application_id == sa.bindparam("app"),
                        s.c.transaction_id == APPLICATION_ROW,
                        s.c.status == SENT,
                        s.c.claim_token == sa.bindparam("old"),
                    )
                    .values(
                        status=SENT,
                        claim_token=token,
                        sent_at=now,
                        updated_at=now,
                        attempts=s.c.attempts + 1,
                    ),
                    stale,
                )
            won = list(
                conn.scalars(
                    sa.select(s.c.application_id)
                    .where(*app_filter, s.c.status == SENT, s.c.claim_token == token)
                    .order_by(s.c.application_id)
                ).all()
            )
            for chunk in _chunks(won):
                conn.execute(
                    s.update()
                    .where(
                        s.c.application_id.in_(chunk),
                        s.c.transaction_id != APPLICATION_ROW,
                        s.c.status.in_([PENDING, SENT]),
                    )
                    .values(
                        status=SENT,
                        claim_token=token,
                        sent_at=now,
                        updated_at=now,
                        attempts=s.c.attempts + 1,
                    )
                )
        return token, won

    def mark_scored(self, decisions: pd.DataFrame, *, token: str) -> int:
        """SENT -> SCORED for this claim's applications (``application_id``, ``decision_id``).

        Returns the number of ledger rows changed (applications and their transactions).
        """
        if decisions.empty:
            return 0
        now = utcnow()
        params = [
            {"app": str(a), "b_decision_id": str(d), "token": token, "now": now}
            for a, d in zip(decisions["application_id"], decisions["decision_id"], strict=True)
        ]
        closed = {"error_stage": None, "error_code": None, "error_message": None}
        return self._close_claim(params, token=token, status=SCORED, now=now, values=closed)

    def mark_errors(self, errors: pd.DataFrame, *, token: str, stage: str = "decide") -> int:
        """SENT -> ERROR for this claim's applications (``application_id``, code, message)."""
        if errors.empty:
            return 0
        now = utcnow()
        params = [
            {
                "app": str(a),
                "b_error_code": str(c),
                "b_error_message": str(m)[:2000],
                "token": token,
                "now": now,
            }
            for a, c, m in zip(
                errors["application_id"],
                errors["error_code"],
                errors["error_message"],
                strict=True,
            )
        ]
        return self._close_claim(params, token=token, status=ERROR, now=now, stage=stage)

    def _close_claim(
        self,
        params: list[dict[str, Any]],
        *,
        token: str,
        status: str,
        now: datetime,
        stage: str | None = None,
        values: dict[str, Any] | None = None,
    ) -> int:
        """Close applications of one claim, then all their transactions in one statement.

        The application rows are updated by primary key (one row each, with its own decision id
        or error); the transactions follow their application row with a single set-based UPDATE
        per claim, copying its outcome, so the cost does not grow with one query per
        application over a large transaction table.
        """
        s = scoring_status
        app_values: dict[str, Any] = {"status": status, "updated_at": sa.bindparam("now")}
        if status == SCORED:
            app_values["decision_id"] = sa.bindparam("b_decision_id")
            app_values.update(values or {})
        else:
            app_values.update(
                error_stage=stage,
                error_code=sa.bindparam("b_error_code"),
                error_message=sa.bindparam("b_error_message"),
            )
        owner = s.alias("application_row")
        with self.engine.begin() as conn:
            apps = conn.execute(
                s.update()
                .where(
                    s.c.application_id == sa.bindparam("app"),
                    s.c.transaction_id == APPLICATION_ROW,
                    s.c.claim_token == sa.bindparam("token"),
                    s.c.status == SENT,
                )
                .values(**app_values),
                params,
            )
            # UPDATE ... FROM (PostgreSQL, SQLite >= 3.33): one join with the application
            # rows instead of four correlated lookups per transaction (2x faster on SQLite)
            transactions = conn.execute(
                s.update()
                .where(
                    owner.c.application_id == s.c.application_id,
                    owner.c.transaction_id == APPLICATION_ROW,
                    owner.c.claim_token == token,
                    owner.c.status == status,
                    s.c.claim_token == token,
                    s.c.status == SENT,
                    s.c.transaction_id != APPLICATION_ROW,
                )
                .values(
                    status=status,
                    updated_at=now,
                    decision_id=owner.c.decision_id,
                    error_stage=owner.c.error_stage,
                    error_code=owner.c.error_code,
                    error_message=owner.c.error_message,
                )
            )
        return (apps.rowcount or 0) + (transactions.rowcount or 0)

    def retry_errors(
        self, partition_dates: Iterable[str], application_ids: Sequence[str] | None = None
    ) -> int:
        """Explicit ERROR -> PENDING for decision-stage (and late-arrival) errors.

        Fetch errors are retried by fetching again (``retry_errors`` in the fetch claim), so
        their application rows stay ERROR until a fetch succeeds.
        """
        now = utcnow()
        s = scoring_status
        where = [
            s.c.partition_date.in_(list(partition_dates)),
            s.c.status == ERROR,
            sa.or_(s.c.error_stage.in_(["decide", "ingest"]), s.c.error_stage.is_(None)),
        ]
        if application_ids is not None:
            where.append(s.c.application_id.in_(list(application_ids)))
        with self.engine.begin() as conn:
            result = conn.execute(
                s.update()
                .where(*where)
                .values(
                    status=PENDING,
                    error_stage=None,
                    error_code=None,
                    error_message=None,
                    claim_token=None,
                    updated_at=now,
                )
            )
            # an application with re-opened transactions needs its own row re-opened too
            reopened = (
                sa.select(s.c.application_id)
                .where(
                    s.c.partition_date.in_(list(partition_dates)),
                    s.c.status == PENDING,
                    s.c.transaction_id != APPLICATION_ROW,
                )
                .scalar_subquery()
            )
            result2 = conn.execute(
                s.update()
                .where(
                    s.c.application_id.in_(reopened),
                    s.c.transaction_id == APPLICATION_ROW,
                    s.c.status == SCORED,
                )
                .values(status=PENDING, claim_token=None, updated_at=now)
            )
        return (result.rowcount or 0) + (result2.rowcount or 0)

    # -- reading --------------------------------------------------------------------------------

    def status_counts(self, partition_dates: Iterable[str] | None = None) -> pd.DataFrame:
        """Counts per partition and status: transactions and applications."""
        s = scoring_status
        is_app = sa.case((s.c.transaction_id == APPLICATION_ROW, 1), else_=0)
        query = (
            sa.select(
                s.c.partition_date,
                s.c.status,
                sa.func.sum(1 - is_app).label("transactions"),
                sa.func.sum(is_app).label("applications"),
            )
            .group_by(s.c.partition_date, s.c.status)
            .order_by(s.c.partition_date, s.c.status)
        )
        if partition_dates is not None:
            query = query.where(s.c.partition_date.in_(list(partition_dates)))
        with self.engine.begin() as conn:
            rows = conn.execute(query).all()
        frame = pd.DataFrame(
            rows, columns=["partition_date", "status", "transactions", "applications"]
        )
        return frame.astype({"transactions": "int64", "applications": "int64"})

    def application_statuses(
        self,
        partition_dates: Iterable[str] | None = None,
        *,
        transaction_counts: bool = True,
    ) -> pd.DataFrame:
        """One row per application: its own status, error, decision, and transaction counts.

        ``transaction_counts=False`` leaves the counts out (all zero): they cost a pass over
        every transaction row of the days, which callers that only need the application's own
        state (the checks) skip.
        """
        s = scoring_status
        days = None if partition_dates is None else list(partition_dates)
        counted = s.c.transaction_id != APPLICATION_ROW
        if not transaction_counts:
            counted = sa.false()
        elif days is not None:
            counted = sa.and_(counted, s.c.partition_date.in_(days))
        tx = (
            sa.select(
                s.c.application_id,
                sa.func.count().label("transactions"),
                sa.func.sum(sa.case((s.c.status == PENDING, 1), else_=0)).label("pending"),
                sa.func.sum(sa.case((s.c.status == SENT, 1), else_=0)).label("sent"),
                sa.func.sum(sa.case((s.c.status == SCORED, 1), else_=0)).label("scored"),
                sa.func.sum(sa.case((s.c.status == ERROR, 1), else_=0)).label("error"),
            )
            .where(counted)
            .group_by(s.c.application_id)
            .subquery()
        )
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
                sa.func.coalesce(tx.c.transactions, 0).label("transactions"),
                sa.func.coalesce(tx.c.pending, 0).label("tx_pending"),
                sa.func.coalesce(tx.c.sent, 0).label("tx_sent"),
                sa.func.coalesce(tx.c.scored, 0).label("tx_scored"),
                sa.func.coalesce(tx.c.error, 0).label("tx_error"),
            )
            .select_from(s.outerjoin(tx, tx.c.application_id == s.c.application_id))
            .where(s.c.transaction_id == APPLICATION_ROW)
            .order_by(s.c.partition_date, s.c.application_id)
        )
        if days is not None:
            query = query.where(s.c.partition_date.in_(days))
        with self.engine.begin() as conn:
            rows = conn.execute(query).mappings().all()
        return pd.DataFrame(rows, columns=list(query.selected_columns.keys()))

    def transaction_keys(self, partition_dates: Iterable[str]) -> pd.DataFrame:
        """(application_id, transaction_id, status) of every transaction row in the partitions."""
        s = scoring_status
        query = sa.select(s.c.application_id, s.c.transaction_id, s.c.status).where(
            s.c.partition_date.in_(list(partition_dates)),
            s.c.transaction_id != APPLICATION_ROW,
        )
        with self.engine.begin() as conn:
            return _driver_frame(conn, query)

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

    # -- lake partition locks ------------------------------------------------------------------

    @contextmanager
    def lock(
        self, name: str, *, ttl_seconds: float = 600.0, timeout_seconds: float = 900.0
    ) -> Iterator[None]:
        """Exclusive lease on ``name`` (a lake partition) while its file is rewritten.

        A lease held by a dead process on this host is broken at once; one held elsewhere is
        broken when it expires.
        """
        owner = new_owner_token("lock")
        t = lake_locks
        deadline = time.monotonic() + timeout_seconds
        wait = 0.02
        while True:
            now = utcnow()
            with self.engine.begin() as conn:
                holder = conn.execute(
                    sa.select(t.c.owner, t.c.expires_at).where(t.c.name == name)
                ).first()
                if holder is not None and (
                    _aware(holder.expires_at) < now or owner_is_dead(holder.owner)
                ):
                    conn.execute(t.delete().where(t.c.name == name, t.c.owner == holder.owner))
                    holder = None
                if holder is None:
                    conn.execute(
                        t.insert().values(
                            name=name,
                            owner=owner,
                            expires_at=now + timedelta(seconds=ttl_seconds),
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
            yield
        finally:
            with self.engine.begin() as conn:
                conn.execute(t.delete().where(t.c.name == name, t.c.owner == owner))


def _driver_frame(conn: sa.Connection, query: sa.Select) -> pd.DataFrame:
    """``query``'s rows as a frame, fetched through the DB-API cursor of ``conn``.

    For millions of plain text and number columns, SQLAlchemy's row objects and result
    processing cost several times the database's own work (6 s of CPU for the 2M keys of one
    day); the statement is still compiled by SQLAlchemy for the connection's dialect. Only for
    columns that need no result processing (no datetimes).
    """
    compiled = query.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    params: Any = compiled.params
    if compiled.positional:
        params = tuple(compiled.params[name] for name in compiled.positiontup or [])
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(str(compiled), params)
        rows = cursor.fetchall()
    finally:
        cursor.close()
    return pd.DataFrame.from_records(rows, columns=list(query.selected_columns.keys()))


def _batched(rows: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(rows)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _bound(conn: sa.Connection, column: sa.Column, value: Any) -> Any:
    """``value`` as the driver receives it for ``column`` (SQLite stores datetimes as text)."""
    process = column.type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
    return process(value) if process else value


def _aware(value: datetime | None) -> datetime:
    """SQLite hands back naive datetimes; every stored time is UTC."""
    if value is None:
        return datetime.min.replace(tzinfo=UTC)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _none(value: object) -> Any:
    if value is None:
        return None
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return value


def _null_safe_eq(column: sa.ColumnElement, param: str) -> sa.ColumnElement[bool]:
    """``column = :param`` that is also true when both are NULL."""
    value = sa.bindparam(param)
    return sa.or_(column == value, sa.and_(column.is_(None), value.is_(None)))
