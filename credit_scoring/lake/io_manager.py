"""The ledger-aware lake IO manager for applications, bronze and silver.

On output it splits the frame by partition (a single-run backfill hands over many days at
once), and for each day, under that partition's lock: keeps what the file already holds, adds
only rows whose key is new, rewrites the file atomically, and then does the ledger's part that
the value it was handed asks for (:mod:`credit_scoring.lake.handoffs`):

- :class:`FetchedResponses` (bronze): closes the fetch leases (FETCHED, or ERROR with the
  fetch's code and whether it is retryable);
- :class:`SilverTransactions`: registers every transaction (insert-or-ignore) under its
  application's row, and marks the applications SILVERED;
- a bare ``DataFrame``: nothing more.

Updating the ledger after the file is written, with idempotent statements, is what makes a kill
at any instant safe: whatever the ledger has not recorded is simply done again next run.

On input it reads the requested partitions of any lake table, those dbt writes included (the
decisions read ``applicant_features`` this way); an input annotated
:class:`ResponsesAwaitingSilver` receives only the latest successful response of applications
that still need silver.
"""

from __future__ import annotations

from itertools import chain

import dagster as dg
import pandas as pd
import pyarrow as pa

from credit_scoring.core.conventions import CREDIT_DATA_TEAM
from credit_scoring.core.crashpoints import crash_point
from credit_scoring.core.memory import release_free_heap, spilling_duckdb
from credit_scoring.lake.catalogue import register_views
from credit_scoring.lake.handoffs import (
    LATEST_COLUMNS,
    FetchedResponses,
    ResponsesAwaitingSilver,
    SilverTransactions,
    latest_ok_responses,
)
from credit_scoring.lake.locks import partition_lock
from credit_scoring.lake.spool import Spooled
from credit_scoring.lake.storage import ROWS_PER_BATCH, LakeResource, LakeStore
from credit_scoring.lake.tables import LakeTable, table_for
from credit_scoring.ledger import Ledger
from credit_scoring.ledger.fetch_leases import OUTCOME_COLUMNS
from credit_scoring.ledger.resource import LedgerResource

LakeOutput = pd.DataFrame | Spooled | FetchedResponses | SilverTransactions
#: How every asset stored in the lake is declared: this IO manager, Parquet, the data team.
LAKE_OUTPUT = {
    "io_manager_key": "lake_io_manager",
    "kinds": {"python", "parquet"},
    "owners": [CREDIT_DATA_TEAM],
}


def rows_of(value: LakeOutput) -> pd.DataFrame | Spooled:
    """The rows a lake output stores."""
    return value if isinstance(value, pd.DataFrame | Spooled) else value.rows


def days_of(rows: pd.DataFrame | Spooled) -> set[str]:
    """The partition days ``rows`` hold."""
    if isinstance(rows, Spooled):
        return rows.days()
    return set(rows["partition_date"].astype(str))


def record_in_ledger(
    value: LakeOutput, ledger: Ledger, day: str, part: pd.DataFrame | None
) -> None:
    """The ledger's part of one day's write, as the value asks (see the module docstring);
    ``part`` is the day's rows, or None when they are spooled."""
    if isinstance(value, FetchedResponses):
        if day in value.rows.files:  # a day none of whose applications was fetched has none
            outcomes = pd.concat(value.rows.frames(day, OUTCOME_COLUMNS), ignore_index=True)
            ledger.record_fetch_outcomes(outcomes, owner=value.lease_owner)
    elif isinstance(value, SilverTransactions):
        apps = value.applications
        keys = ["application_id", "transaction_id"]
        ledger.register_transactions(
            value.rows.frames(day, keys) if part is None else part.loc[:, keys],
            apps.loc[apps["partition_date"].astype(str) == day],
        )


