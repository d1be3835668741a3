"""The decision SLA, per partition: yesterday's applications all have their decision by 09:00 UTC.

Asked of the ledger for that one day, against the applications source: every valid application
of yesterday must be SCORED, or have failed for good at the fetch (a terminal Flinks error such
as an unknown login, which no run will change). A decide error, or a fetch error the next run
would retry, is not a decision: an outage of either API breaks the SLA, as it should. Backfilling
an old day says nothing about yesterday, and a dry run changes no ledger state, so neither
satisfies it; a freshness policy on the asset would be satisfied by any materialisation of any
day. The check runs in every run of the decisions and on its own at the deadline
(:mod:`credit_scoring.automation.schedules`, whose run names its day in the ``sla_partition``
tag): before 09:00 an unfinished day is a warning, after it a failure.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import dagster as dg
import pandas as pd

from credit_scoring.core.settings import load_settings
from credit_scoring.decisioning.decision_assets import CREDIT_DECISIONS_KEY
from credit_scoring.ingestion.applications_source import (
    in_window,
    read_applications_csv,
    validate_applications,
)
from credit_scoring.ledger import ERROR, SCORED
from credit_scoring.ledger.resource import LedgerResource

#: Yesterday's decisions are due by this time (UTC); the daily run starts at 06:00.
SLA_DEADLINE = time(9, 0)
SLA_CHECK_NAME = "yesterdays_decisions_by_0900_utc"
#: The SLA schedule's runs name the day they check (a late or re-executed run checks that day).
SLA_PARTITION_TAG = "sla_partition"


@dataclass(frozen=True)
class SlaVerdict:
    """How one day stands against its deadline."""

    day: str
    deadline: datetime
    expected: int
    decided: int
    undecided: list[str]

    @property
    def met(self) -> bool:
        return not self.undecided


def utc_now() -> datetime:
    """The clock the check reads (one place, so a test can set it)."""
    return datetime.now(UTC)


def sla_day(now: datetime) -> date:
    """The partition the SLA is about at ``now``: the day before, in UTC."""
    return now.astimezone(UTC).date() - timedelta(days=1)


def sla_verdict(
    day: date, expected_ids: pd.Series, statuses: pd.DataFrame, leases: pd.DataFrame
) -> SlaVerdict:
    """Which of the day's valid applications have neither a decision nor a final fetch error."""
    final_fetch = leases.loc[
        (leases["state"] == ERROR) & (leases["retryable"] == False),  # noqa: E712 (None stays)
        "application_id",
    ]
    failed_for_good = (
        (statuses["status"] == ERROR)
        & (statuses["error_stage"] == "fetch")
        & statuses["application_id"].isin(final_fetch)
    )
    done = set(statuses.loc[(statuses["status"] == SCORED) | failed_for_good, "application_id"])
    undecided = sorted(set(expected_ids) - done)
    return SlaVerdict(
        day=day.isoformat(),
        deadline=datetime.combine(day + timedelta(days=1), SLA_DEADLINE, tzinfo=UTC),
        expected=int(expected_ids.nunique()),
        decided=int(expected_ids.isin(done).sum()),
        undecided=undecided,
    )


@dg.asset_check(
    asset=CREDIT_DECISIONS_KEY,
    name=SLA_CHECK_NAME,
    description=(
        "Every valid application of yesterday (UTC) has its decision in the ledger by 09:00 UTC, "
        "or has failed for good at the fetch (e.g. an unknown login). About yesterday's "
        "partition only: a backfill of another day or a dry run does not satisfy it. Warns "
        "before the deadline, fails after it."
    ),
)
def yesterdays_decisions_by_0900_utc(
    context: dg.AssetCheckExecutionContext, ledger: LedgerResource
) -> dg.AssetCheckResult:
    now = utc_now()
    named = context.run.tags.get(SLA_PARTITION_TAG)
    day = date.fromisoformat(named) if named else sla_day(now)
    settings = load_settings()
    valid, _ = validate_applications(read_applications_csv(settings.applications_path))
    expected = in_window(valid, day, day + timedelta(days=1))["application_id"]
    book = ledger.get()
    statuses = book.application_statuses([day.isoformat()], transaction_counts=False)
    verdict = sla_verdict(day, expected, statuses, book.ingestion_states([day.isoformat()]))
    late = now >= verdict.deadline
    return dg.AssetCheckResult(
        passed=verdict.met,
        severity=dg.AssetCheckSeverity.ERROR if late else dg.AssetCheckSeverity.WARN,
        metadata={
            "partition": verdict.day,
            "deadline": verdict.deadline.isoformat(),
            "past_deadline": late,
            "expected_applications": verdict.expected,
            "decided_or_failed_for_good": verdict.decided,
            "undecided": len(verdict.undecided),
            "undecided_examples": ", ".join(verdict.undecided[:10]) or "none",
        },
    )
