"""Reconciliation of one partition: bronze vs silver + rejects, and silver vs the ledger.

What is compared: the latest successful response of every application that reached silver.
Each transaction copy in it must be in silver (same id and same content) or in the quarantine
(same response, account and feed position) — exactly one of the two. Every silver transaction
must have a ledger row and every ledger transaction row a silver row.

The comparison runs in DuckDB: the bronze responses are unnested by the same SQL silver uses
(slice by slice, as DuckDB cannot spill JSON work), only the six key columns of each copy are
kept, and the joins against silver, the quarantine and the ledger return counts and a few
examples. The bronze file is read a few dozen responses at a time, so the check never holds a
day's payloads, and nothing the size of the day is materialised in pandas. The day-sized tables
(silver's keys, the quarantine's, the ledger's and every bronze copy's) live in a DuckDB
database bounded in memory that spills to disk
(:func:`~credit_scoring.core.memory.spilling_duckdb`); the JSON is parsed in another, unbounded
one, as DuckDB cannot spill JSON work.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from credit_scoring.core.memory import spilling_duckdb
from credit_scoring.lake.handoffs import LATEST_COLUMNS, latest_ok_responses
from credit_scoring.lake.storage import LARGE_TEXT, LakeStore
from credit_scoring.lake.tables import LakeTable, table_for
from credit_scoring.ledger import FETCHED, SILVERED, Ledger
from credit_scoring.silver.flatten import (
    BATCH_PAYLOAD_BYTES,
    BRONZE_COLUMNS,
    FLATTEN_SQL,
    PARSED_SQL,
    parsing_database,
    payload_batches,
    register_bronze,
)

COORDS = ["application_id", "request_id", "account_id", "feed_position"]
#: Bronze responses read from the file at a time: about 8 MB of payloads on the benchmark's
#: days, so the check holds one slice of the day's JSON, never the whole day's.
RESPONSES_PER_READ = 64


class CopyCounts(NamedTuple):
    """Where the bronze transaction copies went: one row of :data:`COPY_COUNTS`."""

    bronze_transactions: int
    in_silver: int
    in_rejects: int
    #: in neither silver nor the quarantine: lost
    missing: int
    #: in both silver and the quarantine: doubled
    in_both: int


class KeyCounts(NamedTuple):
    """Silver's keys against the ledger's: one row of :data:`KEY_COUNTS`."""

    silver_without_ledger_row: int
    ledger_without_silver_row: int


@dataclass
class Reconciliation:
    """The figures of one partition's reconciliation; ``ok`` when nothing is off."""

    partition: str
    applications_in_silver: int
    applications_awaiting_silver: int
    copies: CopyCounts
    silver_rows: int
    rejected_rows: int
    ledger_rows: int
    keys: KeyCounts
    examples: list[str]

    @property
    def ok(self) -> bool:
        return not (self.copies.missing or self.copies.in_both or any(self.keys))

    def as_dict(self) -> dict:
        """The figures flat, in the order ``ledger reconcile --json`` has always printed them."""
        return {
            "partition": self.partition,
            "applications_in_silver": self.applications_in_silver,
            "applications_awaiting_silver": self.applications_awaiting_silver,
            **self.copies._asdict(),
            "silver_rows": self.silver_rows,
            "rejected_rows": self.rejected_rows,
            "ledger_rows": self.ledger_rows,
            **self.keys._asdict(),
            "examples": self.examples,
            "ok": self.ok,
        }


