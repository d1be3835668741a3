"""The dbt_analytics models as partitioned Dagster assets: features, then decision monitoring.

Two ``@dbt_assets`` over one project, because the decision asset sits between them:
``applicant_features`` (dbt) -> ``scoring/credit_decisions`` (Python) -> ``decision_monitoring``
(dbt). Each runs ``dbt build`` over the run's application-date window, passed in dbt's
environment (:func:`credit_scoring.analytics.dbt_project.dbt_environment`), in memory; once the
build and its tests have passed, the models' window is published to the lake
(:mod:`credit_scoring.analytics.publish`) and only then are their materialisations reported.
A window whose sources, project and published files are unchanged since a passing build is not
built again (:mod:`credit_scoring.analytics.dbt_reuse`).
"""

import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    dbt_assets,
)

from credit_scoring.analytics.dbt_project import (
    dbt_environment,
    dbt_project,
    ensure_manifest,
    new_target_path,
    save_parse,
)
from credit_scoring.analytics.dbt_reuse import (
    DbtReuse,
    reused_results,
    selection_of,
    sources_of,
)
from credit_scoring.analytics.publish import Published, publish
from credit_scoring.core.conventions import CREDIT_RISK_TEAM, PARTITIONED
from credit_scoring.core.crashpoints import crash_point
from credit_scoring.lake.catalogue import register_views
from credit_scoring.lake.io_manager import table_schema
from credit_scoring.lake.storage import LakeResource
from credit_scoring.lake.tables import DBT_MODEL_TABLES
from credit_scoring.ledger.resource import LedgerResource

#: dbt selection of the decision-monitoring models (they read the stored decisions).
MONITORING_SELECTION = "tag:decisioning"


def dbt_vars(window: dg.TimeWindow) -> dict[str, str]:
    """The application-date window ``[min_date, max_date)`` of a partition window, as dates."""
    return {
        "min_date": window.start.date().isoformat(),
        "max_date": window.end.date().isoformat(),
    }


class CreditScoringDbtTranslator(DagsterDbtTranslator):
    """Groups that read as the architecture, owners, and the partition column for readers."""

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props.get("resource_type") == "source":
            return None
        meta = (dbt_resource_props.get("config") or {}).get("meta") or {}
        group = (meta.get("dagster") or {}).get("group")
        if group:
            return group
        if "decisioning" in (dbt_resource_props.get("tags") or []):
            return "decisioning"
        return "analytics"

    def get_owners(self, dbt_resource_props: Mapping[str, Any]) -> list[str]:
        return [CREDIT_RISK_TEAM]


translator = CreditScoringDbtTranslator(
    settings=DagsterDbtTranslatorSettings(enable_asset_checks=True)
)


def with_published_metadata(events: list[Any], published: Mapping[str, Published]) -> list[Any]:
    """dbt's materialisations, each published model's with the rows and columns the run wrote
    to the lake (``dagster/row_count``, ``dagster/column_schema``): the asset page shows and
    plots them as it does for the lake's own tables."""
    enriched = []
    for event in events:
        unique_id = event.metadata.get("unique_id") if isinstance(event, dg.Output) else None
        # Output keeps its metadata as MetadataValue objects
        name = str(getattr(unique_id, "value", unique_id) or "").rsplit(".", 1)[-1]
        model = published.get(name) if name else None
        if model is not None:
            event = event.with_metadata(
                {
                    **event.metadata,
                    "dagster/row_count": model.rows,
                    "dagster/column_schema": table_schema(model.schema),
                }
            )
        enriched.append(event)
    return enriched


def dbt_build_assets(name: str, **selection: str) -> dg.AssetsDefinition:
    """One ``@dbt_assets`` over part of the project (``select=`` or ``exclude=``), built for
    the run's application-date window and published to the lake."""

    @dbt_assets(
        manifest=ensure_manifest(),
        project=dbt_project,
        **PARTITIONED,
        dagster_dbt_translator=translator,
        name=name,
        **selection,
    )
    def _assets(
        context: dg.AssetExecutionContext,
        dbt: DbtCliResource,
        lake: LakeResource,
        ledger: LedgerResource,
    ) -> Iterator[Any]:
        window = dbt_vars(context.partition_time_window)
        days = list(context.partition_keys)
        span = f"application dates {window['min_date']} to {window['max_date']} (exclusive)"
        reuse = DbtReuse(
            lake.store(), name, window, days, selection_of(context), sources_of(context.assets_def)
        )
        recalled = reuse.recall()
        if recalled is not None:
            context.log.info(
                f"dbt not run for {span}: its sources, the project and its published tables "
                f"are unchanged since the build of {recalled.computed_at}, whose results stand"
            )
            yield from reused_results(context, recalled)
            return
        context.log.info(f"dbt build for {span}")
        target = new_target_path(f"{context.run.run_id[:8]}-{name}", dbt.target)
        # outside the home: nothing but logs and caches is written under a worker's home
        with tempfile.TemporaryDirectory(prefix="credit-scoring-dbt-") as scratch:
            exports = Path(scratch) / "exports"
            exports.mkdir()
            with dbt_environment(window, export_dir=exports, spill_dir=Path(scratch) / "spill"):
                invocation = dbt.cli(["build"], context=context, target_path=target)
                events = []
                for index, result in enumerate(invocation.stream()):
                    events.append(result)
                    if index == 0:
                        crash_point("dbt.midway", name)
            published = publish(lake.store(), ledger.get().engine, exports, days)
        context.log.info(
            "published to the lake: "
            + (
                ", ".join(f"{path} ({model.rows} rows)" for path, model in published.items())
                or "none"
            )
        )
        register_views(lake, [DBT_MODEL_TABLES[path] for path in published], context.log)
        yield from with_published_metadata(events, published)
        save_parse(target, dbt.target)
        reuse.keep({path: model.rows for path, model in published.items()}, events)
        crash_point("dbt.finished", name)

    return _assets


#: Staging, intermediate and the applicant_features mart for the run's days.
dbt_features = dbt_build_assets("dbt_features", exclude=MONITORING_SELECTION)
#: decision_monitoring for the run's days, after the decisions are stored.
dbt_monitoring = dbt_build_assets("dbt_monitoring", select=MONITORING_SELECTION)


__all__ = ["dbt_features", "dbt_monitoring", "dbt_vars"]
