"""Ledger tables. Plain SQL types only, so the same schema runs on SQLite and PostgreSQL.

``scoring_status`` is the ledger proper: one row per (application, transaction), plus one row
per application whose ``transaction_id`` is :data:`APPLICATION_ROW` (``*``). That row is the
application's own state: it exists even for an applicant with no transactions (who still needs
a decision), it carries fetch errors, and decisions are claimed through it so an application is
never split between two claimers.

``application_ingestion`` is the fetch lease: which run is fetching which application, so two
overlapping runs never pull the same applicant twice and a run killed mid-fetch leaves work
that the next run can take over.

``lake_locks`` are short leases that serialise writers of one lake partition file.
"""

from __future__ import annotations

import sqlalchemy as sa

APPLICATION_ROW = "*"

PENDING, SENT, SCORED, ERROR = "PENDING", "SENT", "SCORED", "ERROR"
STATUSES = (PENDING, SENT, SCORED, ERROR)

FETCHING, FETCHED, SILVERED = "FETCHING", "FETCHED", "SILVERED"
INGESTION_STATES = (FETCHING, FETCHED, SILVERED, ERROR)

metadata = sa.MetaData()

scoring_status = sa.Table(
    "scoring_status",
    metadata,
    sa.Column("application_id", sa.String(128), primary_key=True),
    sa.Column("transaction_id", sa.String(128), primary_key=True),
    sa.Column("partition_date", sa.String(10), nullable=False),
    sa.Column("status", sa.String(8), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("error_stage", sa.String(16)),
    sa.Column("error_code", sa.String(64)),
    sa.Column("error_message", sa.Text),
    sa.Column("decision_id", sa.String(128)),
    sa.Column("claim_token", sa.String(160)),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("sent_at", sa.DateTime(timezone=True)),
    sa.CheckConstraint(f"status IN {STATUSES}", name="ck_scoring_status_status"),
)
sa.Index("ix_scoring_status_partition", scoring_status.c.partition_date, scoring_status.c.status)
sa.Index(
    "ix_scoring_status_claim",
    scoring_status.c.claim_token,
)

application_ingestion = sa.Table(
    "application_ingestion",
    metadata,
    sa.Column("application_id", sa.String(128), primary_key=True),
    sa.Column("login_id", sa.String(128), nullable=False),
    sa.Column("partition_date", sa.String(10), nullable=False),
    sa.Column("state", sa.String(10), nullable=False),
    sa.Column("owner", sa.String(160)),
    sa.Column("lease_expires_at", sa.DateTime(timezone=True)),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("request_id", sa.String(128)),
    sa.Column("http_status", sa.Integer),
    sa.Column("error_code", sa.String(64)),
    sa.Column("error_message", sa.Text),
    sa.Column("fetched_at", sa.DateTime(timezone=True)),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
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
    sa.Column("name", sa.String(512), primary_key=True),
    sa.Column("owner", sa.String(160), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
)
