"""The one place that decides what each deployment binds, from the environment.

- Flinks and Taktile: ``FLINKS_BASE_URL``, ``FLINKS_CUSTOMER_ID`` and ``TAKTILE_BASE_URL`` are
  required; only ``CREDIT_SCORING_ENV=dev`` lets them default to the local mock server
  (:func:`credit_scoring.core.settings.load_endpoints`). The mock and the real services differ
  by URL only; API keys travel as ``dagster.EnvVar`` references, never as values.
- Timeouts of one HTTP call: ``FLINKS_TIMEOUT_SECONDS`` and ``TAKTILE_TIMEOUT_SECONDS``
  (default 30 s; a call that times out is retried under the bounded retry policy).
- Ledger: ``CREDIT_SCORING_LEDGER_URL`` (default: SQLite under ``CREDIT_SCORING_HOME``).
- Lake: ``CREDIT_SCORING_LAKE_URL`` (default: ``$CREDIT_SCORING_HOME/lake``). Every table
  lives there, dbt's models and the decisions included; with a local lake,
  ``$CREDIT_SCORING_HOME/warehouse.duckdb`` is kept as a catalogue of views over it.
- Executor: ``CREDIT_SCORING_EXECUTOR``: ``in_process`` (default: a run is one process, so a
  whole-graph run pays Python's and Dagster's start-up once, not once per step),
  ``multiprocess`` (steps in parallel processes, at most two at a time) or ``celery`` (each
  step on a Celery worker, ``python -m credit_scoring.worker``; broker and result backend from
  ``CREDIT_SCORING_CELERY_BROKER_URL`` and ``CREDIT_SCORING_CELERY_BACKEND_URL``) or ``k8s``
  (each step a Kubernetes Job started from the run's pod, with its image, ConfigMaps and
  Secrets: ``deploy/helm/values.yaml``).
"""

from __future__ import annotations

import os

import dagster as dg

from credit_scoring.analytics.dbt_project import DBT_EXECUTABLE, S3_TARGET, dbt_project
from credit_scoring.analytics.dbt_resource import CreditScoringDbtCliResource
from credit_scoring.core.celery_settings import load_celery_settings
from credit_scoring.core.locations import is_local_url
from credit_scoring.core.settings import (
    FLINKS_API_KEY_VAR,
    FLINKS_BASE_URL_VAR,
    FLINKS_CUSTOMER_ID_VAR,
    LAKE_URL_VAR,
    LEDGER_URL_VAR,
    TAKTILE_API_KEY_VAR,
    TAKTILE_BASE_URL_VAR,
    TAKTILE_FLOW_SLUG_VAR,
    Endpoints,
    Settings,
    load_endpoints,
    load_settings,
)
from credit_scoring.decisioning.decision_store import DecisionStoreIOManager
from credit_scoring.decisioning.taktile_resource import TaktileResource
from credit_scoring.ingestion.flinks_resource import FlinksResource
from credit_scoring.lake.io_manager import LakeIOManager
from credit_scoring.lake.storage import LakeResource
from credit_scoring.ledger.resource import LedgerResource


def _is_set(variable: str) -> bool:
    return bool(os.environ.get(variable, "").strip())


def _env_or_default(variable: str, default: str) -> str | dg.EnvVar:
    """An EnvVar when the variable is set (so the UI shows its name, not its value)."""
    return dg.EnvVar(variable) if _is_set(variable) else default


def _secret(variable: str) -> dg.EnvVar | None:
    """Secrets only ever come through EnvVar: Dagster then never shows or stores the value."""
    return dg.EnvVar(variable) if _is_set(variable) else None


def build_flinks_resource(endpoints: Endpoints | None = None) -> FlinksResource:
    endpoints = endpoints or load_endpoints()
    return FlinksResource(
        base_url=_env_or_default(FLINKS_BASE_URL_VAR, endpoints.flinks_base_url),
        customer_id=_env_or_default(FLINKS_CUSTOMER_ID_VAR, endpoints.flinks_customer_id),
        api_key=_secret(FLINKS_API_KEY_VAR),
        timeout_seconds=endpoints.flinks_timeout_seconds,
        concurrency=endpoints.flinks_concurrency,
        days_of_transactions=endpoints.flinks_days_of_transactions,
    )


def build_taktile_resource(endpoints: Endpoints | None = None) -> TaktileResource:
    endpoints = endpoints or load_endpoints()
    return TaktileResource(
        base_url=_env_or_default(TAKTILE_BASE_URL_VAR, endpoints.taktile_base_url),
        api_key=_secret(TAKTILE_API_KEY_VAR),
        flow_slug=_env_or_default(TAKTILE_FLOW_SLUG_VAR, endpoints.taktile_flow_slug),
        version=endpoints.taktile_flow_version,
        sandbox=endpoints.taktile_sandbox,
        timeout_seconds=endpoints.taktile_timeout_seconds,
        concurrency=endpoints.taktile_concurrency,
    )


#: dagster-k8s's ``k8s_job_executor``: the rest (image, namespace, ConfigMaps, Secrets,
#: resources) comes from the run launcher's configuration in the Helm values.
K8S_EXECUTOR_CONFIG = {"max_concurrent": 4}


def build_executor(settings: Settings | None = None) -> dg.ExecutorDefinition:
    """The executor every job of the code location uses, from ``CREDIT_SCORING_EXECUTOR``."""
    settings = settings or load_settings()
    if settings.executor == "k8s":
        # imported here, as Celery is: only a Kubernetes deployment imports its client
        from dagster_k8s import k8s_job_executor

        return k8s_job_executor.configured(K8S_EXECUTOR_CONFIG)
    if settings.executor == "celery":
        # imported here: only a Celery deployment pays for importing Celery
        from dagster_celery import celery_executor

        return celery_executor.configured(load_celery_settings().executor_config())
    if settings.executor == "multiprocess":
        return dg.multiprocess_executor.configured({"max_concurrent": 2})
    return dg.in_process_executor


def build_resources(settings: Settings | None = None) -> dict[str, object]:
    """Every resource the code location binds, chosen from the environment."""
    settings = settings or load_settings()
    endpoints = load_endpoints()
    ledger = LedgerResource(
        url=_env_or_default(LEDGER_URL_VAR, settings.ledger_url),
        fetch_attempts=settings.fetch_attempts,
    )
    lake = LakeResource(
        root=_env_or_default(LAKE_URL_VAR, settings.lake_root),
        catalogue=str(settings.warehouse_path),
    )
    return {
        "flinks": build_flinks_resource(endpoints),
        "taktile": build_taktile_resource(endpoints),
        "ledger": ledger,
        "lake": lake,
        "lake_io_manager": LakeIOManager(lake=lake, ledger=ledger),
        # decisions are stored day by day and their ledger claim closed once they are
        "decision_store": DecisionStoreIOManager(lake=lake, ledger=ledger),
        # the profile's `s3` target reads the lake through s3fs; its default target (`local`)
        # needs no s3fs at all. `make manifest` saves a parse for each (dbt parses everything
        # again when the --target it is given changes), and the default stays unnamed.
        "dbt": CreditScoringDbtCliResource(
            project_dir=dbt_project,
            dbt_executable=DBT_EXECUTABLE,
            target=None if is_local_url(settings.lake_root) else S3_TARGET,
        ),
    }
