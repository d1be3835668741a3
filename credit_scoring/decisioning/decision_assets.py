"""Decisions: claim the day's PENDING applications, ask Taktile, store the answers."""

import time
from collections.abc import Iterator

import dagster as dg
import pandas as pd
from pydantic import Field

from credit_scoring.core.conventions import CREDIT_RISK_TEAM, PARTITIONED
from credit_scoring.core.crashpoints import crash_point
from credit_scoring.core.metadata import error_counts
from credit_scoring.decisioning.decision_contract import FEATURES_MODEL
from credit_scoring.decisioning.decision_store import DecisionBatch
from credit_scoring.decisioning.payloads import build_requests, decision_rows
from credit_scoring.decisioning.taktile_resource import TaktileResource
from credit_scoring.lake.tables import DECISION_STATUS
from credit_scoring.ledger import PENDING, Ledger
from credit_scoring.ledger.resource import LedgerResource

CREDIT_DECISIONS_KEY = dg.AssetKey(["scoring", "credit_decisions"])
DECISION_STATUS_KEY = dg.AssetKey(["scoring", "decision_status"])
FEATURES_KEY = dg.AssetKey([FEATURES_MODEL])
#: The decision-status snapshot's columns, in the lake table's order.
STATUS_COLUMNS = DECISION_STATUS.names


class DecisionConfig(dg.Config):
    """Operator knobs for deciding; the defaults are the everyday case."""

    retry_errors: bool = Field(
        default=False,
        description="Return the days' decision errors to PENDING and send them again.",
    )
    dry_run: bool = Field(
        default=False,
        description="Build and validate the requests for PENDING applications and report them; "
        "send nothing, store nothing, change nothing.",
    )


def _out(key: dg.AssetKey, description: str) -> dg.AssetOut:
    return dg.AssetOut(
        key=key,
        io_manager_key="decision_store",
        group_name="decisioning",
        kinds={"python", "parquet"},
        owners=[CREDIT_RISK_TEAM],
        description=description,
    )


@dg.multi_asset(
    outs={
        "credit_decisions": _out(
            CREDIT_DECISIONS_KEY,
            "One Taktile decision per application: decision id, score, outcome, credit limit, "
            "reasons, flow version, the features sent (and their hash), request/decision times. "
            "Exactly once: applications are claimed in the ledger before sending.",
        ),
        "decision_status": _out(
            DECISION_STATUS_KEY,
            "The ledger state of every application of the day (SCORED, ERROR with code, "
            "PENDING, SENT), copied to the lake for monitoring.",
        ),
    },
    ins={
        "features": dg.AssetIn(
            FEATURES_KEY,
            input_manager_key="lake_io_manager",
        )
    },
    **PARTITIONED,
)
def credit_decisions(
    context: dg.AssetExecutionContext,
    config: DecisionConfig,
    taktile: TaktileResource,
    ledger: LedgerResource,
    features: pd.DataFrame,
) -> Iterator[dg.Output]:
    days = list(context.partition_keys)
    book = ledger.get()
    if config.retry_errors:
        reopened = book.retry_errors(days)
        context.log.info(f"{reopened} ledger row(s) returned from ERROR to PENDING")

    if config.dry_run:
        statuses = book.application_statuses(days, transaction_counts=False)
        pending = list(statuses.loc[statuses["status"] == PENDING, "application_id"])
        requests, unsendable = build_requests(features, pending)
        context.log.info(
            f"dry run: {len(requests)} request(s) would be sent, {len(unsendable)} could not be "
            "sent; nothing was changed"
        )
        yield dg.Output(
            decision_rows([], [], {}),
            "credit_decisions",
            metadata={"dry_run": True, "would_send": len(requests), "unsendable": len(unsendable)},
        )
        yield dg.Output(_status_frame(book, days), "decision_status")
        return

    token, claimed = book.claim_for_decision(days)
    crash_point("decide.claimed")
    requests, unsendable = build_requests(features, claimed)
    context.log.info(
        f"claimed {len(claimed)} application(s): sending {len(requests)}, "
        f"{len(unsendable)} cannot be sent"
    )
    if unsendable:
        book.mark_errors(pd.DataFrame(unsendable), token=token, stage="decide")
    step = max(1, len(requests) // 10)

    def progress(done: int, total: int) -> None:
        if done == (total + 1) // 2:
            crash_point("decide.halfway")
        if done % step == 0 or done == total:
            context.log.info(f"decided {done}/{total}")

    started = time.perf_counter()
    decisions = taktile.decide_many(requests, on_progress=progress) if requests else []
    elapsed = time.perf_counter() - started
    crash_point("decide.after_send")
    failed = [d for d in decisions if not d.ok]
    if failed:
        book.mark_errors(
            pd.DataFrame(
                {
                    "application_id": [d.entity_id for d in failed],
                    "error_code": [d.error_code for d in failed],
                    "error_message": [d.error_message for d in failed],
                }
            ),
            token=token,
            stage="decide",
        )
    dates = dict(
        zip(
            features["application_id"],
            pd.to_datetime(features["application_date"]).dt.date,
            strict=True,
        )
    )
    new = decision_rows(decisions, requests, dates)
    error_codes = pd.Series(
        [d.error_code for d in failed] + [u.error_code for u in unsendable], dtype="object"
    )
    yield dg.Output(
        DecisionBatch(new, claim_token=token),
        "credit_decisions",
        metadata={
            "claimed": len(claimed),
            "sent": len(requests),
            "new_decisions": len(new),
            "errors": len(failed) + len(unsendable),
            **error_counts(error_codes),
            "error_rate": (len(failed) + len(unsendable)) / len(claimed) if claimed else 0.0,
            "decision_engines": {
                str(k): int(v) for k, v in new["decision_engine"].value_counts().items()
            },
            "decide_seconds": round(elapsed, 3),
            "decisions_per_second": round(len(requests) / elapsed, 2) if elapsed > 0 else 0.0,
            "preview": dg.MetadataValue.md(
                new.loc[:, ["application_id", "score", "outcome", "credit_limit", "reasons"]]
                .head(10)
                .to_markdown(index=False)
                if len(new)
                else "no new decisions"
            ),
        },
    )
    yield dg.Output(_status_frame(book, days), "decision_status")


def _status_frame(book: Ledger, days: list[str]) -> pd.DataFrame:
    statuses = book.application_statuses(days)
    frame = statuses.assign(application_date=pd.to_datetime(statuses["partition_date"]))
    frame["updated_at"] = pd.to_datetime(frame["updated_at"], utc=True)
    return frame.loc[:, STATUS_COLUMNS]
