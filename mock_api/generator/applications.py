"""The loan applications of a generated data set: who applied, when, for how much.

Applications are decided up front for the whole run from the seed alone, so batching, file
layout and the number of worker processes never change who applied or when.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

from mock_api.generator.profiles import PROFILE_WEIGHTS

APPLICATION_COLUMNS = ["application_id", "login_id", "applied_at", "requested_amount"]
#: Requested amounts are round figures between these bounds (CAD).
MIN_REQUESTED, MAX_REQUESTED, REQUESTED_STEP = 500, 15_000, 250
#: Sub-stream of the seed used for applications (batches use their own sub-streams).
APPLICATIONS_STREAM = 0


@dataclass(frozen=True)
class ApplicationPlan:
    """All applications of a run, sorted by ``applied_at``; one row per applicant login."""

    frame: pd.DataFrame  # application_id, login_id, request_id, applied_at, app_day, ...

    def __len__(self) -> int:
        return len(self.frame)


def _uuids(rng: np.random.Generator, count: int) -> list[str]:
    """Version-4 UUIDs drawn from the seeded generator, so they repeat with the seed."""
    raw = rng.integers(0, 256, size=(count, 16), dtype=np.uint8)
    return [str(uuid.UUID(bytes=row.tobytes(), version=4)) for row in raw]


def _profile_quota(count: int) -> np.ndarray:
    """Profiles in proportion to their weights (largest remainder), so even a small sample
    has the full mix instead of whatever a few random draws give."""
    weights = np.asarray(PROFILE_WEIGHTS) / np.sum(PROFILE_WEIGHTS)
    exact = weights * count
    quota = np.floor(exact).astype(np.int64)
    shortfall = count - int(quota.sum())
    quota[np.argsort(-(exact - quota), kind="stable")[:shortfall]] += 1
    return np.repeat(np.arange(len(weights)), quota).astype(np.int8)


def plan_applications(count: int, start_date: date, days: int, seed: int) -> ApplicationPlan:
    """Spread ``count`` applications evenly over ``days`` days at random times of day (UTC).

    Every day gets ``count // days`` applications and the remainder goes to randomly chosen
    days, so a multi-day sample always has every daily partition populated.
    """
    if count < 1 or days < 1:
        raise ValueError("need at least one application and one day")
    rng = np.random.default_rng([seed, APPLICATIONS_STREAM])
    per_day = np.full(days, count // days, dtype=np.int64)
    per_day[rng.choice(days, size=count % days, replace=False)] += 1
    day_offset = np.repeat(np.arange(days), per_day)
    seconds = rng.integers(0, 86_400, size=count)
    order = np.lexsort((seconds, day_offset))
    day_offset, seconds = day_offset[order], seconds[order]

    start = pd.Timestamp(start_date)
    applied_at = start + pd.to_timedelta(day_offset, unit="D") + pd.to_timedelta(seconds, unit="s")
    number_in_day = np.arange(count) - np.repeat(np.cumsum(per_day) - per_day, per_day)
    width = max(4, len(str(int(per_day.max()))))
    day_labels = [(start_date + timedelta(days=int(d))).strftime("%Y%m%d") for d in range(days)]
    application_id = [
        f"APP-{day_labels[d]}-{n + 1:0{width}d}"
        for d, n in zip(day_offset.tolist(), number_in_day.tolist(), strict=True)
    ]
    steps = (MAX_REQUESTED - MIN_REQUESTED) // REQUESTED_STEP + 1
    requested = MIN_REQUESTED + REQUESTED_STEP * rng.integers(0, steps, size=count)
    profile = rng.permutation(_profile_quota(count))
    frame = pd.DataFrame(
        {
            "application_id": application_id,
            "login_id": _uuids(rng, count),
            "request_id": _uuids(rng, count),
            "applied_at": applied_at,
            "day_offset": day_offset,
            "requested_amount": requested * 100,
            "profile": profile,
        }
    )
    return ApplicationPlan(frame)


def applications_csv_frame(plan: ApplicationPlan) -> pd.DataFrame:
    """The ``applications.csv`` contract: ISO 8601 UTC timestamps, two-decimal amounts."""
    frame = plan.frame
    return pd.DataFrame(
        {
            "application_id": frame["application_id"],
            "login_id": frame["login_id"],
            "applied_at": frame["applied_at"].dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "requested_amount": (frame["requested_amount"] // 100).astype(str) + ".00",
        }
    )
