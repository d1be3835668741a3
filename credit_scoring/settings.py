"""Deployment settings from the environment, validated, with errors that name the variable.

Every public knob of the code location lives here so that operators have one place to look
and a bad value fails at load time with a message saying which variable and what to do,
instead of surfacing as a confusing error deep inside a run.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import sqlalchemy as sa

REPO_ROOT = Path(__file__).resolve().parent.parent

HOME_VAR = "CREDIT_SCORING_HOME"
APPLICATIONS_VAR = "CREDIT_SCORING_APPLICATIONS"
START_DATE_VAR = "CREDIT_SCORING_START_DATE"
FLINKS_BASE_URL_VAR = "FLINKS_BASE_URL"
FLINKS_CUSTOMER_ID_VAR = "FLINKS_CUSTOMER_ID"
FLINKS_API_KEY_VAR = "FLINKS_API_KEY"
TAKTILE_BASE_URL_VAR = "TAKTILE_BASE_URL"
TAKTILE_API_KEY_VAR = "TAKTILE_API_KEY"
TAKTILE_FLOW_SLUG_VAR = "TAKTILE_FLOW_SLUG"
LEDGER_URL_VAR = "CREDIT_SCORING_LEDGER_URL"
LAKE_URL_VAR = "CREDIT_SCORING_LAKE_URL"
EXECUTOR_VAR = "CREDIT_SCORING_EXECUTOR"
EXECUTORS = ("in_process", "multiprocess")

DEFAULT_START_DATE = "2020-01-01"
#: Where `make dev` and `make demo` start the mock when nothing else is configured.
DEFAULT_FLINKS_BASE_URL = "http://127.0.0.1:8765"
DEFAULT_FLINKS_CUSTOMER_ID = "mock-customer"
#: Databases the ledger's SQL (insert-or-ignore, compare-and-set) is written for.
LEDGER_BACKENDS = ("sqlite", "postgresql")
#: A customer id is one URL path segment: anything else would call another endpoint.
_PATH_SEGMENT = re.compile(r"[A-Za-z0-9._~-]+")


class SettingsError(ValueError):
    """A configuration value is missing or invalid; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    """The validated deployment settings."""

    home: Path
    applications_path: Path
    start_date: date
    flinks_base_url: str
    flinks_customer_id: str

    lake_root: str
    ledger_url: str
    executor: str = "in_process"

    @property
    def warehouse_path(self) -> Path:
        return self.home / "warehouse.duckdb"

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster_home"


def _read(name: str) -> str | None:
    value = os.environ.get(name)
    if value is None:
        return None
    value = value.strip()
    return value or None


def parse_start_date(raw: str, variable: str = START_DATE_VAR) -> date:
    """Parse the first partition date, refusing anything that is not a past ``YYYY-MM-DD``."""
    try:
        parsed = date.fromisoformat(raw)
    except ValueError:
        raise SettingsError(
            f"{variable}={raw!r} is not a date: use YYYY-MM-DD, e.g. {DEFAULT_START_DATE}"
        ) from None
    if parsed > date.today():
        raise SettingsError(
            f"{variable}={raw!r} is in the future: the first daily partition must be today or "
            "earlier"
        )
    return parsed


def parse_base_url(raw: str, variable: str) -> str:
    """Accept only absolute http(s) URLs so a typo fails at load time, not on the first fetch."""
    if not raw.startswith(("http://", "https://")) or "://" not in raw or raw.endswith("://"):
        raise SettingsError(
            f"{variable}={raw!r} is not an http(s) URL: set it to the API root, "
            f"e.g. {DEFAULT_FLINKS_BASE_URL}"
        )
    return raw.rstrip("/")


def parse_ledger_url(raw: str, variable: str = LEDGER_URL_VAR) -> str:
    """A SQLAlchemy URL of a database the ledger supports, so a typo fails at load time."""
    try:
        backend = sa.engine.make_url(raw).get_backend_name()
    except sa.exc.ArgumentError:
        raise SettingsError(
            f"{variable} is not a SQLAlchemy URL: use e.g. sqlite:////abs/path/ledger.sqlite "
            "or postgresql+psycopg://user@host/db"
        ) from None
    if backend not in LEDGER_BACKENDS:
        raise SettingsError(
            f"{variable} points at a {backend} database: the ledger runs on "
            f"{' or '.join(LEDGER_BACKENDS)}"
        )
    return raw


def parse_customer_id(raw: str, variable: str = FLINKS_CUSTOMER_ID_VAR) -> str:
    """The Flinks customer id goes into every path, so it must be one URL path segment."""
    if not _PATH_SEGMENT.fullmatch(raw):
        raise SettingsError(
            f"{variable}={raw!r} is not a customer id: use letters, digits, '-', '_', '.' or "
            "'~' only (it is a segment of every Flinks URL)"
        )
    return raw


def check_home(home: Path, variable: str = HOME_VAR) -> Path:
    """The state directory may not exist yet, but must not be something else."""
    if home.exists() and not home.is_dir():
        raise SettingsError(
            f"{variable}={str(home)!r} is not a directory: point it at the state directory "
            "(created if missing)"
        )
    return home


def check_applications_path(path: Path, explicit: bool, variable: str = APPLICATIONS_VAR) -> Path:
    """The applications CSV must exist at load time: a run would only fail on it later."""
    if not path.is_file():
        problem = "is a directory" if path.is_dir() else "does not exist"
        setting = f"{variable}={str(path)!r}" if explicit else f"{variable} is unset and {path}"
        raise SettingsError(
            f"{setting} {problem}: set {variable} to the CSV listing "
            "application_id,login_id,applied_at,requested_amount"
        )
    return path


def parse_executor(raw: str) -> str:
    """``in_process`` (one process per run: the cheapest on one machine) or ``multiprocess``."""
    if raw not in EXECUTORS:
        raise SettingsError(
            f"{EXECUTOR_VAR}={raw!r} is not an executor: use one of {', '.join(EXECUTORS)} "
            "(Kubernetes and Celery executors are set in the deployment's own definitions)"
        )
    return raw


def load_settings() -> Settings:
    """Read and validate the settings from the environment (cheap; call it where needed)."""
    home_raw = _read(HOME_VAR)
    home = Path(home_raw).expanduser() if home_raw else REPO_ROOT / ".credit_scoring"
    if not home.is_absolute():
        home = (Path.cwd() / home).resolve()
    applications_raw = _read(APPLICATIONS_VAR)
    applications_path = (
        Path(applications_raw).expanduser()
        if applications_raw
        else REPO_ROOT / "data" / "applications.csv"
    )
    ledger_raw = _read(LEDGER_URL_VAR)
    return Settings(
        home=check_home(home),
        lake_root=_read(LAKE_URL_VAR) or str(home / "lake"),
        ledger_url=parse_ledger_url(ledger_raw)
        if ledger_raw
        else f"sqlite:///{home / 'ledger.sqlite'}",
        applications_path=check_applications_path(
            applications_path, explicit=applications_raw is not None
        ),
        start_date=parse_start_date(_read(START_DATE_VAR) or DEFAULT_START_DATE),
        flinks_base_url=parse_base_url(
            _read(FLINKS_BASE_URL_VAR) or DEFAULT_FLINKS_BASE_URL, FLINKS_BASE_URL_VAR
        ),
        flinks_customer_id=parse_customer_id(
            _read(FLINKS_CUSTOMER_ID_VAR) or DEFAULT_FLINKS_CUSTOMER_ID
        ),
        executor=parse_executor(_read(EXECUTOR_VAR) or EXECUTORS[0]),
    )
