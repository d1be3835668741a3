"""The daily schedule: yesterday's applications, scored every morning."""

from __future__ import annotations

from datetime import date, timedelta

import dagster as dg

from credit_scoring.automation.jobs import daily_scoring_job, decision_sla_job
from credit_scoring.decisioning.decision_sla import SLA_PARTITION_TAG

#: 06:00 UTC: yesterday's applications are complete, and decisions are due by 09:00
#: (the SLA check, credit_scoring.decisioning.decision_sla).
DAILY_CRON = "0 6 * * *"


def previous_day(tick: date) -> str:
    """The partition a tick on ``tick`` scores: the day before (complete by then)."""
    return (tick - timedelta(days=1)).isoformat()


@dg.schedule(
    job=daily_scoring_job,
    cron_schedule=DAILY_CRON,
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every morning at 06:00 UTC, run the whole graph for yesterday's partition.",
)
def daily_scoring_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    day = previous_day(context.scheduled_execution_time.date())
    return dg.RunRequest(run_key=f"daily-{day}", partition_key=day, tags={"trigger": "schedule"})


@dg.schedule(
    job=decision_sla_job,
    cron_schedule="0 9 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="At 09:00 UTC, check that yesterday's applications all have their decision.",
)
def decision_sla_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    day = previous_day(context.scheduled_execution_time.date())
    return dg.RunRequest(run_key=f"sla-{day}", tags={"trigger": "sla", SLA_PARTITION_TAG: day})
