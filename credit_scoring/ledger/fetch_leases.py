"""Fetch leases (``application_ingestion``): which run is fetching which application.

Two overlapping runs never pull the same applicant twice; a run killed mid-fetch leaves leases
that the next run takes over (at once when the holder's process is gone on this host, when the
lease expires otherwise). Whether a failed fetch is tried again is the fetch's own verdict,
stored with it (``retryable``): a transient failure is retried by the next run automatically, a
terminal one only when an operator asks (``retry_errors``). An application whose fetch keeps
failing transiently is given up after ``fetch_attempts`` runs: it ends ERROR with its last code,
no longer retryable, so a dead login is not fetched every night forever. An operator's
refetch or ``retry_errors`` starts the count afresh. A run that fails as a whole (its leases
given back as ``RUN_FAILED``) or dies does not count against its applications: the fault was
the run's, not theirs.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pandas as pd
import sqlalchemy as sa

from credit_scoring.ledger.owners import owner_is_dead
from credit_scoring.ledger.schema import (
    APPLICATION_ROW,
    ERROR,
    FETCHED,
    FETCHING,
    SILVERED,
    application_ingestion,
    bound_application_row,
    scoring_status,
)
from credit_scoring.ledger.sql import (
    aware,
    chunks,
    insert_ignore,
    none_if_missing,
    null_safe_eq,
    utcnow,
)

#: Code of a lease given back because the run holding it failed before landing bronze.
RUN_FAILED = "RUN_FAILED"
#: Columns :meth:`FetchLeases.record_fetch_outcomes` reads (bronze rows carry all of them).
OUTCOME_COLUMNS = [
    "application_id",
    "partition_date",
    "ok",
    "retryable",
    "request_id",
    "http_status",
    "error_code",
    "error_message",
    "fetched_at",
]


class FetchLeases:
    """Claiming, closing and giving back fetch leases."""

    engine: sa.Engine
    #: Runs that may fetch one application (``CREDIT_SCORING_FETCH_ATTEMPTS``).
    fetch_attempts: int

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

        Won: never seen before; an expired or dead lease; a fetch ERROR the fetch called
        retryable (retried automatically), or any fetch ERROR with ``retry_errors``; already
        fetched only with ``refetch``. Lost: anything another live run is fetching.
        """
        if applications.empty:
            return []
        now = utcnow()
        expires = now + timedelta(seconds=lease_seconds)
        ids = [str(v) for v in applications["application_id"]]
        lease = {
            "state": FETCHING,
            "owner": owner,
            "lease_expires_at": expires,
            "attempts": 0,
            "updated_at": now,
        }
        # inserted in key order: two runs inserting overlapping sets on PostgreSQL then wait
        # for each other in the same order instead of deadlocking
        keys = (
            applications.loc[:, ["application_id", "login_id", "partition_date"]]
            .astype(str)
            .sort_values("application_id")
        )
        rows = [{**key, **lease} for key in keys.to_dict("records")]
        t = application_ingestion
        takeable_states = [FETCHED, SILVERED] if refetch else []
        with self.engine.begin() as conn:
            for chunk in chunks(rows):
                conn.execute(insert_ignore(self.engine, t), list(chunk))
            for chunk in chunks(sorted(set(ids))):
                current = conn.execute(
                    sa.select(
                        t.c.application_id,
                        t.c.state,
                        t.c.owner,
                        t.c.lease_expires_at,
                        t.c.retryable,
                    )
                    .where(t.c.application_id.in_(chunk))
                    .order_by(t.c.application_id)
                ).all()
                takeover: list[dict[str, Any]] = []
                for app, state, holder, lease, retryable in current:
                    if holder == owner:
                        continue
                    stale = state == FETCHING and (aware(lease) < now or owner_is_dead(holder))
                    retry = state == ERROR and (retry_errors or bool(retryable))
                    if stale or retry or state in takeable_states:
                        # an operator's refetch, or retry of a final error, starts its count of
                        # attempts afresh; the next run's automatic retry keeps counting
                        asked = state in takeable_states or (retry and not retryable)
                        takeover.append(
                            {"app": app, "old_state": state, "old_owner": holder, "fresh": asked}
                        )
                if takeover:
                    conn.execute(
                        t.update()
                        .where(
                            t.c.application_id == sa.bindparam("app"),
                            t.c.state == sa.bindparam("old_state"),
                            null_safe_eq(t.c.owner, "old_owner"),
                        )
                        .values(
                            state=FETCHING,
                            owner=owner,
                            lease_expires_at=expires,
                            updated_at=now,
                            attempts=sa.case(
                                (sa.bindparam("fresh", type_=sa.Boolean), 0),
                                else_=t.c.attempts,
                            ),
                        ),
                        takeover,
                    )
            won: list[str] = []
            for chunk in chunks(ids):
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
        """Close this caller's leases: FETCHED, or ERROR with its code and whether it is
        retryable (compare-and-set on the owner); ``outcomes`` has :data:`OUTCOME_COLUMNS`.

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
                "b_request_id": none_if_missing(row.request_id),
                "b_http_status": None if pd.isna(row.http_status) else int(row.http_status),
                "b_error_code": None if row.ok else none_if_missing(row.error_code),
                "b_error_message": None if row.ok else none_if_missing(row.error_message),
                "b_retryable": None if row.ok else bool(row.retryable),
                "b_fetched_at": row.fetched_at.to_pydatetime()
                if isinstance(row.fetched_at, pd.Timestamp)
                else row.fetched_at,
                "now": now,
            }
            for row in outcomes.loc[:, OUTCOME_COLUMNS].itertuples(index=False)
        ]
        t = application_ingestion
        failed = [p for p in params if p["b_state"] == ERROR]
        with self.engine.begin() as conn:
            self._give_up_at_the_cap(conn, [p for p in failed if p["b_retryable"]])
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
                    retryable=sa.bindparam("b_retryable"),
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
                self._record_fetch_errors(conn, failed, partition_of, now)

    def _give_up_at_the_cap(self, conn: sa.Connection, transient: list[dict[str, Any]]) -> None:
        """A transient failure on an application's last allowed attempt is final: recorded as
        not retryable (still ERROR with its last code), so no run fetches it again unless an
        operator asks (``retry_errors``). Changes ``transient``'s parameters in place."""
        if not transient:
            return
        t = application_ingestion
        attempts: dict[str, int] = {}
        for chunk in chunks([p["app"] for p in transient]):
            rows = conn.execute(
                sa.select(t.c.application_id, t.c.attempts).where(t.c.application_id.in_(chunk))
            )
            attempts.update({app: int(n) for app, n in rows})
        for p in transient:
            done = attempts.get(p["app"], 0) + 1
            if done >= self.fetch_attempts:
                p["b_retryable"] = False
                p["b_error_message"] = (
                    f"gave up after {done} fetch attempts (CREDIT_SCORING_FETCH_ATTEMPTS="
                    f"{self.fetch_attempts}); last: {p['b_error_message'] or p['b_error_code']}"
                )

    def _record_fetch_errors(
        self,
        conn: sa.Connection,
        failed: list[dict[str, Any]],
        partition_of: dict[str, str],
        now: Any,
    ) -> None:
        """The application rows of failed fetches: created if new, ERROR with the fetch's code."""
        s = scoring_status
        conn.execute(
            insert_ignore(self.engine, s),
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
            .where(*bound_application_row(ERROR))
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

        They become a retryable ERROR, which the next run retries automatically.
        """
        t = application_ingestion
        with self.engine.begin() as conn:
            result = conn.execute(
                t.update()
                .where(t.c.owner == owner, t.c.state == FETCHING)
                .values(
                    state=ERROR,
                    error_code=RUN_FAILED,
                    error_message="the run fetching this application failed; retried next run",
                    retryable=True,
                    lease_expires_at=None,
                    updated_at=utcnow(),
                )
            )
        return result.rowcount or 0
