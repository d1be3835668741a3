"""The decision store: the ledger-aware IO manager of the decisioning assets (the lake).

Decisions are money: a stored decision must never be lost, and the ledger must never say
SCORED for a decision the lake does not hold. Decisions and the day's decision status live in
the lake like every other table (``scoring/credit_decisions`` and ``scoring/decision_status``,
one Parquet file per application date), so a run on any machine reads and writes its own days.

Each day's file is rewritten atomically under that partition's lock (the same leases as the
lake IO manager's): ``credit_decisions`` keeps every decision it holds and adds or replaces by
application id (a decision is never deleted); ``decision_status``, a snapshot of the ledger, is
replaced whole; a day whose file already holds exactly the rows it would get is left as it is.
Only after every day's file is in place does the store close the claim the
:class:`DecisionBatch` carries: its applications are marked SCORED in the ledger
(compare-and-set on the claim token). A crash before that leaves them SENT; the next run
re-sends them with the same idempotency key and stores the same decision.
"""

from __future__ import annotations

from dataclasses import dataclass

import dagster as dg
import pandas as pd

from credit_scoring.core.crashpoints import crash_point
from credit_scoring.lake.catalogue import register_views
from credit_scoring.lake.locks import partition_lock
from credit_scoring.lake.storage import LakeResource, LakeStore, to_arrow
from credit_scoring.lake.tables import LakeTable, table_for
from credit_scoring.ledger.resource import LedgerResource

#: How each scoring table takes a day's new rows.
UPSERT, REPLACE = "upsert", "replace"
WRITE_MODES = {"scoring/credit_decisions": UPSERT, "scoring/decision_status": REPLACE}


@dataclass(frozen=True)
class DecisionBatch:
    """New decision rows and the ledger claim they answer: once the rows are stored, the
    store marks their applications SCORED under ``claim_token``."""

    rows: pd.DataFrame
    claim_token: str


def day_of(frame: pd.DataFrame) -> pd.Series:
    """Each row's application date as ``YYYY-MM-DD`` (the partition key)."""
    return pd.to_datetime(frame["application_date"]).dt.strftime("%Y-%m-%d")


def merged_day(
    store: LakeStore, table: LakeTable, day: str, part: pd.DataFrame, mode: str
) -> pd.DataFrame:
    """The day's rows once ``part`` is stored: upserted by primary key, or replacing them."""
    if mode == REPLACE:
        return part
    existing = store.read(table, [day])
    if existing.empty:
        return part
    if part.empty:
        return existing
    kept = existing.loc[~existing["application_id"].isin(part["application_id"])]
    return pd.concat([kept, part], ignore_index=True)


def holds_exactly(store: LakeStore, table: LakeTable, day: str, rows: pd.DataFrame) -> bool:
    """Whether the day's file already holds exactly ``rows`` (a re-run with no new decision and
    an unchanged ledger): it is then left as it is, so whatever was computed from it (dbt's
    monitoring) stays current."""
    if not store.exists(table, day):
        return False
    return store.read_arrow(table, [day]).equals(to_arrow(rows, table))


def decision_summary(stored: pd.DataFrame) -> dict:
    """Outcome counts and rates, and which engines decided, over the run's days."""
    total = len(stored)
    counts = stored["outcome"].value_counts()
    engines = stored["decision_engine"].fillna("unrecorded").value_counts()
    return {
        "decisions_by_engine": {str(k): int(v) for k, v in engines.items()},
        "dagster/row_count": total,
        "approval_rate": int(counts.get("APPROVE", 0)) / total if total else 0.0,
        "outcome_approve": int(counts.get("APPROVE", 0)),
        "outcome_review": int(counts.get("REVIEW", 0)),
        "outcome_decline": int(counts.get("DECLINE", 0)),
    }


class DecisionStoreIOManager(dg.ConfigurableIOManager):
    """Day files in the lake for scoring/* assets; a :class:`DecisionBatch`'s claim is closed
    in the ledger once its days are stored, a bare frame is simply stored."""

    lake: LakeResource
    ledger: LedgerResource

    def handle_output(self, context: dg.OutputContext, obj: pd.DataFrame | DecisionBatch) -> None:
        path = "/".join(context.asset_key.path)
        table, mode = table_for(path), WRITE_MODES[path]
        days = list(context.asset_partition_keys)
        frame = obj.rows if isinstance(obj, DecisionBatch) else obj
        frame_days = day_of(frame)
        # the same type as the files hold (dates, not timestamps), so merged days concatenate
        frame = frame.assign(application_date=pd.to_datetime(frame["application_date"]).dt.date)
        outside = sorted(set(frame_days) - set(days))
        if outside:
            raise ValueError(
                f"{path}: rows for application date(s) {outside} outside this run's days "
                f"{days[0]}..{days[-1]}"
            )
        store = self.lake.store()
        ledger = self.ledger.get()
        stored, unchanged = [], 0
        for day in days:
            with partition_lock(ledger.engine, f"{path}/{day}"):
                store.sweep_temporaries(table, day)
                rows = merged_day(store, table, day, frame.loc[frame_days == day], mode)
                if holds_exactly(store, table, day, rows):
                    unchanged += 1
                else:
                    store.write(table, day, rows)
            stored.append(rows)
        crash_point("decisions.stored_before_ledger")
        marked = 0
        if isinstance(obj, DecisionBatch) and len(frame):
            marked = ledger.mark_scored(
                frame.loc[:, ["application_id", "decision_id"]], token=obj.claim_token
            )
        register_views(self.lake, [table], context.log)
        everything = pd.concat(stored, ignore_index=True)
        summary = (
            decision_summary(everything)
            if mode == UPSERT
            else {"dagster/row_count": len(everything)}
        )
        context.add_output_metadata(
            {
                **summary,
                "rows_written": len(frame),
                "days_unchanged": unchanged,
                "marked_scored": marked,
                "lake_path": dg.MetadataValue.path(str(store.root / table.path)),
            }
        )

    def load_input(self, context: dg.InputContext) -> pd.DataFrame:
        table = table_for("/".join(context.asset_key.path))
        return self.lake.store().read(table, list(context.asset_partition_keys))
