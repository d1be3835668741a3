"""The code location: assembles assets, checks and resources; holds no logic of its own."""

from __future__ import annotations

import dagster as dg

from credit_scoring.assets.applications import applications
from credit_scoring.assets.bronze import flinks_accounts_detail
from credit_scoring.assets.dbt import dbt_features, dbt_monitoring
from credit_scoring.assets.decisions import credit_decisions
from credit_scoring.assets.silver import silver
from credit_scoring.checks import run_checks
from credit_scoring.resources.bindings import build_executor, build_resources

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
    resources=build_resources(),
    executor=build_executor(),
)
