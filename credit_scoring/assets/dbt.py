"""The dbt_analytics models as partitioned Dagster assets (features, monitoring)."""

import json
import os
from collections.abc import Iterator, Mapping
from typing import Any

import dagster as dg
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    dbt_assets,
)

from credit_scoring.dbt_project import dbt_env, dbt_project, ensure_manifest
from credit_scoring.partitions import daily_partitions
from credit_scoring.pools import WAREHOUSE_POOL


def dbt_build_args(window: dg.TimeWindow) -> list[str]:
    """``dbt build`` over the application dates of ``window`` ([start, end), as dates)."""
    variables = {
        "min_date": window.start.date().isoformat(),
        "max_date": window.end.date().isoformat(),
    }
    return ["build", "--vars", json.dumps(variables, sort_keys=True)]


class CreditScoringDbtTranslator(DagsterDbtTranslator):
    """Groups that read as the architecture; kinds and owners on every dbt asset."""

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props.get("resource_type") == "source":
            return None
        path = dbt_resource_props.get("original_file_path", "")
        name = dbt_resource_props.get("name", "")
        if "decision" in name:
            return "decisioning"
        return "analytics" if path.startswith(("models", "seeds")) else None

    def get_owners(self, dbt_resource_props: Mapping[str, Any]) -> list[str]:
        return ["team:credit-risk"]


translator = CreditScoringDbtTranslator(
    settings=DagsterDbtTranslatorSettings(enable_asset_checks=True)
)


@dbt_assets(
    manifest=ensure_manifest(),
    project=dbt_project,
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    dagster_dbt_translator=translator,
    pool=WAREHOUSE_POOL,
)
def dbt_analytics(context: dg.AssetExecutionContext, dbt: DbtCliResource) -> Iterator[Any]:
    args = dbt_build_args(context.partition_time_window)
    context.log.info(f"dbt {' '.join(args)}")
    os.environ.update(dbt_env())
    yield from dbt.cli(args, context=context).stream()
