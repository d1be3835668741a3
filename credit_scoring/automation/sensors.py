"""A sensor that notices new rows in the applications source and requests their days.

Late applications (added to a past day) or intra-day batches are picked up without waiting
for tomorrow's schedule; the ledger makes the re-run of a day fetch and decide only what is new.
It is off by default: a loan-origination export that is rewritten every few minutes would start
many small runs. Turn it on in the UI (Automation) where the source changes rarely.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

import dagster as dg
import pandas as pd

from credit_scoring.automation.jobs import daily_scoring_job
from credit_scoring.core.settings import load_settings
from credit_scoring.ingestion.applications_source import (
    read_applications_csv,
    validate_applications,
)

#: On its first evaluation the sensor requests only days this recent; older days are
#: remembered as seen (backfill them deliberately, not by switching a sensor on).
FIRST_LOOKBACK_DAYS = 7


@dataclass(frozen=True)
class Evaluation:
    """What one evaluation decided: the days to run, and the new cursor."""

    days: list[str]
    fingerprints: dict[str, str]


def day_fingerprints(applications: pd.DataFrame) -> dict[str, str]:
    """Per application day, a hash of its application ids (changes when a row is added)."""
    fingerprints = {}
    for day, ids in applications.groupby("partition_date")["application_id"]:
        digest = hashlib.sha256("\x1f".join(sorted(map(str, ids))).encode()).hexdigest()
        fingerprints[str(day)] = digest[:16]
    return fingerprints


def evaluate(
    applications: pd.DataFrame,
    seen: Mapping[str, str] | None,
    *,
    first_day: date,
    today: date,
) -> Evaluation:
    """Days whose applications changed since ``seen`` (pure: unit-tested)."""
    current = {
        day: fp
        for day, fp in day_fingerprints(applications).items()
        if first_day.isoformat() <= day <= today.isoformat()
    }
    if seen is None:
        cutoff = (today - timedelta(days=FIRST_LOOKBACK_DAYS)).isoformat()
        changed = [day for day in current if day >= cutoff]
    else:
        changed = [day for day, fp in current.items() if seen.get(day) != fp]
    return Evaluation(days=sorted(changed), fingerprints=current)


@dg.sensor(
    job=daily_scoring_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description=(
        "Requests a run of the whole graph for every application day that gained rows in "
        "CREDIT_SCORING_APPLICATIONS. Off by default; see credit_scoring/automation/sensors.py."
    ),
)
def new_applications_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    settings = load_settings()
    valid, rejects = validate_applications(read_applications_csv(settings.applications_path))
    seen = json.loads(context.cursor) if context.cursor else None
    result = evaluate(
        valid, seen, first_day=settings.start_date, today=pd.Timestamp.now("UTC").date()
    )
    if rejects.shape[0]:
        context.log.warning(f"{len(rejects)} malformed application row(s) are ignored")
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(
                run_key=f"applications-{day}-{result.fingerprints[day]}",
                partition_key=day,
                tags={"trigger": "new_applications_sensor"},
            )
            for day in result.days
        ],
        cursor=json.dumps(result.fingerprints, sort_keys=True),
    )
