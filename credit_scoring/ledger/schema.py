"""Ledger tables at the current revision. Plain SQL types only, so the same schema runs on
SQLite and PostgreSQL. Every change to them is an Alembic migration (``migrations/``): this
module describes the head revision, the migrations get a database there.

``scoring_status`` is the ledger proper: one row per application, whose ``transaction_id`` is
:data:`APPLICATION_ROW` (``*``). That row is the application's state: it exists even for an
applicant with no transactions (who still needs a decision), it carries fetch errors, and
decisions are claimed through it so an application is never split between two claimers.

``application_transactions`` registers each transaction once: which application it belongs to.
All of an application's transactions go to the decision engine in one request, so they move
together and a transaction's status is its application's (the ``transaction_status`` view): a
claim or a decision writes one row per application, not one per transaction. A transaction
that arrived after its application was decided is the exception and keeps its own marker
(``held_code``) until an operator asks for a new decision. A ledger written before this split
kept a row per transaction in ``scoring_status``; migration 0003 moves them here.

``application_ingestion`` is the fetch lease: which run is fetching which application, so two
overlapping runs never pull the same applicant twice and a run killed mid-fetch leaves work
that the next run can take over.

``application_ingestion.retryable`` is what the fetch said of its own failure (a transient
error is retried by the next run; a terminal one only when an operator asks): the ledger keeps
the verdict, never a vendor's list of codes.

``lake_locks`` are short leases that serialise writers of one lake partition file; they live in
this database because every writer already shares it (see :mod:`credit_scoring.lake.locks`).
"""

from __future__ import annotations

import sqlalchemy as sa

APPLICATION_ROW = "*"

PENDING, SENT, SCORED, ERROR = "PENDING", "SENT", "SCORED", "ERROR"
STATUSES = (PENDING, SENT, SCORED, ERROR)

FETCHING, FETCHED, SILVERED = "FETCHING", "FETCHED", "SILVERED"
INGESTION_STATES = (FETCHING, FETCHED, SILVERED, ERROR)

#: The columns an error fills; a transition out of ERROR clears them all.
NO_ERROR = {"error_stage": None, "error_code": None, "error_message": None}

metadata = sa.MetaData()


def key(name: str, length: int = 128) -> sa.Column:
    """Part of the primary key (an id: text of at most ``length`` characters)."""
    return sa.Column(name, sa.String(length), primary_key=True)


def text(name: str, length: int | None = None, *, required: bool = False) -> sa.Column:
    """Text, bounded when ``length`` is given."""
    return sa.Column(name, sa.String(length) if length else sa.Text, nullable=not required)


def moment(name: str, *, required: bool = False) -> sa.Column:
    """A time, stored with its time zone (always UTC)."""
    return sa.Column(name, sa.DateTime(timezone=True), nullable=not required)


def counter(name: str) -> sa.Column:
    return sa.Column(name, sa.Integer, nullable=False, server_default="0")


scoring_status = sa.Table(
    "scoring_status",
    metadata,
    key("application_id"),
    key("transaction_id"),
    text("partition_date", 10, required=True),
    text("status", 8, required=True),
    counter("attempts"),
    text("error_stage", 16),
    text("error_code", 64),
    text("error_message"),
    text("decision_id", 128),
    text("claim_token", 160),
    moment("created_at", required=True),
    moment("updated_at", required=True),
    moment("sent_at"),
    sa.CheckConstraint(f"status IN {STATUSES}", name="ck_scoring_status_status"),
)
sa.Index("ix_scoring_status_partition", scoring_status.c.partition_date, scoring_status.c.status)
sa.Index("ix_scoring_status_claim", scoring_status.c.claim_token)

application_transactions = sa.Table(
    "application_transactions",
    metadata,
    key("application_id"),
    key("transaction_id"),
    moment("created_at", required=True),
    text("held_code", 64),
    # SQLite keeps the rows in their primary key's B-tree instead of a rowid table plus an
    # index of that key: one tree to write per registered transaction instead of two
    sqlite_with_rowid=False,
)

application_ingestion = sa.Table(
    "application_ingestion",
    metadata,
    key("application_id"),
    text("login_id", 128, required=True),
    text("partition_date", 10, required=True),
    text("state", 10, required=True),
    text("owner", 160),
    moment("lease_expires_at"),
    counter("attempts"),
    text("request_id", 128),
    sa.Column("http_status", sa.Integer),
    text("error_code", 64),
    text("error_message"),
    moment("fetched_at"),
    moment("updated_at", required=True),
    sa.Column("retryable", sa.Boolean),
    sa.CheckConstraint(f"state IN {INGESTION_STATES}", name="ck_application_ingestion_state"),
)
sa.Index(
    "ix_application_ingestion_partition",
    application_ingestion.c.partition_date,
    application_ingestion.c.state,
)

lake_locks = sa.Table(
    "lake_locks",
    metadata,
    key("name", 512),
    text("owner", 160, required=True),
    moment("expires_at", required=True),
)


def transaction_status() -> sa.Select:
    """Every transaction with its status: its own marker when it has one, else its application's.

    The ``transaction_status`` view (migration 0003) is the same query, for operators' SQL.
    """
    a, t = scoring_status, application_transactions
    held = t.c.held_code.is_not(None)
    return sa.select(
        a.c.partition_date,
        t.c.application_id,
        t.c.transaction_id,
        sa.case((held, ERROR), else_=a.c.status).label("status"),
        sa.case((held, "ingest"), else_=a.c.error_stage).label("error_stage"),
        sa.case((held, t.c.held_code), else_=a.c.error_code).label("error_code"),
        sa.case((held, None), else_=a.c.decision_id).label("decision_id"),
        t.c.created_at,
    ).select_from(t.join(a, application_row_of(t.c.application_id)))


def application_row_of(application_id: sa.ColumnElement[str]) -> sa.ColumnElement[bool]:
    """Join condition: the application row of ``application_id``."""
    s = scoring_status
    return sa.and_(s.c.application_id == application_id, s.c.transaction_id == APPLICATION_ROW)


def bound_application_row(status: str) -> list[sa.ColumnElement[bool]]:
    """The application row of the application bound as ``:app``, when it is in ``status``:
    the conditions of every compare-and-set on an application's own state."""
    s = scoring_status
    return [
        s.c.application_id == sa.bindparam("app"),
        s.c.transaction_id == APPLICATION_ROW,
        s.c.status == status,
    ]
