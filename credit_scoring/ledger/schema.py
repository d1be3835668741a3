"""Ledger tables at the current revision. Plain SQL types only, so the same schema runs on
SQLite and PostgreSQL. Every change to them is an Alembic migration (``migrations/``): this
module describes the head revision, the migrations get a database there.

``scoring_status`` is the ledger proper: one row per (application, transaction), plus one row
per application whose ``transaction_id`` is :data:`APPLICATION_ROW` (``*``). That row is the
application's own state: it exists even for an applicant with no transactions (who still needs
a decision), it carries fetch errors, and decisions are claimed through it so an application is
never split between two claimers.

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


def bound_application_row(status: str) -> list[sa.ColumnElement[bool]]:
    """The application row of the application bound as ``:app``, when it is in ``status``:
    the conditions of every compare-and-set on an application's own state."""
    s = scoring_status
    return [
        s.c.application_id == sa.bindparam("app"),
        s.c.transaction_id == APPLICATION_ROW,
        s.c.status == status,
    ]
