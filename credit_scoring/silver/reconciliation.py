"""Reconciliation of one partition: bronze vs silver + rejects, and silver vs the ledger.

What is compared: the latest successful response of every application that reached silver.
Each transaction copy in it must be in silver (same id and same content) or in the quarantine
(same response, account and feed position) — exactly one of the two. Every silver transaction
must have a ledger row and every ledger transaction row a silver row.

The comparison runs in DuckDB: the bronze responses are unnested by the same SQL silver uses
(slice by slice, as DuckDB cannot spill JSON work), only the six key columns of each copy are
kept, and the joins against silver, the quarantine and the ledger return counts and a few
examples. Nothing the size of the day is materialised in pandas.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import duckdb

from credit_scoring.lake.handoffs import latest_ok_responses
from credit_scoring.lake.storage import LakeStore
from credit_scoring.lake.tables import table_for
from credit_scoring.ledger import FETCHED, SILVERED, Ledger
from credit_scoring.silver.flatten import (
    BATCH_PAYLOAD_BYTES,
    FLATTEN_SQL,
    PARSED_SQL,
    payload_batches,
    register_bronze,
)

COORDS = ["application_id", "request_id", "account_id", "feed_position"]


@dataclass
class Reconciliation:
    """The figures of one partition's reconciliation; ``ok`` when nothing is off."""

    partition: str
    applications_in_silver: int = 0
    applications_awaiting_silver: int = 0
    bronze_transactions: int = 0
    in_silver: int = 0
    in_rejects: int = 0
    missing: int = 0
    in_both: int = 0
    silver_rows: int = 0
    rejected_rows: int = 0
    ledger_rows: int = 0
    silver_without_ledger_row: int = 0
    ledger_without_silver_row: int = 0
    examples: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (
            self.missing
            or self.in_both
            or self.silver_without_ledger_row
            or self.ledger_without_silver_row
        )

    def as_dict(self) -> dict:
        return {**asdict(self), "ok": self.ok}


#: The key columns of every bronze transaction copy, kept in DuckDB between slices.
COPIES_TABLE = """
create temp table copies (
    application_id varchar, request_id varchar, account_id varchar, feed_position integer,
    transaction_id varchar, content_hash varchar
)
"""
#: Queries composed of this module's constants (noqa: S608): no input is interpolated.
INSERT_COPIES = f"""
insert into copies
select application_id, request_id, account_id, feed_position, transaction_id, content_hash
from ({FLATTEN_SQL})
"""  # noqa: S608
FLAGGED = """
flagged as (
select
    c.*,
    exists (
        select 1 from silver s
        where s.application_id = c.application_id and s.transaction_id = c.transaction_id
          and s.content_hash = c.content_hash
    ) as in_silver,
    exists (
        select 1 from rejects r
        where r.application_id = c.application_id and r.request_id = c.request_id
          and r.account_id = c.account_id and r.feed_position = c.feed_position
    ) as in_rejects
from copies c
)
"""
COPY_COUNTS = f"""
with {FLAGGED}
select count(*),
       count(*) filter (where in_silver),
       count(*) filter (where in_rejects),
       count(*) filter (where not in_silver and not in_rejects),
       count(*) filter (where in_silver and in_rejects)
from flagged
"""  # noqa: S608
MISSING_EXAMPLES = f"""
with {FLAGGED}
select application_id, account_id, feed_position, transaction_id
from flagged where not in_silver and not in_rejects
order by application_id, account_id, feed_position
limit 5
"""  # noqa: S608
KEYS_COMPARED = """
keys_compared as (
select coalesce(s.application_id, l.application_id) as application_id,
       coalesce(s.transaction_id, l.transaction_id) as transaction_id,
       l.application_id is null as silver_only,
       s.application_id is null as ledger_only
from (select distinct application_id, transaction_id from silver) s
full outer join ledger_keys l
  on s.application_id = l.application_id and s.transaction_id = l.transaction_id
)
"""
KEY_COUNTS = f"""
with {KEYS_COMPARED}
select count(*) filter (where silver_only), count(*) filter (where ledger_only)
from keys_compared
"""  # noqa: S608
KEY_EXAMPLES = f"""
with {KEYS_COMPARED}
select application_id, transaction_id, silver_only from keys_compared
where silver_only or ledger_only order by application_id, transaction_id limit 5
"""  # noqa: S608


def reconcile(store: LakeStore, ledger: Ledger, day: str) -> Reconciliation:
    report = Reconciliation(partition=day)
    states = ledger.ingestion_states([day])
    silvered = (
        set(states.loc[states["state"] == SILVERED, "application_id"]) if len(states) else set()
    )
    report.applications_in_silver = len(silvered)
    report.applications_awaiting_silver = (
        int((states["state"] == FETCHED).sum()) if len(states) else 0
    )

    bronze = store.read(table_for("bronze/flinks_accounts_detail"), [day], payloads_in_arrow=True)
    latest = latest_ok_responses(bronze.loc[bronze["application_id"].isin(silvered)])
    del bronze
    silver = store.read_arrow(
        table_for("silver/transactions"),
        [day],
        columns=["application_id", "transaction_id", "content_hash"],
    )
    rejects = store.read_arrow(table_for("silver/rejected_transactions"), [day], columns=COORDS)
    ledger_keys = ledger.transaction_keys([day]).loc[:, ["application_id", "transaction_id"]]
    report.silver_rows, report.rejected_rows = silver.num_rows, rejects.num_rows
    report.ledger_rows = len(ledger_keys)

    with duckdb.connect() as connection:
        connection.execute("set threads to 2")
        connection.register("silver", silver)
        connection.register("rejects", rejects)
        connection.register("ledger_keys", ledger_keys)
        connection.execute(COPIES_TABLE)
        for batch in payload_batches(latest, BATCH_PAYLOAD_BYTES):
            register_bronze(connection, batch)
            connection.execute(PARSED_SQL)
            connection.execute(INSERT_COPIES)
            connection.unregister("bronze")
        (
            report.bronze_transactions,
            report.in_silver,
            report.in_rejects,
            report.missing,
            report.in_both,
        ) = connection.execute(COPY_COUNTS).fetchone()
        if report.missing:
            for app, account, position, tid in connection.execute(MISSING_EXAMPLES).fetchall():
                report.examples.append(
                    f"missing: application {app} account {account} position {position} id {tid!r}"
                )
        report.silver_without_ledger_row, report.ledger_without_silver_row = connection.execute(
            KEY_COUNTS
        ).fetchone()
        odd = (
            connection.execute(KEY_EXAMPLES).fetchall()
            if report.silver_without_ledger_row or report.ledger_without_silver_row
            else []
        )
    for app, tid, silver_only in odd:
        side = "silver only" if silver_only else "ledger only"
        report.examples.append(f"{side}: {app} / {tid}")
    return report
