"""The fetch check: how many of the run's applications Flinks failed to give us."""

import dagster as dg

from credit_scoring.core.metadata import error_counts
from credit_scoring.core.partitions import checked_days
from credit_scoring.ingestion.bronze_asset import BRONZE_KEY
from credit_scoring.ledger import ERROR
from credit_scoring.ledger.resource import LedgerResource

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
            **error_counts(errors["error_code"]),
        },
    )
