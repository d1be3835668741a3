"""The one partitioning scheme every partitioned asset shares: the application date (UTC),
and how a range of days is split into runs.

By default every asset is backfilled as a single run: a 30-day backfill is one run whose
fixed costs (Python, Dagster, dbt start-up) are paid once, not thirty times, and
``dagster asset materialize --partition-range`` (which Dagster allows only for single-run
assets) runs a range as one run. A deployment whose steps spread over Celery workers sets
``CREDIT_SCORING_BACKFILL_RUN_DAYS`` on its daemon, webserver and code server instead: a
backfill launched from the UI or the daemon is then split into runs of that many days, which
the run queue runs side by side. The steps of a run only follow its partition range, so
workers and run processes need not agree on this setting.
"""

from __future__ import annotations

import warnings
from datetime import UTC, datetime

import dagster as dg

from credit_scoring.core.settings import load_settings

# Dagster flags the ``backfill_policy`` parameter of its asset decorators as beta. Single-run
# backfills are this graph's documented way to backfill, so exactly that notice is silenced
# (before any asset is decorated); every other warning still reaches operators.
warnings.filterwarnings(
    "ignore", message=r"Parameter `backfill_policy` of function", category=dg.BetaWarning
)


def build_backfill_policy() -> dg.BackfillPolicy:
    """One run per range, or runs of ``CREDIT_SCORING_BACKFILL_RUN_DAYS`` days."""
    days = load_settings().backfill_run_days
    if days is None:
        return dg.BackfillPolicy.single_run()
    return dg.BackfillPolicy.multi_run(max_partitions_per_run=days)


backfill_policy = build_backfill_policy()


def build_daily_partitions() -> dg.DailyPartitionsDefinition:
    """Daily partitions from ``CREDIT_SCORING_START_DATE`` up to and including today (UTC).

    ``end_offset=1`` makes today's partition exist: applications arrive all day and an operator
    must be able to score them before midnight.
    """
    settings = load_settings()
    return dg.DailyPartitionsDefinition(
        start_date=settings.start_date.isoformat(), timezone="UTC", end_offset=1
    )


daily_partitions = build_daily_partitions()


def checked_days(context: dg.AssetCheckExecutionContext) -> list[str]:
    """The partitions of the run a check executes in (today's when run on its own).

    Checks run in the same run as the assets they check, so they check exactly the days that
    run materialised, a single day or a whole backfill range.
    """
    if context.has_partition_key or context.has_partition_key_range:
        return list(context.partition_keys)
    return [datetime.now(UTC).date().isoformat()]
