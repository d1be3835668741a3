"""Decision checks: error rate, well-formed decisions equal to the ledger's SCORED, no stuck
work."""

import dagster as dg

from credit_scoring.core.metadata import error_counts
from credit_scoring.core.partitions import checked_days
from credit_scoring.decisioning.decision_assets import CREDIT_DECISIONS_KEY
from credit_scoring.decisioning.payloads import OUTCOMES
from credit_scoring.lake.storage import LakeResource
from credit_scoring.lake.tables import table_for
from credit_scoring.ledger import ERROR, SCORED, STALE_SENT_AFTER
from credit_scoring.ledger.resource import LedgerResource

#: Above this share of decide failures (engine errors, unsendable features) someone must look.
TAKTILE_ERROR_RATE_THRESHOLD = 0.05
#: An application SENT longer ago than this without a stored decision is stuck work: its run
#: died where no later run has picked it up (the next run for its day re-sends it). The same
#: age after which a claim from another host is taken over.
STUCK_SENT_AFTER = STALE_SENT_AFTER


@dg.asset_check(
    asset=CREDIT_DECISIONS_KEY,
    description=(
        "Share of the run's claimed applications whose decision failed (engine error after "
        f"retries, or features that cannot be sent) stays at or below "
        f"{TAKTILE_ERROR_RATE_THRESHOLD:.0%}."
    ),
)
def taktile_error_rate(
    context: dg.AssetCheckExecutionContext, ledger: LedgerResource
) -> dg.AssetCheckResult:
    statuses = ledger.get().application_statuses(checked_days(context), transaction_counts=False)
    decided = statuses.loc[
        (statuses["status"] == SCORED)
        | ((statuses["status"] == ERROR) & (statuses["error_stage"] == "decide"))
    ]
    errors = decided.loc[decided["status"] == ERROR]
    rate = len(errors) / len(decided) if len(decided) else 0.0
    return dg.AssetCheckResult(
        passed=rate <= TAKTILE_ERROR_RATE_THRESHOLD,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "decided_or_failed": len(decided),
            "errors": len(errors),
            "error_rate": rate,
            "threshold": TAKTILE_ERROR_RATE_THRESHOLD,
            **error_counts(errors["error_code"]),
        },
    )


@dg.asset_check(
    asset=CREDIT_DECISIONS_KEY,
    description=(
        "Every stored decision is well-formed (outcome in "
        + "/".join(OUTCOMES)
        + ", score 300-900, limit >= 0, a decision id) and the days' stored decisions are "
        "exactly the applications the ledger marks SCORED: none lost, none extra."
    ),
)
def decisions_are_valid_and_match_the_ledger(
    context: dg.AssetCheckExecutionContext,
    ledger: LedgerResource,
    lake: LakeResource,
) -> dg.AssetCheckResult:
    days = checked_days(context)
    stored = lake.store().read(
        table_for("scoring/credit_decisions"),
        days,
        columns=["application_id", "decision_id", "score", "outcome", "credit_limit"],
    )
    statuses = ledger.get().application_statuses(days, transaction_counts=False)
    scored = set(statuses.loc[statuses["status"] == SCORED, "application_id"])
    bad_outcome = ~stored["outcome"].isin(OUTCOMES)
    bad_score = ~stored["score"].between(300, 900)
    bad_limit = stored["credit_limit"].fillna(0) < 0
    no_id = stored["decision_id"].isna() | (stored["decision_id"] == "")
    ids = set(stored["application_id"])
    lost, extra = sorted(scored - ids), sorted(ids - scored)
    invalid = stored.loc[bad_outcome | bad_score | bad_limit | no_id]
    return dg.AssetCheckResult(
        passed=invalid.empty and not lost and not extra,
        metadata={
            "stored": len(stored),
            "scored_in_ledger": len(scored),
            "invalid_rows": len(invalid),
            "scored_without_decision": len(lost),
            "decision_without_scored": len(extra),
            "outcomes": {str(k): int(v) for k, v in stored["outcome"].value_counts().items()},
            "examples": dg.MetadataValue.md(
                "\n".join(f"- {a}" for a in (lost + extra)[:10])
                or (invalid.head(5).to_markdown(index=False) if len(invalid) else "none")
            ),
        },
    )


@dg.asset_check(
    asset=CREDIT_DECISIONS_KEY,
    description=(
        "No application has been SENT to the decision engine for more than "
        f"{int(STUCK_SENT_AFTER.total_seconds() // 60)} minutes without its decision being "
        "stored (any day). Stuck work is re-sent, with the same idempotency key, by the next run "
        "of its day."
    ),
)
def no_stuck_sent_applications(ledger: LedgerResource) -> dg.AssetCheckResult:
    stuck = ledger.get().stale_sent(STUCK_SENT_AFTER)
    return dg.AssetCheckResult(
        passed=stuck.empty,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "stuck_applications": len(stuck),
            "days": ", ".join(sorted(set(stuck["partition_date"]))) or "none",
            "preview": dg.MetadataValue.md(
                stuck.head(10).to_markdown(index=False) if len(stuck) else "none"
            ),
        },
    )
