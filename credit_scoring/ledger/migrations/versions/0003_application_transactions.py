"""A transaction's status is its application's: transactions move to their own table.

Until this revision ``scoring_status`` kept a row per transaction beside its application's row,
and every claim and every decision rewrote all of them (three writes per transaction, with
their indexes). All of an application's transactions are sent in one decision request, so they
always moved together. From here each transaction is registered once in
``application_transactions`` and takes its status from its application's row; the
``transaction_status`` view shows every transaction with that status, for operators' SQL.

The one transaction that does not follow its application is one that arrived after the
application was decided: it keeps its own marker (``held_code``) until an operator asks for a
new decision. Rows moved here keep that marker. Any other transaction row whose status differed
from its application's follows the application from now on; an application row missing beside
its transactions (which registration never leaves) is created from them first, so that no
transaction is dropped.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# frozen copies: a migration never follows later changes of the code's constants
APPLICATION_ROW = "*"
HELD_CODE = "ARRIVED_AFTER_DECISION"

#: Queries of this module's constants only (noqa: S608): nothing is interpolated from input.
MISSING_APPLICATION_ROWS = f"""
insert into scoring_status
    (application_id, transaction_id, partition_date, status, attempts, created_at, updated_at)
select application_id, '{APPLICATION_ROW}', min(partition_date),
       case when min(status) = max(status) then min(status) else 'PENDING' end,
       0, min(created_at), max(updated_at)
from scoring_status t
where transaction_id <> '{APPLICATION_ROW}'
  and not exists (
      select 1 from scoring_status a
      where a.application_id = t.application_id and a.transaction_id = '{APPLICATION_ROW}'
  )
group by application_id
"""  # noqa: S608
MOVE_TRANSACTIONS = f"""
insert into application_transactions (application_id, transaction_id, created_at, held_code)
select application_id, transaction_id, created_at,
       case when status = 'ERROR' and error_code = '{HELD_CODE}' then error_code end
from scoring_status
where transaction_id <> '{APPLICATION_ROW}'
"""  # noqa: S608
TRANSACTION_STATUS_VIEW = f"""
create view transaction_status as
select a.partition_date, t.application_id, t.transaction_id,
       case when t.held_code is not null then 'ERROR' else a.status end as status,
       case when t.held_code is not null then 'ingest' else a.error_stage end as error_stage,
       case when t.held_code is not null then t.held_code else a.error_code end as error_code,
       case when t.held_code is not null then null else a.decision_id end as decision_id,
       t.created_at
from application_transactions t
join scoring_status a
  on a.application_id = t.application_id and a.transaction_id = '{APPLICATION_ROW}'
"""  # noqa: S608
RESTORE_TRANSACTION_ROWS = f"""
insert into scoring_status
    (application_id, transaction_id, partition_date, status, attempts, error_stage, error_code,
     error_message, decision_id, claim_token, created_at, updated_at, sent_at)
select t.application_id, t.transaction_id, a.partition_date,
       case when t.held_code is not null then 'ERROR' else a.status end, a.attempts,
       case when t.held_code is not null then 'ingest' else a.error_stage end,
       case when t.held_code is not null then t.held_code else a.error_code end,
       case when t.held_code is not null then null else a.error_message end,
       case when t.held_code is not null then null else a.decision_id end,
       case when t.held_code is not null then null else a.claim_token end,
       t.created_at, a.updated_at,
       case when t.held_code is not null then null else a.sent_at end
from application_transactions t
join scoring_status a
  on a.application_id = t.application_id and a.transaction_id = '{APPLICATION_ROW}'
"""  # noqa: S608


def upgrade() -> None:
    op.create_table(
        "application_transactions",
        sa.Column("application_id", sa.String(128)),
        sa.Column("transaction_id", sa.String(128)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("held_code", sa.String(64)),
        sa.PrimaryKeyConstraint("application_id", "transaction_id"),
        sqlite_with_rowid=False,
    )
    op.execute(MISSING_APPLICATION_ROWS)
    op.execute(MOVE_TRANSACTIONS)
    op.execute(f"delete from scoring_status where transaction_id <> '{APPLICATION_ROW}'")  # noqa: S608
    op.execute(TRANSACTION_STATUS_VIEW)


def downgrade() -> None:
    op.execute("drop view transaction_status")
    op.execute(RESTORE_TRANSACTION_ROWS)
    op.drop_table("application_transactions")
