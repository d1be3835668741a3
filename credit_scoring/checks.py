"""Asset checks: the properties an operator relies on, verified after every materialisation."""

from datetime import UTC, datetime

import dagster as dg

from credit_scoring.assets.bronze import BRONZE_KEY
from credit_scoring.assets.silver import SILVER_TRANSACTIONS_KEY
from credit_scoring.ledger import ERROR
from credit_scoring.reconcile import reconcile
from credit_scoring.resources.lake import LakeResource
from credit_scoring.resources.ledger import LedgerResource


def checked_days(context: dg.AssetCheckExecutionContext) -> list[str]:
    """The partitions of the run the check executes in (today's when run on its own).

    Checks run in the same run as the assets they check, so they check exactly the days that
    run materialised, a single day or a whole backfill range.
    """
    if context.has_partition_key or context.has_partition_key_range:
        return list(context.partition_keys)
    return [datetime.now(UTC).date().isoformat()]


#: Above this share of failed fetches the day's data is too thin to trust without a look.
FLINKS_ERROR_RATE_THRESHOLD = 0.10


@dg.asset_check(
    asset=BRONZE_KEY,
    description=(
        "Share of applications whose Flinks fetch ended in ERROR (terminal code or exhausted "
        f"retries) stays at or below {FLINKS_ERROR_RATE_THRESHOLD:.0%}."
    ),
)
def flinks_error_rate(
    context: dg.AssetCheckExecutionContext, ledger: LedgerResource
) -> dg.AssetCheckResult:
    states = ledger.get().ingestion_states(checked_days(context))
    total = len(states)
    errors = states.loc[states["state"] == ERROR]
    rate = len(errors) / total if total else 0.0
    return dg.AssetCheckResult(
        passed=rate <= FLINKS_ERROR_RATE_THRESHOLD,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "applications": total,
            "errors": len(errors),
            "error_rate": rate,
            "threshold": FLINKS_ERROR_RATE_THRESHOLD,
            "errors_by_code": {
                str(k): int(v) for k, v in errors["error_code"].value_counts().items()
            },
        },
    )


@dg.asset_check(
    asset=SILVER_TRANSACTIONS_KEY,
    description=(
        "Every transaction of the latest bronze response of each application is in exactly "
        "one of silver or the quarantine, and silver and the ledger hold the same keys."
    ),
)
def bronze_silver_reconciliation(
    context: dg.AssetCheckExecutionContext, lake: LakeResource, ledger: LedgerResource
) -> dg.AssetCheckResult:
    store, book = lake.store(), ledger.get()
    reports = [reconcile(store, book, day) for day in checked_days(context)]
    totals = {
        field: sum(getattr(r, field) for r in reports)
        for field in (
            "bronze_transactions",
            "in_silver",
            "in_rejects",
            "missing",
            "in_both",
            "silver_without_ledger_row",
            "ledger_without_silver_row",
        )
    }
    failing = [r.partition for r in reports if not r.ok]
    examples = [line for r in reports for line in r.examples][:10]
    return dg.AssetCheckResult(
        passed=not failing,
        metadata={
            **totals,
            "partitions_checked": len(reports),
            "partitions_failing": ", ".join(failing) or "none",
            "examples": dg.MetadataValue.md("\n".join(f"- {e}" for e in examples) or "none"),
        },
    )