#: The key columns of every bronze transaction copy, kept in DuckDB between slices.
COPIES_TABLE = """
create temp table copies (
    application_id varchar, request_id varchar, account_id varchar, feed_position integer,
    transaction_id varchar, content_hash varchar
)
"""
#: The ledger's keys of the day, loaded batch by batch (never all as Python rows at once).
LEDGER_KEYS_TABLE = """
create temp table ledger_keys (application_id varchar, transaction_id varchar)
"""
#: One batch of :meth:`Ledger.transaction_key_batches` (a JSON array of ids per application)
#: as key rows.
INSERT_LEDGER_KEYS = """
insert into ledger_keys
select application_id, unnest(from_json(transaction_ids, '["VARCHAR"]'))
from ledger_batch
"""
#: One slice's copies, from the parsed responses (composed of this module's constants: no
#: input is interpolated).
SLICE_COPIES = f"""
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


def load(
    tables: duckdb.DuckDBPyConnection,
    name: str,
    store: LakeStore,
    table: LakeTable,
    day: str,
    columns: list[str],
) -> int:
    """Copy ``columns`` of the day's partition of ``table`` into the DuckDB table ``name``, a
    batch at a time (DuckDB then holds them within its limit, spilling what does not fit);
    returns the rows copied."""
    tables.from_arrow(store.batch_reader(table, day, columns)).create(name)
    ((rows,),) = tables.table(name).aggregate("count(*)").fetchall()
    return int(rows)


def reconcile(store: LakeStore, ledger: Ledger, day: str) -> Reconciliation:
    states = ledger.ingestion_states([day])
    silvered = (
        set(states.loc[states["state"] == SILVERED, "application_id"]) if len(states) else set()
    )
    awaiting = int((states["state"] == FETCHED).sum()) if len(states) else 0

    bronze = table_for("bronze/flinks_accounts_detail")
    # which response counts for each application is decided without its payload
    responses = store.read(bronze, [day], columns=LATEST_COLUMNS)
    latest = latest_ok_responses(responses.loc[responses["application_id"].isin(silvered)])
    wanted = pa.array(latest["response_id"], type=pa.string())
    del responses
    silver_keys = ["application_id", "transaction_id", "content_hash"]
    examples: list[str] = []
    with spilling_duckdb() as tables, parsing_database() as parser:
        silver_rows = load(
            tables, "silver", store, table_for("silver/transactions"), day, silver_keys
        )
        rejected_rows = load(
            tables, "rejects", store, table_for("silver/rejected_transactions"), day, COORDS
        )
        tables.execute(LEDGER_KEYS_TABLE)
        for keys in ledger.transaction_key_batches(day):
            tables.register("ledger_batch", keys)
            tables.execute(INSERT_LEDGER_KEYS)
            tables.unregister("ledger_batch")
        (ledger_rows,) = tables.execute("select count(*) from ledger_keys").fetchone()
        tables.execute(COPIES_TABLE)
        for responses_read in store.iter_batches(
            bronze, day, ["response_id", *BRONZE_COLUMNS], RESPONSES_PER_READ
        ):
            kept = responses_read.filter(pc.is_in(responses_read["response_id"], wanted))
            if not kept.num_rows:
                continue
            frame = kept.to_pandas(types_mapper={pa.large_string(): LARGE_TEXT}.get)
            for batch in payload_batches(frame, BATCH_PAYLOAD_BYTES):
                register_bronze(parser, batch)
                parser.execute(PARSED_SQL)
                tables.register("slice_copies", parser.sql(SLICE_COPIES).to_arrow_table())
                tables.execute("insert into copies select * from slice_copies")
                tables.unregister("slice_copies")
                parser.unregister("bronze")
        copies = CopyCounts(*tables.execute(COPY_COUNTS).fetchone())
        if copies.missing:
            for app, account, position, tid in tables.execute(MISSING_EXAMPLES).fetchall():
                examples.append(
                    f"missing: application {app} account {account} position {position} id {tid!r}"
                )
        keys = KeyCounts(*tables.execute(KEY_COUNTS).fetchone())
        odd = tables.execute(KEY_EXAMPLES).fetchall() if any(keys) else []
    for app, tid, silver_only in odd:
        side = "silver only" if silver_only else "ledger only"
        examples.append(f"{side}: {app} / {tid}")
    return Reconciliation(
        partition=day,
        applications_in_silver=len(silvered),
        applications_awaiting_silver=awaiting,
        copies=copies,
        silver_rows=silver_rows,
        rejected_rows=rejected_rows,
        ledger_rows=ledger_rows,
        keys=keys,
        examples=examples,
    )
