"""Silver: typed, validated, standardised accounts and transactions, and the quarantine."""

import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import pandas as pd

from credit_scoring.core.conventions import PARTITIONED
from credit_scoring.core.crashpoints import crash_point
from credit_scoring.ingestion.bronze_asset import BRONZE_KEY
from credit_scoring.lake.handoffs import ResponsesAwaitingSilver, SilverTransactions
from credit_scoring.lake.io_manager import LAKE_OUTPUT
from credit_scoring.lake.spool import Spool
from credit_scoring.lake.storage import LakeResource
from credit_scoring.lake.tables import table_for
from credit_scoring.silver.standardise import SilverBatch, standardised_slices

SILVER_ACCOUNTS_KEY = dg.AssetKey(["silver", "accounts"])
SILVER_TRANSACTIONS_KEY = dg.AssetKey(["silver", "transactions"])
SILVER_REJECTED_KEY = dg.AssetKey(["silver", "rejected_transactions"])
SILVER_ACCOUNTS = table_for("silver/accounts")
SILVER_TRANSACTIONS = table_for("silver/transactions")
SILVER_REJECTED = table_for("silver/rejected_transactions")


def _out(key: dg.AssetKey, description: str) -> dg.AssetOut:
    return dg.AssetOut(key=key, **LAKE_OUTPUT, group_name="silver", description=description)


@dg.multi_asset(
    outs={
        "rejected_transactions": _out(
            SILVER_REJECTED_KEY,
            "Quarantine: every bronze transaction that failed validation, with the rule it "
            "broke and a message quoting the bad value. Together with silver/transactions it "
            "accounts for every bronze transaction.",
        ),
        "accounts": _out(
            SILVER_ACCOUNTS_KEY,
            "Accounts per application: category, type, currency, balances; holder PII dropped "
            "(keyed hash only), account number masked to the last four digits.",
        ),
        "transactions": _out(
            SILVER_TRANSACTIONS_KEY,
            "Validated transactions: signed amount (credit positive), posted_date, trimmed "
            "description, account category/type, stable transaction_id; registered in the "
            "scoring_status ledger under its application.",
        ),
    },
    ins={"bronze": dg.AssetIn(BRONZE_KEY)},
    **PARTITIONED,
)
def silver(
    context: dg.AssetExecutionContext, bronze: ResponsesAwaitingSilver, lake: LakeResource
) -> Iterator[dg.Output]:
    """Standardise the responses awaiting silver; the transactions output registers them.

    Each slice of applications is spooled to local files as soon as it is standardised, and the
    outputs hand the IO manager those files: the day's silver rows are never in memory at once.
    """
    days = context.partition_keys
    responses = bronze.read()
    stored = lake.store().read(
        table_for("silver/transactions"),
        days,
        columns=["application_id", "transaction_id", "content_hash"],
        applications=set(responses["application_id"]),
    )
    processed = responses.loc[:, ["application_id", "partition_date"]]
    with tempfile.TemporaryDirectory(prefix="credit-scoring-silver-") as folder:
        spool, tally = Spool(Path(folder)), Tally()
        for batch in standardised_slices(responses, stored):
            spool.append(SILVER_REJECTED, batch.rejected)
            spool.append(SILVER_ACCOUNTS, batch.accounts)
            spool.append(SILVER_TRANSACTIONS, batch.transactions)
            tally.add(batch)
            del batch
        # the payloads go now: the rows below are written and registered without them
        del responses, stored
        context.log.info(
            f"{len(processed)} response(s), {tally.bronze_transactions} bronze transaction(s): "
            f"{tally.new_transactions} new, {tally.already_in_silver} already in silver, "
            f"{tally.duplicates_collapsed} duplicate copies collapsed, {tally.rejected} "
            f"rejected {dict(tally.rule_counts) or ''}"
        )
        crash_point("silver.before_write")
        # Order matters: the transactions output, handled last, marks applications SILVERED.
        yield dg.Output(
            spool.close(SILVER_REJECTED),
            "rejected_transactions",
            metadata={
                "dagster/row_count": tally.rejected,
                "rejected": tally.rejected,
                "rejected_by_rule": dict(tally.rule_counts),
                "preview": dg.MetadataValue.md(
                    _preview(tally.preview("rejected"), REJECTED_PREVIEW)
                ),
            },
        )
        yield dg.Output(
            spool.close(SILVER_ACCOUNTS),
            "accounts",
            metadata={"dagster/row_count": tally.accounts},
        )
        yield dg.Output(
            SilverTransactions(spool.close(SILVER_TRANSACTIONS), applications=processed),
            "transactions",
            metadata={
                "dagster/row_count": tally.transactions,
                "applications_processed": len(processed),
                "bronze_transactions": tally.bronze_transactions,
                "new": tally.new_transactions,
                "skipped_already_present": tally.already_in_silver,
                "duplicates_collapsed": tally.duplicates_collapsed,
                "rejected": tally.rejected,
                "preview": dg.MetadataValue.md(
                    _preview(tally.preview("transactions"), TRANSACTIONS_PREVIEW)
                ),
            },
        )


REJECTED_PREVIEW = ["application_id", "transaction_id", "rule", "message"]
TRANSACTIONS_PREVIEW = ["application_id", "posted_date", "description", "amount", "balance"]
PREVIEW_ROWS = 10


@dataclass
class Tally:
    """The counts of silver's slices, and the first rows of each kind, for the outputs' metadata."""

    transactions: int = 0
    accounts: int = 0
    rejected: int = 0
    bronze_transactions: int = 0
    duplicates_collapsed: int = 0
    already_in_silver: int = 0
    rule_counts: Counter[str] = field(default_factory=Counter)
    heads: dict[str, list[pd.DataFrame]] = field(default_factory=dict)

    @property
    def new_transactions(self) -> int:
        return self.transactions - self.already_in_silver

    def add(self, batch: SilverBatch) -> None:
        self.transactions += len(batch.transactions)
        self.accounts += len(batch.accounts)
        self.rejected += len(batch.rejected)
        self.bronze_transactions += batch.bronze_transactions
        self.duplicates_collapsed += batch.duplicates_collapsed
        self.already_in_silver += batch.already_in_silver
        self.rule_counts.update(batch.rule_counts)
        for kind, columns in (
            ("transactions", TRANSACTIONS_PREVIEW),
            ("rejected", REJECTED_PREVIEW),
        ):
            shown = sum(len(head) for head in self.heads.get(kind, []))
            frame = getattr(batch, kind)
            if shown < PREVIEW_ROWS and len(frame):
                head = frame.loc[:, columns].head(PREVIEW_ROWS - shown).copy()
                self.heads.setdefault(kind, []).append(head)

    def preview(self, kind: str) -> pd.DataFrame:
        heads = self.heads.get(kind, [])
        return pd.concat(heads, ignore_index=True) if heads else pd.DataFrame()


def _preview(frame: pd.DataFrame, columns: list[str], rows: int = PREVIEW_ROWS) -> str:
    if frame.empty:
        return "no rows"
    return frame.loc[:, columns].head(rows).to_markdown(index=False)
