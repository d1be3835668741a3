"""Asset checks: the properties an operator relies on, verified after every materialisation."""

from datetime import UTC, datetime, timedelta

import dagster as dg

from credit_scoring.assets.bronze import BRONZE_KEY
from credit_scoring.assets.decisions import CREDIT_DECISIONS_KEY
from credit_scoring.assets.silver import SILVER_TRANSACTIONS_KEY
from credit_scoring.decisions import OUTCOMES
from credit_scoring.ledger import ERROR, SCORED
from credit_scoring.pools import WAREHOUSE_POOL
from credit_scoring.reconcile import reconcile
from credit_scoring.resources.lake import LakeResource
from credit_scoring.resources.ledger import LedgerResource
from credit_scoring.resources.warehouse import WarehouseResource


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


#: Above this share of decide failures (engine errors, unsendable features) someone must look.
TAKTILE_ERROR_RATE_THRESHOLD = 0.05
#: An application SENT longer ago than this without a stored decision is stuck work: its run
#: died where no later run has picked it up (the next run for its day re-sends it).
STUCK_SENT_AFTER = timedelta(minutes=30)


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
            "errors_by_code": {
                str(k): int(v) for k, v in errors["error_code"].value_counts().items()
            },
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
    pool=WAREHOUSE_POOL,
)
def decisions_are_valid_and_match_the_ledger(
    context: dg.AssetCheckExecutionContext,
    ledger: LedgerResource,
    warehouse: WarehouseResource,
) -> dg.AssetCheckResult:
    days = checked_days(context)
    with warehouse.connect() as connection:
        exists = connection.execute(
            "select count(*) from information_schema.tables "
            "where table_schema = 'scoring' and table_name = 'credit_decisions'"
        ).fetchone()[0]
        stored = (
            connection.execute(
                "select application_id, decision_id, score, outcome, credit_limit "
                "from scoring.credit_decisions "
                "where strftime(application_date, '%Y-%m-%d') in (select unnest(?::varchar[]))",
                [days],
            ).df()
            if exists
            else None
        )
    statuses = ledger.get().application_statuses(days, transaction_counts=False)
    scored = set(statuses.loc[statuses["status"] == SCORED, "application_id"])
    if stored is None:
        return dg.AssetCheckResult(
            passed=not scored,
            metadata={"stored": 0, "scored_in_ledger": len(scored)},
        )
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


run_checks = [
    flinks_error_rate,
    bronze_silver_reconciliation,
    taktile_error_rate,
    decisions_are_valid_and_match_the_ledger,
    no_stuck_sent_applications,
]
