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

import dagster as dg
import pandas as pd
import pyarrow as pa

from credit_scoring.core.conventions import CREDIT_DATA_TEAM
from credit_scoring.core.crashpoints import crash_point
from credit_scoring.core.memory import release_free_heap
from credit_scoring.lake.catalogue import register_views
from credit_scoring.lake.handoffs import (
    FetchedResponses,
    ResponsesAwaitingSilver,
    SilverTransactions,
    latest_ok_responses,
)
from credit_scoring.lake.locks import partition_lock
from credit_scoring.lake.storage import LakeResource, LakeStore
from credit_scoring.lake.tables import LakeTable, table_for
from credit_scoring.ledger import Ledger
from credit_scoring.ledger.resource import LedgerResource

LakeOutput = pd.DataFrame | FetchedResponses | SilverTransactions
#: How every asset stored in the lake is declared: this IO manager, Parquet, the data team.
LAKE_OUTPUT = {
    "io_manager_key": "lake_io_manager",
    "kinds": {"python", "parquet"},
    "owners": [CREDIT_DATA_TEAM],
}


def rows_of(value: LakeOutput) -> pd.DataFrame:
    """The rows a lake output stores."""
    return value if isinstance(value, pd.DataFrame) else value.rows


def record_in_ledger(value: LakeOutput, ledger: Ledger, day: str, part: pd.DataFrame) -> None:
    """The ledger's part of one day's write, as the value asks (see the module docstring)."""
    if isinstance(value, FetchedResponses):
        ledger.record_fetch_outcomes(part, owner=value.lease_owner)
    elif isinstance(value, SilverTransactions):
        apps = value.applications
        ledger.register_transactions(
            part.loc[:, ["application_id", "transaction_id", "partition_date"]],
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
        frame = rows_of(obj)
        unexpected = set(frame["partition_date"].astype(str)) - set(days)
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
            # one day (a daily run) is the whole frame: no copy of a day's rows is made
            part = (
                frame if len(days) == 1 else frame.loc[frame["partition_date"].astype(str) == day]
            )
            with partition_lock(ledger.engine, f"{table.path}/{day}"):
                totals["stale_temp_files_removed"] += store.sweep_temporaries(table, day)
                new, present, written = merge_partition(store, table, day, part)
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
            frame = store.read(table, days, payloads_in_arrow=True, applications=to_do)
            log.info(f"read {len(frame)} row(s) of {table.path} for {len(days)} day(s)")
            return latest_ok_responses(frame)

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


def table_schema(schema: pa.Schema) -> dg.TableSchema:
    """An Arrow schema as the column schema Dagster shows on an asset's page."""
    return dg.TableSchema(columns=[dg.TableColumn(name=f.name, type=str(f.type)) for f in schema])
