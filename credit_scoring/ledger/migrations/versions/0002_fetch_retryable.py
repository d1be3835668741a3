"""Fetch leases keep the fetch's own verdict on a failure: ``retryable``.

Until now the ledger decided retries from a list of Flinks codes of its own, which disagreed
with the client's rule. From this revision the fetch says whether its failure is worth another
attempt and the ledger stores that. Failures recorded before it are classified here once, by
the client's rule as it stands at this revision (frozen below), in its order: transient when
the code is a transient Flinks code or the status 429 or 5xx; terminal for the terminal codes,
any other ``INVALID_*`` code, a refused redirect and any other 4xx; transient otherwise (no
answer at all — timeouts, dropped connections —, a malformed 200 answer, a failed run).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TRANSIENT_CODES = ("RETRY_LATER", "TOO_MANY_REQUESTS", "OPERATION_PENDING", "OPERATION_DISPATCHED")
TERMINAL_CODES = (
    "INVALID_LOGIN",
    "DISABLED_LOGIN",
    "NEW_ACCOUNT",
    "SESSION_NONEXISTENT",
    "UNAUTHORIZED",
    "REDIRECT_REFUSED",
)


def upgrade() -> None:
    with op.batch_alter_table("application_ingestion") as batch:
        batch.add_column(sa.Column("retryable", sa.Boolean))
    ingestion = sa.table(
        "application_ingestion",
        sa.column("state", sa.String),
        sa.column("error_code", sa.String),
        sa.column("http_status", sa.Integer),
        sa.column("retryable", sa.Boolean),
    )
    code, status = ingestion.c.error_code, ingestion.c.http_status
    transient = sa.or_(code.in_(TRANSIENT_CODES), status == 429, status >= 500)
    terminal = sa.or_(
        code.in_(TERMINAL_CODES),
        code.like("INVALID\\_%", escape="\\"),
        status.between(400, 499),
    )
    op.execute(
        ingestion.update()
        .where(ingestion.c.state == "ERROR")
        .values(retryable=sa.case((transient, sa.true()), (terminal, sa.false()), else_=sa.true()))
    )


def downgrade() -> None:
    with op.batch_alter_table("application_ingestion") as batch:
        batch.drop_column("retryable")
