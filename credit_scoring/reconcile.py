"""Reconciliation of one partition: bronze vs silver + rejects, and silver vs the ledger.

What is compared: the latest successful response of every application that reached silver.
Each transaction copy in it must be in silver (same id and same content) or in the quarantine
(same response, account and feed position) — exactly one of the two. Every silver transaction
must have a ledger row and every ledger transaction row a silver row.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import pandas as pd

from credit_scoring.lake.io_manager import latest_ok_responses
from credit_scoring.lake.schemas import table_for
from credit_scoring.lake.storage import LakeStore
from credit_scoring.ledger import SILVERED, Ledger
from credit_scoring.silver.flatten import flatten

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


def reconcile(store: LakeStore, ledger: Ledger, day: str) -> Reconciliation:
    report = Reconciliation(partition=day)
    states = ledger.ingestion_states([day])
    silvered = (
        set(states.loc[states["state"] == SILVERED, "application_id"]) if len(states) else set()
    )
    report.applications_in_silver = len(silvered)
    report.applications_awaiting_silver = (
        int((states["state"] == "FETCHED").sum()) if len(states) else 0
    )

    bronze = store.read(table_for("bronze/flinks_accounts_detail"), [day])
    latest = latest_ok_responses(bronze.loc[bronze["application_id"].isin(silvered)])
    _, copies, _ = flatten(latest) if len(latest) else (None, pd.DataFrame(), None)
    silver = store.read(
        table_for("silver/transactions"),
        [day],
        columns=["application_id", "transaction_id", "content_hash"],
    )
    rejects = store.read(table_for("silver/rejected_transactions"), [day])
    report.silver_rows, report.rejected_rows = len(silver), len(rejects)
    report.bronze_transactions = len(copies)

    if len(copies):
        copies = copies.assign(feed_position=copies["feed_position"].astype("int32"))
        in_silver = (
            copies.loc[:, ["application_id", "transaction_id", "content_hash"]]
            .merge(
                silver.drop_duplicates().assign(_s=True),
                how="left",
                on=["application_id", "transaction_id", "content_hash"],
            )["_s"]
            .notna()
            .to_numpy()
        )
        in_rejects = (
            copies.loc[:, COORDS]
            .merge(rejects.loc[:, COORDS].drop_duplicates().assign(_r=True), how="left", on=COORDS)[
                "_r"
            ]
            .notna()
            .to_numpy()
        )
        report.in_silver = int(in_silver.sum())
        report.in_rejects = int(in_rejects.sum())
        missing = ~in_silver & ~in_rejects
        report.missing = int(missing.sum())
        report.in_both = int((in_silver & in_rejects).sum())
        for row in copies.loc[missing].head(5).itertuples(index=False):
            report.examples.append(
                f"missing: application {row.application_id} account {row.account_id} "
                f"position {row.feed_position} id {row.transaction_id!r}"
            )

    ledger_keys = ledger.transaction_keys([day]).loc[:, ["application_id", "transaction_id"]]
    report.ledger_rows = len(ledger_keys)
    silver_keys = silver.loc[:, ["application_id", "transaction_id"]].drop_duplicates()
    both = silver_keys.merge(ledger_keys, how="outer", indicator=True)
    report.silver_without_ledger_row = int((both["_merge"] == "left_only").sum())
    report.ledger_without_silver_row = int((both["_merge"] == "right_only").sum())
    odd = both.loc[both["_merge"] != "both"].head(5)
    for app, tid, where in zip(
        odd["application_id"], odd["transaction_id"], odd["_merge"], strict=True
    ):
        side = "silver only" if where == "left_only" else "ledger only"
        report.examples.append(f"{side}: {app} / {tid}")
    return report
