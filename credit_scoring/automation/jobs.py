"""The job every schedule, sensor and backfill runs: the whole graph for a partition (range)."""

from __future__ import annotations

import dagster as dg

from credit_scoring.decisioning.decision_sla import yesterdays_decisions_by_0900_utc

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


#: The decision SLA on its own, at the deadline: no asset is materialised, the check only reads
#: the ledger and the applications source (see credit_scoring.decisioning.decision_sla).
decision_sla_job = dg.define_asset_job(
    name="decision_sla",
    selection=dg.AssetSelection.checks(yesterdays_decisions_by_0900_utc),
    description="Checks that yesterday's applications all have a decision (09:00 UTC SLA).",
)
