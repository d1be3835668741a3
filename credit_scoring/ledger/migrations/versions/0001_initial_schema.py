"""The ledger as it was before migrations: scoring_status, application_ingestion, lake_locks.

A ledger created before migrations existed holds exactly these tables; ``ledger upgrade``
stamps it at this revision and carries it forward from here.

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# frozen copies: a migration never follows later changes of the code's constants
STATUSES = ("PENDING", "SENT", "SCORED", "ERROR")
INGESTION_STATES = ("FETCHING", "FETCHED", "SILVERED", "ERROR")


def upgrade() -> None:
    op.create_table(
        "scoring_status",
        sa.Column("application_id", sa.String(128)),
        sa.Column("transaction_id", sa.String(128)),
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
        sa.PrimaryKeyConstraint("application_id", "transaction_id"),
        sa.CheckConstraint(f"status IN {STATUSES}", name="ck_scoring_status_status"),
    )
    op.create_index("ix_scoring_status_partition", "scoring_status", ["partition_date", "status"])
    op.create_index("ix_scoring_status_claim", "scoring_status", ["claim_token"])
    op.create_table(
        "application_ingestion",
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
    op.create_index(
        "ix_application_ingestion_partition",
        "application_ingestion",
        ["partition_date", "state"],
    )
    op.create_table(
        "lake_locks",
        sa.Column("name", sa.String(512), primary_key=True),
        sa.Column("owner", sa.String(160), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("lake_locks")
    op.drop_index("ix_application_ingestion_partition", "application_ingestion")
    op.drop_table("application_ingestion")
    op.drop_index("ix_scoring_status_claim", "scoring_status")
    op.drop_index("ix_scoring_status_partition", "scoring_status")
    op.drop_table("scoring_status")
