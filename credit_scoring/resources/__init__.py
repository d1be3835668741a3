"""Resources, and the one place that decides which implementation each deployment binds."""

from __future__ import annotations

import os

import dagster as dg

from credit_scoring.lake.io_manager import LakeIOManager
from credit_scoring.resources.flinks import FlinksResource
from credit_scoring.resources.lake import LakeResource
from credit_scoring.resources.ledger import LedgerResource
from credit_scoring.settings import (
    FLINKS_API_KEY_VAR,
    FLINKS_BASE_URL_VAR,
    FLINKS_CUSTOMER_ID_VAR,
    LAKE_URL_VAR,
    LEDGER_URL_VAR,
    Settings,
    load_settings,
)


def _env_or_default(variable: str, default: str) -> str | dg.EnvVar:
    """An EnvVar when the variable is set (so the UI shows its name, not its value)."""
    return dg.EnvVar(variable) if os.environ.get(variable, "").strip() else default


def build_flinks_resource(settings: Settings | None = None) -> FlinksResource:
    """Flinks from the environment; the local mock's address when nothing is configured."""
    settings = settings or load_settings()
    return FlinksResource(
        base_url=_env_or_default(FLINKS_BASE_URL_VAR, settings.flinks_base_url),
        customer_id=_env_or_default(FLINKS_CUSTOMER_ID_VAR, settings.flinks_customer_id),
        # Secrets only ever come through EnvVar: Dagster then never shows or stores the value.
        api_key=dg.EnvVar(FLINKS_API_KEY_VAR) if os.environ.get(FLINKS_API_KEY_VAR) else None,
    )


def build_resources(settings: Settings | None = None) -> dict[str, object]:
    """Every resource the code location binds, chosen from the environment."""
    settings = settings or load_settings()
    ledger = LedgerResource(url=_env_or_default(LEDGER_URL_VAR, settings.ledger_url))
    lake = LakeResource(root=_env_or_default(LAKE_URL_VAR, settings.lake_root))
    return {
        "flinks": build_flinks_resource(settings),
        "ledger": ledger,
        "lake": lake,
        "lake_io_manager": LakeIOManager(lake=lake, ledger=ledger),
    }


__all__ = [
    "FlinksResource",
    "LakeResource",
    "LedgerResource",
    "build_flinks_resource",
    "build_resources",
]
