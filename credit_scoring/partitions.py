"""The one partitioning scheme every partitioned asset shares: the application date (UTC)."""

from __future__ import annotations

import dagster as dg

from credit_scoring.settings import load_settings


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
