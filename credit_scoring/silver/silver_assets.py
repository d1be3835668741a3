"""Silver: typed, validated, standardised accounts and transactions, and the quarantine."""

from collections.abc import Iterator

import dagster as dg
import pandas as pd

from credit_scoring.core.conventions import PARTITIONED
from credit_scoring.core.crashpoints import crash_point
from credit_scoring.ingestion.bronze_asset import BRONZE_KEY
from credit_scoring.lake.handoffs import ResponsesAwaitingSilver, SilverTransactions
from credit_scoring.lake.io_manager import LAKE_OUTPUT
from credit_scoring.lake.storage import LakeResource
from credit_scoring.lake.tables import table_for
from credit_scoring.silver.standardise import standardise

SILVER_ACCOUNTS_KEY = dg.AssetKey(["silver", "accounts"])
SILVER_TRANSACTIONS_KEY = dg.AssetKey(["silver", "transactions"])
SILVER_REJECTED_KEY = dg.AssetKey(["silver", "rejected_transactions"])


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
    """Standardise the responses awaiting silver; the transactions output registers them."""
    days = context.partition_keys
    responses = bronze.read()
    stored = lake.store().read(
        table_for("silver/transactions"),
        days,
        columns=["application_id", "transaction_id", "content_hash"],
        applications=set(responses["application_id"]),
    )
    batch = standardise(responses, stored)
    processed = responses.loc[:, ["application_id", "partition_date"]]
    # the payloads go now: the rows below are written and registered without them
    del responses, stored
    context.log.info(
        f"{len(processed)} response(s), {batch.bronze_transactions} bronze transaction(s): "
        f"{batch.new_transactions} new, {batch.already_in_silver} already in silver, "
        f"{batch.duplicates_collapsed} duplicate copies collapsed, {len(batch.rejected)} "
        f"rejected {batch.rule_counts or ''}"
    )
    crash_point("silver.before_write")
    # Order matters: the transactions output, handled last, marks applications SILVERED.
    yield dg.Output(
        batch.rejected,
        "rejected_transactions",
        metadata={
            "dagster/row_count": len(batch.rejected),
            "rejected": len(batch.rejected),
            "rejected_by_rule": batch.rule_counts,
            "preview": dg.MetadataValue.md(
                _preview(batch.rejected, ["application_id", "transaction_id", "rule", "message"])
            ),
        },
    )
    yield dg.Output(
        batch.accounts,
        "accounts",
        metadata={"dagster/row_count": len(batch.accounts)},
    )
    yield dg.Output(
        SilverTransactions(batch.transactions, applications=processed),
        "transactions",
        metadata={
            "dagster/row_count": len(batch.transactions),
            "applications_processed": len(processed),
            "bronze_transactions": batch.bronze_transactions,
            "new": batch.new_transactions,
            "skipped_already_present": batch.already_in_silver,
            "duplicates_collapsed": batch.duplicates_collapsed,
            "rejected": len(batch.rejected),
            "preview": dg.MetadataValue.md(
                _preview(
                    batch.transactions,
                    ["application_id", "posted_date", "description", "amount", "balance"],
                )
            ),
        },
    )


def _preview(frame: pd.DataFrame, columns: list[str], rows: int = 10) -> str:
    if frame.empty:
        return "no rows"
    return frame.loc[:, columns].head(rows).to_markdown(index=False)
