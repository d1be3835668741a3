"""The local Dagster instance: DAGSTER_HOME under CREDIT_SCORING_HOME, and its dagster.yaml."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

from credit_scoring.settings import load_settings

DAGSTER_YAML = """\
# Local instance settings for this checkout (written by credit_scoring.instance).
telemetry:
  enabled: false
"""


def ensure_dagster_home() -> Path:
    """Use DAGSTER_HOME if set, else ``$CREDIT_SCORING_HOME/dagster_home``; create its yaml."""
    home = Path(os.environ.get("DAGSTER_HOME") or load_settings().dagster_home)
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(DAGSTER_YAML, encoding="utf-8")
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def local_instance() -> dg.DagsterInstance:
    ensure_dagster_home()
    return dg.DagsterInstance.get()
