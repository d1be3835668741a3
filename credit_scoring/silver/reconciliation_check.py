"""The reconciliation check: bronze, silver, the quarantine and the ledger agree."""

import dagster as dg

from credit_scoring.core.partitions import checked_days
from credit_scoring.lake.storage import LakeResource
from credit_scoring.ledger.resource import LedgerResource
from credit_scoring.silver.reconciliation import CopyCounts, KeyCounts
from credit_scoring.silver.reconciliation_memo import reconcile_or_reuse
from credit_scoring.silver.silver_assets import SILVER_TRANSACTIONS_KEY


@dg.asset_check(
    asset=SILVER_TRANSACTIONS_KEY,
    description=(
        "Every transaction of the latest bronze response of each application is in exactly "
        "one of silver or the quarantine, and silver and the ledger hold the same keys. A day "
        "whose files and ledger entries are unchanged since it last passed is not recomputed. "
        "Blocking: a run does not build features or decisions on days that disagree."
    ),
    # a day whose bronze, silver and ledger disagree must not be scored: the run stops before
    # the features (and so the decisions) of its days
    blocking=True,
)
def bronze_silver_reconciliation(
    context: dg.AssetCheckExecutionContext, lake: LakeResource, ledger: LedgerResource
) -> dg.AssetCheckResult:
    store, book = lake.store(), ledger.get()
    days = checked_days(context)
    checked = [reconcile_or_reuse(store, book, day) for day in days]
    reports = [c.report for c in checked]
    reused = [f"{c.report.partition} (checked {c.reused_from})" for c in checked if c.reused_from]
    totals = {
        **{name: sum(getattr(r.copies, name) for r in reports) for name in CopyCounts._fields},
        **{name: sum(getattr(r.keys, name) for r in reports) for name in KeyCounts._fields},
    }
    failing = [r.partition for r in reports if not r.ok]
    examples = [line for r in reports for line in r.examples][:10]
    return dg.AssetCheckResult(
        passed=not failing,
        metadata={
            **totals,
            "partitions_checked": len(reports),
            "partitions_failing": ", ".join(failing) or "none",
            # days whose inputs are unchanged since they last passed: that result, not redone
            "partitions_reused": len(reused),
            "reused": dg.MetadataValue.md("\n".join(f"- {r}" for r in reused) or "none"),
            "examples": dg.MetadataValue.md("\n".join(f"- {e}" for e in examples) or "none"),
        },
    )
