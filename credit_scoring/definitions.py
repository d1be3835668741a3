"""The code location Dagster loads: assembles each room's assets and checks, the automation,
and the resources the environment chooses. It holds no logic."""

import dagster as dg

from credit_scoring.analytics.dbt_assets import dbt_features, dbt_monitoring
from credit_scoring.automation.jobs import daily_scoring_job, decision_sla_job
from credit_scoring.automation.schedules import daily_scoring_schedule, decision_sla_schedule
from credit_scoring.automation.sensors import new_applications_sensor
from credit_scoring.core.memory import use_returning_allocator
from credit_scoring.decisioning.decision_assets import credit_decisions
from credit_scoring.decisioning.decision_checks import (
    decisions_are_valid_and_match_the_ledger,
    no_stuck_sent_applications,
    taktile_error_rate,
)
from credit_scoring.decisioning.decision_sla import yesterdays_decisions_by_0900_utc
from credit_scoring.deployment import build_executor, build_resources
from credit_scoring.ingestion.applications_asset import applications
from credit_scoring.ingestion.bronze_asset import flinks_accounts_detail
from credit_scoring.ingestion.fetch_checks import flinks_error_rate
from credit_scoring.silver.reconciliation_check import bronze_silver_reconciliation
from credit_scoring.silver.silver_assets import silver

# every process that loads the code location (run, step or Celery worker) frees memory back
use_returning_allocator()

defs = dg.Definitions(
    assets=[
        applications,
        flinks_accounts_detail,
        silver,
        dbt_features,
        credit_decisions,
        dbt_monitoring,
    ],
    asset_checks=[
        flinks_error_rate,
        bronze_silver_reconciliation,
        taktile_error_rate,
        decisions_are_valid_and_match_the_ledger,
        no_stuck_sent_applications,
        yesterdays_decisions_by_0900_utc,
    ],
    jobs=[daily_scoring_job, decision_sla_job],
    schedules=[daily_scoring_schedule, decision_sla_schedule],
    sensors=[new_applications_sensor],
    resources=build_resources(),
    executor=build_executor(),
)
