"""The daily schedule and the new-applications sensor, pure parts and as Dagster runs them."""

from __future__ import annotations

from datetime import UTC, date, datetime

import dagster as dg
import pandas as pd

from credit_scoring.automation.schedules import (
    daily_scoring_schedule,
    decision_sla_schedule,
    previous_day,
)
from credit_scoring.automation.sensors import FIRST_LOOKBACK_DAYS, evaluate


def applications(*rows: tuple[str, str]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["application_id", "partition_date"])


def test_the_schedule_scores_yesterday():
    assert previous_day(date(2026, 3, 1)) == "2026-02-28"
    context = dg.build_schedule_context(
        scheduled_execution_time=datetime(2026, 10, 6, 6, 0, tzinfo=UTC)
    )
    request = daily_scoring_schedule(context)
    assert request.partition_key == "2026-10-05"
    assert request.run_key == "daily-2026-10-05"


def test_the_sla_schedule_checks_yesterday_at_nine_without_materialising_anything():
    from credit_scoring.definitions import defs

    context = dg.build_schedule_context(
        scheduled_execution_time=datetime(2026, 10, 6, 9, 0, tzinfo=UTC)
    )
    request = decision_sla_schedule(context)
    assert request.run_key == "sla-2026-10-05"
    assert request.tags["sla_partition"] == "2026-10-05"
    assert decision_sla_schedule.cron_schedule == "0 9 * * *"
    job = defs.resolve_job_def(decision_sla_schedule.job_name)
    assert job.partitions_def is None
    assert [node.name for node in job.nodes] == [
        "scoring__credit_decisions_yesterdays_decisions_by_0900_utc"
    ]


def test_a_day_is_requested_again_only_when_it_gains_an_application():
    first = evaluate(
        applications(("A1", "2026-10-05"), ("A2", "2026-10-06")),
        {},
        first_day=date(2020, 1, 1),
        today=date(2026, 10, 7),
    )
    assert first.days == ["2026-10-05", "2026-10-06"]

    unchanged = evaluate(
        applications(("A1", "2026-10-05"), ("A2", "2026-10-06")),
        first.fingerprints,
        first_day=date(2020, 1, 1),
        today=date(2026, 10, 7),
    )
    assert unchanged.days == []

    late = evaluate(
        applications(("A1", "2026-10-05"), ("A2", "2026-10-06"), ("A3", "2026-10-05")),
        first.fingerprints,
        first_day=date(2020, 1, 1),
        today=date(2026, 10, 7),
    )
    assert late.days == ["2026-10-05"]


def test_the_first_evaluation_looks_back_a_week_and_never_beyond_today_or_the_start():
    rows = applications(
        ("OLD", "2026-09-01"),
        ("RECENT", "2026-10-05"),
        ("FUTURE", "2026-12-01"),
        ("X", "2019-05-01"),
    )
    first = evaluate(rows, None, first_day=date(2020, 1, 1), today=date(2026, 10, 7))
    assert first.days == ["2026-10-05"]
    assert FIRST_LOOKBACK_DAYS == 7
    # older days are remembered as seen: switching the sensor on is not a backfill
    assert set(first.fingerprints) == {"2026-09-01", "2026-10-05"}
