"""The ledger-aware lake IO manager for applications, bronze and silver.

On output it splits the frame by partition (a single-run backfill hands over many days at
once), and for each day, under that partition's lock: keeps what the file already holds, adds
only rows whose key is new, rewrites the file atomically, and then updates the ledger:

- bronze: closes this run's fetch leases (FETCHED, or ERROR with the Flinks code);
- silver transactions: registers every transaction as PENDING (insert-or-ignore) together with
  the application rows, and marks the applications SILVERED.

Updating the ledger after the file is written, with idempotent statements, is what makes a kill
at any instant safe: whatever the ledger has not recorded is simply done again next run.

On input it reads the requested partitions; an input marked ``lake/only_to_silver`` receives
only the latest successful response of applications that the ledger says still need silver.
"""

import dagster as dg
import pandas as pd

from credit_scoring.crashpoints import crash_point
from credit_scoring.lake.schemas import LakeTable, table_for
from credit_scoring.lake.storage import LakeStore
from credit_scoring.ledger import Ledger
from credit_scoring.resources.lake import LakeResource
from credit_scoring.resources.ledger import LedgerResource

#: ``DataFrame.attrs`` key holding the (application_id, partition_date) frame of every
#: application silver processed, so applications without transactions are registered too.
PROCESSED_APPLICATIONS = "credit_scoring.processed_applications"
ONLY_TO_SILVER = "lake/only_to_silver"


def with_processed_applications(frame: pd.DataFrame, applications: pd.DataFrame) -> pd.DataFrame:
    """Attach the processed applications to a silver transactions frame for the IO manager."""
    frame.attrs[PROCESSED_APPLICATIONS] = applications.loc[
        :, ["application_id", "partition_date"]
    ].drop_duplicates("application_id")
    return frame


class LakeIOManager(dg.ConfigurableIOManager):
    """Parquet per partition under the lake root, merged by primary key, ledger kept in step."""

    lake: LakeResource
    ledger: LedgerResource

    def _store(self) -> LakeStore:
        return self.lake.store()

    def _days(self, context: dg.InputContext | dg.OutputContext) -> list[str]:
        if not context.has_asset_partitions:
            raise dg.DagsterInvariantViolationError(
                f"{context.asset_key.to_user_string()} must be partitioned to live in the lake"
            )
        return list(context.asset_partition_keys)

    def handle_output(self, context: dg.OutputContext, obj: pd.DataFrame) -> None:
        table = table_for("/".join(context.asset_key.path))
        days = self._days(context)
        store = self._store()
        ledger = self.ledger.get()
        unexpected = set(obj["partition_date"].astype(str)) - set(days)
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
            part = obj.loc[obj["partition_date"].astype(str) == day]
            with ledger.lock(f"{table.path}/{day}"):
                totals["stale_temp_files_removed"] += store.sweep_temporaries(table, day)
                new, present, written = self._merge_partition(store, table, day, part)
                crash_point("lake.renamed_before_ledger", table.path)
                self._update_ledger(table, ledger, day, part, obj)
            totals["rows_new"] += new
            totals["rows_already_present"] += present
            totals["files_written"] += 1 if written else 0
            totals["bytes"] += written
        context.add_output_metadata(
            {
                **totals,
                "partitions": len(days),
                "lake_path": dg.MetadataValue.path(str(store.root / table.path)),
                "dagster/column_schema": _table_schema(table),
            }
        )

    def _merge_partition(
        self, store: LakeStore, table: LakeTable, day: str, part: pd.DataFrame
    ) -> tuple[int, int, int]:
        """Keep existing rows, add new keys; returns (new rows, already present, bytes)."""
        key = list(table.primary_key)
        incoming = part.drop_duplicates(key, keep="first")
        exists = store.exists(table, day)
        if not exists:
            return len(incoming), 0, store.write(table, day, incoming)
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

    def _update_ledger(
        self, table: LakeTable, ledger: Ledger, day: str, part: pd.DataFrame, whole: pd.DataFrame
    ) -> None:
        if table.path == "bronze/flinks_accounts_detail":
            for owner, rows in part.groupby("claim_token", dropna=False):
                if owner:
                    ledger.record_fetch_outcomes(rows, owner=str(owner))
        elif table.path == "silver/transactions":
            processed = whole.attrs.get(PROCESSED_APPLICATIONS)
            if processed is None:
                raise ValueError(
                    "silver/transactions output carries no processed applications; build it "
                    "with with_processed_applications()"
                )
            apps = processed.loc[processed["partition_date"].astype(str) == day]
            ledger.register_transactions(
                part.loc[:, ["application_id", "transaction_id", "partition_date"]], apps
            )

    def load_input(self, context: dg.InputContext) -> pd.DataFrame:
        table = table_for("/".join(context.asset_key.path))
        days = self._days(context)
        only_to_silver = (context.definition_metadata or {}).get(ONLY_TO_SILVER)
        frame = self._store().read(table, days, payloads_in_arrow=bool(only_to_silver))
        if only_to_silver:
            to_do = set(self.ledger.get().applications_to_silver(days))
            frame = latest_ok_responses(frame.loc[frame["application_id"].isin(to_do)])
        context.log.info(f"read {len(frame)} row(s) of {table.path} for {len(days)} partition(s)")
        return frame


def latest_ok_responses(bronze: pd.DataFrame) -> pd.DataFrame:
    """The most recent successful response per application (a refetch supersedes older ones)."""
    ok = bronze.loc[bronze["ok"].astype(bool)]
    return (
        ok.sort_values(["application_id", "fetched_at"])
        .drop_duplicates("application_id", keep="last")
        .reset_index(drop=True)
    )


def _table_schema(table: LakeTable) -> dg.TableSchema:
    return dg.TableSchema(
        columns=[dg.TableColumn(name=f.name, type=str(f.type)) for f in table.schema]
    )