class LakeIOManager(dg.ConfigurableIOManager):
    """Parquet per partition under the lake root, merged by primary key, ledger kept in step."""

    lake: LakeResource
    ledger: LedgerResource

    def _days(self, context: dg.InputContext | dg.OutputContext) -> list[str]:
        if not context.has_asset_partitions:
            raise dg.DagsterInvariantViolationError(
                f"{context.asset_key.to_user_string()} must be partitioned to live in the lake"
            )
        return list(context.asset_partition_keys)

    def handle_output(self, context: dg.OutputContext, obj: LakeOutput) -> None:
        table = table_for("/".join(context.asset_key.path))
        days = self._days(context)
        store = self.lake.store()
        ledger = self.ledger.get()
        rows = rows_of(obj)
        unexpected = days_of(rows) - set(days)
        if unexpected:
            raise ValueError(
                f"{table.path}: rows for partition(s) {sorted(unexpected)} outside this run's "
                f"range {days[0]}..{days[-1]}"
            )
        totals = {
            "rows_new": 0,
            "rows_already_present": 0,
            "files_written": 0,
            "bytes": 0,
            "stale_temp_files_removed": 0,
        }
        for day in days:
            part = None
            if isinstance(rows, pd.DataFrame):
                # one day (a daily run) is the whole frame: no copy of a day's rows is made
                part = (
                    rows if len(days) == 1 else rows.loc[rows["partition_date"].astype(str) == day]
                )
            with partition_lock(ledger.engine, f"{table.path}/{day}"):
                totals["stale_temp_files_removed"] += store.sweep_temporaries(table, day)
                new, present, written = (
                    merge_spooled(store, table, day, rows)
                    if part is None
                    else merge_partition(store, table, day, part)
                )
                crash_point("lake.renamed_before_ledger", table.path)
                record_in_ledger(obj, ledger, day, part)
            totals["rows_new"] += new
            totals["rows_already_present"] += present
            totals["files_written"] += 1 if written else 0
            totals["bytes"] += written
        register_views(self.lake, [table], context.log)
        release_free_heap()  # the step's next output, or the next step, starts lighter
        context.add_output_metadata(
            {
                **totals,
                "partitions": len(days),
                "lake_path": dg.MetadataValue.path(str(store.root / table.path)),
                "dagster/column_schema": table_schema(table.schema),
            }
        )

    def load_input(self, context: dg.InputContext) -> pd.DataFrame | ResponsesAwaitingSilver:
        table = table_for("/".join(context.asset_key.path))
        days = self._days(context)
        if context.dagster_type.typing_type is not ResponsesAwaitingSilver:
            frame = self.lake.store().read(table, days)
            context.log.info(f"read {len(frame)} row(s) of {table.path} for {len(days)} day(s)")
            return frame
        # only the responses of applications still awaiting silver are read: none on a re-run
        # of a finished day, whose bronze payloads are never loaded
        to_do = set(self.ledger.get().applications_to_silver(days))
        store, log = self.lake.store(), context.log

        def read() -> pd.DataFrame:
            # which response counts is decided without the payloads, which are then read for
            # those responses only
            heads = store.read(table, days, columns=LATEST_COLUMNS, applications=to_do)
            latest = latest_ok_responses(heads)["response_id"]
            frame = store.read_selected(table, days, "response_id", set(latest))
            log.info(
                f"read the latest successful response of {len(frame)} application(s) from "
                f"{len(heads)} row(s) of {table.path} for {len(days)} day(s)"
            )
            return frame

        context.log.info(f"{len(to_do)} application(s) await silver")
        return ResponsesAwaitingSilver(reader=read)


def merge_partition(
    store: LakeStore, table: LakeTable, day: str, part: pd.DataFrame
) -> tuple[int, int, int]:
    """Keep existing rows, add new keys; returns (new rows, already present, bytes written)."""
    key = list(table.primary_key)
    repeated = part.duplicated(key, keep="first")
    incoming = part.loc[~repeated] if repeated.any() else part
    if not store.exists(table, day):
        return len(incoming), 0, store.write(table, day, incoming)
    if incoming.empty:
        # Nothing to add (e.g. another run fetched this day's applications). An empty frame's
        # columns may have lost their types, and pandas refuses to merge an empty float
        # column with the file's empty string column, so there must be no merge at all.
        return 0, 0, 0
    existing_keys = store.read(table, [day], columns=key)
    marked = incoming.merge(existing_keys.assign(_present=True), on=key, how="left")
    is_new = marked["_present"].isna().to_numpy()
    new_rows = incoming.loc[is_new]
    present = int(len(incoming) - len(new_rows))
    if new_rows.empty:
        return 0, present, 0
    existing = store.read(table, [day])
    merged = pd.concat([existing, new_rows], ignore_index=True)
    return len(new_rows), present, store.write(table, day, merged)


def merge_spooled(
    store: LakeStore, table: LakeTable, day: str, spooled: Spooled
) -> tuple[int, int, int]:
    """:func:`merge_partition` for spooled rows, streamed a batch at a time: rows whose key the
    partition already holds are kept as stored, the others added. Spooled rows are unique by
    key (silver's slices hold whole applications, each one deduplicated)."""
    incoming = spooled.rows(day)
    if not store.exists(table, day):
        if day in spooled.files:
            return incoming, 0, store.adopt(table, day, spooled.files[day], table.schema)
        return 0, 0, store.write_batches(table, day, table.schema, [])
    if not incoming:
        return 0, 0, 0
    key = list(table.primary_key)
    # a batch of rows at a time, or of one row group where a row is large (bronze's bodies)
    batch_rows = min(ROWS_PER_BATCH, table.rows_per_group or ROWS_PER_BATCH)
    with spilling_duckdb() as database:
        database.from_arrow(store.batch_reader(table, day, key)).create("stored_keys")
        database.read_parquet(str(spooled.files[day])).create_view("spooled")
        # composed of the table's declared key columns (noqa: S608): no input is interpolated
        new_rows = f"select spooled.* from spooled anti join stored_keys using ({', '.join(key)})"  # noqa: S608
        ((new,),) = database.sql(f"select count(*) from ({new_rows})").fetchall()  # noqa: S608
        if not new:
            return 0, incoming, 0
        additions = database.sql(new_rows).to_arrow_reader(batch_rows)
        parts = (
            batch if batch.schema.equals(table.schema) else batch.cast(table.schema)
            for batch in chain(
                store.iter_batches(table, day, table.schema.names, batch_rows), additions
            )
        )
        written = store.write_batches(table, day, table.schema, parts)
    return new, incoming - new, written


def table_schema(schema: pa.Schema) -> dg.TableSchema:
    """An Arrow schema as the column schema Dagster shows on an asset's page."""
    return dg.TableSchema(columns=[dg.TableColumn(name=f.name, type=str(f.type)) for f in schema])
