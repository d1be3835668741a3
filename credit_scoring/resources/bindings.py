"""The one place that decides which resource implementation each deployment binds.

- Flinks: ``FLINKS_BASE_URL`` (default: the local mock's address).
- Taktile: ``HttpTaktileResource`` when ``TAKTILE_BASE_URL`` is set (the real service, or the
  mock server's decide endpoint, as ``make demo``/``make dev`` do); otherwise
  ``MockTaktileResource``, in-process.
- Timeouts of one HTTP call: ``FLINKS_TIMEOUT_SECONDS`` and ``TAKTILE_TIMEOUT_SECONDS``
  (default 30 s; a call that times out is retried under the bounded retry policy).
- Ledger: ``CREDIT_SCORING_LEDGER_URL`` (default: SQLite under ``CREDIT_SCORING_HOME``).
- Lake: ``CREDIT_SCORING_LAKE_URL`` (default: ``$CREDIT_SCORING_HOME/lake``).
- Warehouse: DuckDB at ``$CREDIT_SCORING_HOME/warehouse.duckdb``.
- Executor: ``CREDIT_SCORING_EXECUTOR``: ``in_process`` (default: a run is one process, so a
  whole-graph run pays Python's and Dagster's start-up once, not once per step) or
  ``multiprocess`` (steps in parallel processes, at most two at a time).
"""

from __future__ import annotations

import os

import dagster as dg
from dagster_duckdb_pandas import DuckDBPandasIOManager

from credit_scoring.dbt_project import DBT_EXECUTABLE, dbt_project
from credit_scoring.lake.io_manager import LakeIOManager
from credit_scoring.lake.warehouse_io import WarehouseIOManager
from credit_scoring.resources.dbt import CreditScoringDbtCliResource
from credit_scoring.resources.flinks import FlinksResource
from credit_scoring.resources.lake import LakeResource
from credit_scoring.resources.ledger import LedgerResource
from credit_scoring.resources.taktile import (
    HttpTaktileResource,
    MockTaktileResource,
    TaktileResource,
)
from credit_scoring.resources.warehouse import WarehouseResource
from credit_scoring.settings import (
    FLINKS_API_KEY_VAR,
    FLINKS_BASE_URL_VAR,
    FLINKS_CUSTOMER_ID_VAR,
    LAKE_URL_VAR,
    LEDGER_URL_VAR,
    TAKTILE_API_KEY_VAR,
    TAKTILE_BASE_URL_VAR,
    TAKTILE_FLOW_SLUG_VAR,
    Settings,
    SettingsError,
    load_settings,
)

FLINKS_TIMEOUT_VAR = "FLINKS_TIMEOUT_SECONDS"
TAKTILE_TIMEOUT_VAR = "TAKTILE_TIMEOUT_SECONDS"
DEFAULT_TIMEOUT_SECONDS = 30.0


def _is_set(variable: str) -> bool:
    return bool(os.environ.get(variable, "").strip())


def _env_or_default(variable: str, default: str) -> str | dg.EnvVar:
    """An EnvVar when the variable is set (so the UI shows its name, not its value)."""
    return dg.EnvVar(variable) if _is_set(variable) else default


def timeout_seconds(variable: str) -> float:
    """A per-call timeout from ``variable``, refusing anything but a positive number."""
    raw = os.environ.get(variable, "").strip()
    if not raw:
        return DEFAULT_TIMEOUT_SECONDS
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise SettingsError(
            f"{variable}={raw!r} is not a positive number of seconds, e.g. "
            f"{DEFAULT_TIMEOUT_SECONDS:g}"
        )
    return value


def build_flinks_resource(settings: Settings | None = None) -> FlinksResource:
    """Flinks from the environment; the local mock's address when nothing is configured."""
    settings = settings or load_settings()
    return FlinksResource(
        base_url=_env_or_default(FLINKS_BASE_URL_VAR, settings.flinks_base_url),
        customer_id=_env_or_default(FLINKS_CUSTOMER_ID_VAR, settings.flinks_customer_id),
        # Secrets only ever come through EnvVar: Dagster then never shows or stores the value.
        api_key=dg.EnvVar(FLINKS_API_KEY_VAR) if _is_set(FLINKS_API_KEY_VAR) else None,
        timeout_seconds=timeout_seconds(FLINKS_TIMEOUT_VAR),
    )


def build_taktile_resource() -> TaktileResource:
    """HTTP when TAKTILE_BASE_URL is set, the in-process mock flow otherwise."""
    if not _is_set(TAKTILE_BASE_URL_VAR):
        return MockTaktileResource()
    return HttpTaktileResource(
        base_url=dg.EnvVar(TAKTILE_BASE_URL_VAR),
        api_key=dg.EnvVar(TAKTILE_API_KEY_VAR) if _is_set(TAKTILE_API_KEY_VAR) else None,
        flow_slug=_env_or_default(TAKTILE_FLOW_SLUG_VAR, "credit-decision"),
        timeout_seconds=timeout_seconds(TAKTILE_TIMEOUT_VAR),
    )


def build_executor(settings: Settings | None = None) -> dg.ExecutorDefinition:
    """The executor every job of the code location uses, from ``CREDIT_SCORING_EXECUTOR``."""
    settings = settings or load_settings()
    if settings.executor == "multiprocess":
        return dg.multiprocess_executor.configured({"max_concurrent": 2})
    return dg.in_process_executor


def build_resources(settings: Settings | None = None) -> dict[str, object]:
    """Every resource the code location binds, chosen from the environment."""
    settings = settings or load_settings()
    ledger = LedgerResource(url=_env_or_default(LEDGER_URL_VAR, settings.ledger_url))
    lake = LakeResource(root=_env_or_default(LAKE_URL_VAR, settings.lake_root))
    warehouse = str(settings.warehouse_path)
    return {
        "flinks": build_flinks_resource(settings),
        "taktile": build_taktile_resource(),
        "ledger": ledger,
        "lake": lake,
        "lake_io_manager": LakeIOManager(lake=lake, ledger=ledger),
        "warehouse": WarehouseResource(database=warehouse),
        # decisions are written transactionally and close the ledger claim after each commit
        "warehouse_io_manager": WarehouseIOManager(database=warehouse, ledger=ledger),
        # dbt models are read slice by slice (partition_expr) through dagster-duckdb-pandas
        "warehouse_reader": DuckDBPandasIOManager(database=warehouse, schema="main"),
        "dbt": CreditScoringDbtCliResource(project_dir=dbt_project, dbt_executable=DBT_EXECUTABLE),
    }


__all__ = [
    "FlinksResource",
    "HttpTaktileResource",
    "LakeResource",
    "LedgerResource",
    "MockTaktileResource",
    "TaktileResource",
    "WarehouseResource",
    "build_executor",
    "build_flinks_resource",
    "build_resources",
    "build_taktile_resource",
]
