"""The job every schedule, sensor and backfill runs: the whole graph for a partition (range)."""

from __future__ import annotations

import dagster as dg

#: applications -> bronze -> silver -> dbt features -> decisions -> monitoring, and their checks
daily_scoring_job = dg.define_asset_job(
    name="daily_scoring",
    selection=dg.AssetSelection.all(),
    description=(
        "The whole credit-scoring graph for one application day (or a range, as one run): "
        "fetch, land, clean, build features, decide, monitor. Safe to re-run: the ledger "
        "skips what is done."
    ),
)
