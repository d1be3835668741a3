"""Decision claims: PENDING -> SENT (claimed by one run) -> SCORED or ERROR, compare-and-set.

Every transition is an UPDATE whose WHERE names the state it leaves, so under PostgreSQL's READ
COMMITTED a row another transaction changed first no longer matches and is left alone; on
SQLite writers take turns (``BEGIN IMMEDIATE``).

An application is claimed through its application row, and its transactions follow it (their
status is their application's), so an application is never split between two claimers and a
claim or a decision costs one row per application, not one per transaction. A claim is a token
naming its holder; every transition out of SENT checks the token, so a run can only close what
it claimed. Applications left SENT by a run that died are taken over and re-sent with the same
idempotency key (the application id), so the decision engine answers with the decision it
already made.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
import sqlalchemy as sa

from credit_scoring.ledger.owners import new_owner_token, on_this_host, owner_is_dead
from credit_scoring.ledger.schema import (
    APPLICATION_ROW,
    ERROR,
    NO_ERROR,
    PENDING,
    SCORED,
    SENT,
    application_row_of,
    application_transactions,
    bound_application_row,
    scoring_status,
)
from credit_scoring.ledger.sql import aware, chunks, utcnow

#: A claim older than this is stuck work, whoever holds it (another host's run may be gone).
STALE_SENT_AFTER = timedelta(minutes=30)


def token_is(token: sa.BindParameter[str]) -> sa.ColumnElement[bool]:
    """The claim-token check of a compare-and-set on one application row.

    The primary key finds the row; the token is only checked on it, so it is compared as an
    expression that no index on ``claim_token`` can serve. Once PostgreSQL has analysed the
    table (autovacuum does, at its own pace) it knows nothing of a new token, estimates one row
    for it and may look each application up through that index instead, reading the claim's
    every transaction (800k) per application: 190 s instead of well under one for 1,000.
    """
    return scoring_status.c.claim_token.concat("") == token


@dataclass
class Requeued:
    """What ``requeue-stuck`` did: claims returned to PENDING, and live claims it left."""

    requeued: list[dict[str, Any]] = field(default_factory=list)
    live: list[dict[str, Any]] = field(default_factory=list)


def claim_is_abandoned(holder: str | None, sent_at: datetime, cutoff: datetime) -> bool:
    """A claim whose holder is certainly gone: a process of this host that no longer runs, or
    a holder on another host (whose processes this host cannot see) silent since ``cutoff``.
    A live process of this host never loses its claim, however old."""
    if owner_is_dead(holder):
        return True
    return not on_this_host(holder) and aware(sent_at) < cutoff


class DecisionClaims:
    """Claiming applications for a decision, and closing the claim."""

    engine: sa.Engine

    def claim_for_decision(
        self,
        partition_dates: Iterable[str],
        *,
        owner: str | None = None,
        stale_sent_after: timedelta = STALE_SENT_AFTER,
        application_ids: Sequence[str] | None = None,
    ) -> tuple[str, list[str]]:
        """Claim PENDING applications (PENDING -> SENT, compare-and-set); returns (token, won).

        Applications left SENT by a run that died (owner process gone, or older than
        ``stale_sent_after``) are taken over too.
        """
        token = owner or new_owner_token("decide")
        now = utcnow()
        s = scoring_status
        days = list(partition_dates)
        claimed = {
            "status": SENT,
            "claim_token": token,
            "sent_at": now,
            "updated_at": now,
            "attempts": s.c.attempts + 1,
        }
        with self.engine.begin() as conn:
            app_filter = [s.c.partition_date.in_(days), s.c.transaction_id == APPLICATION_ROW]
            if application_ids is not None:
                app_filter.append(s.c.application_id.in_(list(application_ids)))
            # FOR UPDATE SKIP LOCKED (PostgreSQL; SQLite's BEGIN IMMEDIATE already serialises
            # claimers): a claimer passes over the applications another is claiming right now
            # instead of queueing behind it; the outer status check is the compare-and-set.
            pending = (
                sa.select(s.c.application_id)
                .where(*app_filter, s.c.status == PENDING)
                .with_for_update(skip_locked=True)
            )
            conn.execute(
                s.update()
                .where(
                    s.c.transaction_id == APPLICATION_ROW,
                    s.c.status == PENDING,
                    s.c.application_id.in_(pending.scalar_subquery()),
                )
                .values(**claimed)
            )
            sent = conn.execute(
                sa.select(s.c.application_id, s.c.claim_token, s.c.sent_at).where(
                    *app_filter, s.c.status == SENT, s.c.claim_token != token
                )
            ).all()
            stale = [
                {"app": app, "old": holder}
                for app, holder, sent_at in sent
                if owner_is_dead(holder) or aware(sent_at) < now - stale_sent_after
            ]
            if stale:
                conn.execute(
                    s.update()
                    .where(*bound_application_row(SENT), token_is(sa.bindparam("old")))
                    .values(**claimed),
                    stale,
                )
            won = list(
                conn.scalars(
                    sa.select(s.c.application_id)
                    .where(*app_filter, s.c.status == SENT, s.c.claim_token == token)
                    .order_by(s.c.application_id)
                ).all()
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
        return self._close_claim(params, token=token, status=SCORED, now=now, values=NO_ERROR)

    def mark_errors(self, errors: pd.DataFrame, *, token: str, stage: str = "decide") -> int:
        """SENT -> ERROR for this claim's applications (``application_id``, code, message)."""
        if errors.empty:
            return 0
        now = utcnow()
        columns = ["application_id", "error_code", "error_message"]
        params = [
            {"app": str(a), "b_error_code": str(c), "b_error_message": str(m)[:2000]}
            | {"token": token, "now": now}
            for a, c, m in errors.loc[:, columns].itertuples(index=False, name=None)
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
        """Close applications of one claim: each application row by primary key, with its own
        decision id or error. Their transactions follow them (their status is their
        application's), so the work does not grow with the transactions.

        Returns the ledger entries closed: the applications and the transactions they hold.
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
        with self.engine.begin() as conn:
            closed = conn.execute(
                s.update()
                .where(*bound_application_row(SENT), token_is(sa.bindparam("token")))
                .values(**app_values),
                params,
            ).rowcount
            if not closed:
                return 0
            apps = [p["app"] for p in params]
            now_closed = [token_is(sa.bindparam("token", token)), s.c.updated_at == now]
            return closed + self._transactions_of(conn, apps, s.c.status == status, *now_closed)

    @staticmethod
    def _transactions_of(
        conn: sa.Connection, app_ids: Sequence[str], *state: sa.ColumnElement[bool]
    ) -> int:
        """How many transactions the listed applications hold, of those whose own row
        matches ``state``: the entries a transition of those applications moved."""
        s, t = scoring_status, application_transactions
        total = 0
        for chunk in chunks(app_ids):
            total += (
                conn.scalar(
                    sa.select(sa.func.count())
                    .select_from(t.join(s, application_row_of(t.c.application_id)))
                    .where(s.c.application_id.in_(chunk), *state)
                )
                or 0
            )
        return total

    def retry_errors(
        self, partition_dates: Iterable[str], application_ids: Sequence[str] | None = None
    ) -> int:
        """Explicit ERROR -> PENDING for decision-stage errors, and a new decision for
        applications holding transactions that arrived after their decision.

        Fetch errors are retried by fetching again (``retry_errors`` in the fetch claim), so
        their application rows stay ERROR until a fetch succeeds. Returns the ledger entries
        re-opened: the applications and the transactions they hold.
        """
        now = utcnow()
        s, t = scoring_status, application_transactions
        days = list(partition_dates)
        of_days = [s.c.partition_date.in_(days), s.c.transaction_id == APPLICATION_ROW]
        if application_ids is not None:
            of_days.append(s.c.application_id.in_(list(application_ids)))
        reopened = {"status": PENDING, **NO_ERROR, "claim_token": None, "updated_at": now}
        with self.engine.begin() as conn:
            holding = list(
                conn.scalars(
                    sa.select(s.c.application_id)
                    .where(*of_days, s.c.status != ERROR)
                    .where(
                        sa.exists().where(
                            t.c.application_id == s.c.application_id,
                            t.c.held_code.is_not(None),
                        )
                    )
                ).all()
            )
            failed = list(
                conn.scalars(
                    sa.select(s.c.application_id).where(
                        *of_days,
                        s.c.status == ERROR,
                        sa.or_(
                            s.c.error_stage.in_(["decide", "ingest"]), s.c.error_stage.is_(None)
                        ),
                    )
                ).all()
            )
            moved = 0
            # a decided application holding late transactions is decided again, with them;
            # one still SENT keeps its claim, and its late transactions follow its decision
            for ids, leaving in ((failed, ERROR), (holding, SCORED)):
                for chunk in chunks(ids):
                    moved += (
                        conn.execute(
                            s.update()
                            .where(*of_days, s.c.application_id.in_(chunk), s.c.status == leaving)
                            .values(**reopened)
                        ).rowcount
                        or 0
                    )
            for chunk in chunks(failed + holding):
                conn.execute(
                    t.update()
                    .where(t.c.application_id.in_(chunk), t.c.held_code.is_not(None))
                    .values(held_code=None)
                )
            if moved:
                moved += self._transactions_of(
                    conn, failed + holding, s.c.status == PENDING, s.c.updated_at == now
                )
        return moved

    def requeue_stuck(
        self,
        *,
        older_than: timedelta = STALE_SENT_AFTER,
        application_ids: Sequence[str] | None = None,
    ) -> Requeued:
        """SENT -> PENDING for claims whose holder is gone (:func:`claim_is_abandoned`).

        Each application row goes back by compare-and-set on its old token (its transactions
        follow it), so a holder that closed its claim meanwhile keeps it (and the application
        is not reported as requeued). One statement per stuck application: an operator's
        command over a handful. The next decide step sends the application again with the same
        entity id, and the engine answers with the decision it may already have made.
        """
        s = scoring_status
        now = utcnow()
        where = [s.c.transaction_id == APPLICATION_ROW, s.c.status == SENT]
        if application_ids is not None:
            where.append(s.c.application_id.in_(list(application_ids)))
        reopened = {"status": PENDING, "claim_token": None, "updated_at": now}
        result = Requeued()
        with self.engine.begin() as conn:
            sent = conn.execute(
                sa.select(s.c.partition_date, s.c.application_id, s.c.claim_token, s.c.sent_at)
                .where(*where)
                .order_by(s.c.partition_date, s.c.application_id)
            ).all()
            for day, app, holder, sent_at in sent:
                row = {"partition_date": day, "application_id": app, "holder": holder}
                row["sent_at"] = aware(sent_at).isoformat() if sent_at else None
                if not claim_is_abandoned(holder, sent_at, now - older_than):
                    result.live.append(row)
                    continue
                same_claim = [s.c.application_id == app, s.c.status == SENT]
                same_claim.append(
                    s.c.claim_token.is_(None)
                    if holder is None
                    else token_is(sa.bindparam("old", holder))
                )
                moved = conn.execute(
                    s.update()
                    .where(s.c.transaction_id == APPLICATION_ROW, *same_claim)
                    .values(**reopened)
                ).rowcount
                if moved:
                    result.requeued.append(row)
        return result
