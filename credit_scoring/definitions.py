"""The code location: assembles assets, checks, automation and resources; holds no logic."""

from __future__ import annotations

import dagster as dg

from credit_scoring.assets.applications import applications
from credit_scoring.assets.bronze import flinks_accounts_detail
from credit_scoring.assets.dbt import dbt_features, dbt_monitoring
from credit_scoring.assets.decisions import credit_decisions
from credit_scoring.assets.silver import silver
from credit_scoring.checks import run_checks
from credit_scoring.jobs import daily_scoring_job
from credit_scoring.resources.bindings import build_executor, build_resources
from credit_scoring.schedules import daily_scoring_schedule
from credit_scoring.sensors import new_applications_sensor

defs = dg.Definitions(
    assets=[
        applications,
        flinks_accounts_detail,
        silver,
        dbt_features,
        credit_decisions,
        dbt_monitoring,
    ],
    asset_checks=run_checks,
    jobs=[daily_scoring_job],
    schedules=[daily_scoring_schedule],
    sensors=[new_applications_sensor],
    resources=build_resources(),
    executor=build_executor(),
)
