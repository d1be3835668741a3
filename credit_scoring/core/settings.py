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
from upath import UPath

from credit_scoring.core.locations import is_local_url, upath

REPO_ROOT = Path(__file__).resolve().parents[2]

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
EXECUTORS = ("in_process", "multiprocess", "celery", "k8s")
#: Days per run of a backfill the daemon launches; unset: a whole range is one run.
BACKFILL_RUN_DAYS_VAR = "CREDIT_SCORING_BACKFILL_RUN_DAYS"
#: Runs that may fetch one application before a transient failure is final (ERROR, not retried).
FETCH_ATTEMPTS_VAR = "CREDIT_SCORING_FETCH_ATTEMPTS"
DEFAULT_FETCH_ATTEMPTS = 5
#: How much memory dbt's DuckDB may hold before it spills (dbt_analytics/macros/memory_bounds.sql)
DBT_MEMORY_LIMIT_VAR = "CREDIT_SCORING_DBT_MEMORY_LIMIT"
DEFAULT_DBT_MEMORY_LIMIT = "512MB"
#: An amount of memory in DuckDB's spelling: a number and a unit.
_MEMORY_AMOUNT = re.compile(r"[0-9]+(\.[0-9]+)? ?[KMGT]i?B")
FLINKS_TIMEOUT_VAR = "FLINKS_TIMEOUT_SECONDS"
TAKTILE_TIMEOUT_VAR = "TAKTILE_TIMEOUT_SECONDS"
FLINKS_CONCURRENCY_VAR = "FLINKS_CONCURRENCY"
TAKTILE_CONCURRENCY_VAR = "TAKTILE_CONCURRENCY"
#: How much history to ask Flinks for (its ``DaysOfTransactions``).
FLINKS_HISTORY_VAR = "FLINKS_DAYS_OF_TRANSACTIONS"
FLINKS_HISTORY_WINDOWS = ("Days90", "Days365")
TAKTILE_FLOW_VERSION_VAR = "TAKTILE_FLOW_VERSION"
TAKTILE_SANDBOX_VAR = "TAKTILE_SANDBOX"
#: ``dev`` says that the local mock APIs are intended; anything else is a real deployment.
ENV_VAR = "CREDIT_SCORING_ENV"
DEV, PRODUCTION = "dev", "production"
ENVIRONMENTS = (DEV, PRODUCTION)

#: The first daily partition when CREDIT_SCORING_START_DATE is unset: the committed sample's
#: month. A deployment sets the day its first applications came in; an earlier default would
#: open the UI on a catalogue of years of empty partitions.
DEFAULT_START_DATE = "2026-10-01"
#: Where the local mock server listens (``python -m mock_api``); used only when
#: ``CREDIT_SCORING_ENV=dev`` and no endpoint is configured.
LOCAL_MOCK_URL = "http://127.0.0.1:8765"
LOCAL_MOCK_CUSTOMER_ID = "mock-customer"
DEFAULT_TAKTILE_FLOW_SLUG = "credit-decision"
DEFAULT_TIMEOUT_SECONDS = 30.0
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
    #: A local file, or an object (``s3://bucket/applications.csv``) every machine can read.
    applications_path: Path | UPath
    start_date: date
    lake_root: str
    ledger_url: str
    executor: str = "in_process"
    backfill_run_days: int | None = None
    fetch_attempts: int = DEFAULT_FETCH_ATTEMPTS
    dbt_memory_limit: str = DEFAULT_DBT_MEMORY_LIMIT

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
            "e.g. https://api.example.com"
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


def parse_customer_id(
    raw: str, variable: str = FLINKS_CUSTOMER_ID_VAR, what: str = "customer id"
) -> str:
    """A Flinks customer id or a Taktile flow slug goes into every path: one URL path segment."""
    if not _PATH_SEGMENT.fullmatch(raw):
        raise SettingsError(
            f"{variable}={raw!r} is not a {what}: use letters, digits, '-', '_', '.' or '~' "
            "only (it is a segment of every URL the client calls)"
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
    """``in_process`` (one process per run: the cheapest on one machine), ``multiprocess``,
    ``celery`` (each step on a Celery worker: :mod:`credit_scoring.core.celery_settings`) or
    ``k8s`` (each step a Kubernetes Job, ``deploy/helm/values.yaml``)."""
    if raw not in EXECUTORS:
        raise SettingsError(
            f"{EXECUTOR_VAR}={raw!r} is not an executor: use one of {', '.join(EXECUTORS)}"
        )
    return raw


def positive_whole_number(variable: str, raw: str, what: str, advice: str) -> int:
    """``raw`` as a whole number of at least 1, or an error naming ``variable`` and its value."""
    if not raw.isdigit() or int(raw) < 1:
        raise SettingsError(f"{variable}={raw!r} is not a positive number of {what}: {advice}")
    return int(raw)


def parse_backfill_run_days(raw: str | None) -> int | None:
    """Days per backfill run: a positive whole number, or None (unset: one run per range)."""
    if raw is None:
        return None
    return positive_whole_number(
        BACKFILL_RUN_DAYS_VAR,
        raw,
        "days",
        "set it to the days one backfill run takes (e.g. 3), or unset it for one run per range",
    )


def parse_fetch_attempts(raw: str | None) -> int:
    """Runs that may fetch one application (the default when unset)."""
    if raw is None:
        return DEFAULT_FETCH_ATTEMPTS
    return positive_whole_number(
        FETCH_ATTEMPTS_VAR,
        raw,
        "attempts",
        f"set it to how many runs may fetch one application (default {DEFAULT_FETCH_ATTEMPTS})",
    )


def parse_memory_amount(raw: str | None, variable: str, default: str) -> str:
    """An amount of memory as DuckDB spells it (``512MB``, ``2GB``, ``1.5GiB``)."""
    if raw is None:
        return default
    if not _MEMORY_AMOUNT.fullmatch(raw):
        raise SettingsError(
            f"{variable}={raw!r} is not an amount of memory: use e.g. 512MB or 2GB "
            f"(default {default})"
        )
    return raw


def parse_timeout(variable: str) -> float:
    """A per-call timeout in seconds from ``variable``: a positive number, 30 when unset."""
    raw = _read(variable)
    if raw is None:
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


def parse_environment(raw: str | None) -> str:
    """``dev`` (local mocks intended) or ``production`` (the default: nothing is assumed)."""
    value = (raw or PRODUCTION).lower()
    if value not in ENVIRONMENTS:
        raise SettingsError(
            f"{ENV_VAR}={raw!r} is not an environment: use dev (the local mock APIs are "
            f"intended) or production (the default)"
        )
    return value


@dataclass(frozen=True)
class Endpoints:
    """Where the two outside services are, validated. The API keys are not here: they only
    ever travel as ``dagster.EnvVar`` references (see :mod:`credit_scoring.deployment`)."""

    environment: str
    flinks_base_url: str
    flinks_customer_id: str
    taktile_base_url: str
    taktile_flow_slug: str
    flinks_timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    taktile_timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    flinks_concurrency: int = 16
    taktile_concurrency: int = 8
    flinks_days_of_transactions: str = "Days365"
    taktile_flow_version: str = "v1.0"
    taktile_sandbox: bool = False


#: The variables a real deployment must set; ``CREDIT_SCORING_ENV=dev`` lets them default to
#: the local mock server.
REQUIRED_ENDPOINT_VARS = (FLINKS_BASE_URL_VAR, FLINKS_CUSTOMER_ID_VAR, TAKTILE_BASE_URL_VAR)


def load_endpoints() -> Endpoints:
    """The Flinks and Taktile endpoints; refuses to guess them outside ``CREDIT_SCORING_ENV=dev``.

    A deployment that forgot its endpoints must not fetch from, or approve loans with, a mock:
    the error names every missing variable at once, in one line.
    """
    environment = parse_environment(_read(ENV_VAR))
    missing = [name for name in REQUIRED_ENDPOINT_VARS if _read(name) is None]
    if missing and environment != DEV:
        names = ", ".join(missing[:-1]) + (" and " if len(missing) > 1 else "") + missing[-1]
        raise SettingsError(
            f"{names} {'are' if len(missing) > 1 else 'is'} not set: set the Flinks and Taktile "
            f"endpoints, or set {ENV_VAR}={DEV} to use the local mock APIs "
            "(make dev and make demo do)"
        )
    return Endpoints(
        environment=environment,
        flinks_base_url=parse_base_url(
            _read(FLINKS_BASE_URL_VAR) or LOCAL_MOCK_URL, FLINKS_BASE_URL_VAR
        ),
        flinks_customer_id=parse_customer_id(
            _read(FLINKS_CUSTOMER_ID_VAR) or LOCAL_MOCK_CUSTOMER_ID
        ),
        taktile_base_url=parse_base_url(
            _read(TAKTILE_BASE_URL_VAR) or LOCAL_MOCK_URL, TAKTILE_BASE_URL_VAR
        ),
        taktile_flow_slug=parse_customer_id(
            _read(TAKTILE_FLOW_SLUG_VAR) or DEFAULT_TAKTILE_FLOW_SLUG,
            TAKTILE_FLOW_SLUG_VAR,
            "flow slug",
        ),
        flinks_timeout_seconds=parse_timeout(FLINKS_TIMEOUT_VAR),
        taktile_timeout_seconds=parse_timeout(TAKTILE_TIMEOUT_VAR),
        flinks_concurrency=parse_concurrency(FLINKS_CONCURRENCY_VAR, 16),
        taktile_concurrency=parse_concurrency(TAKTILE_CONCURRENCY_VAR, 8),
        flinks_days_of_transactions=parse_choice(
            FLINKS_HISTORY_VAR, FLINKS_HISTORY_WINDOWS, default="Days365"
        ),
        taktile_flow_version=_read(TAKTILE_FLOW_VERSION_VAR) or "v1.0",
        taktile_sandbox=parse_choice(TAKTILE_SANDBOX_VAR, ("true", "false"), default="false")
        == "true",
    )


def parse_concurrency(variable: str, default: int) -> int:
    """Calls in flight at once to one API (and its connection pool)."""
    raw = _read(variable)
    if raw is None:
        return default
    return positive_whole_number(
        variable, raw, "calls", f"calls in flight at once (default {default})"
    )


def parse_choice(variable: str, choices: tuple[str, ...], *, default: str) -> str:
    """One of ``choices`` (``default`` when unset), compared without regard to case."""
    raw = _read(variable)
    if raw is None:
        return default
    for choice in choices:
        if raw.lower() == choice.lower():
            return choice
    raise SettingsError(f"{variable}={raw!r} is not one of {', '.join(choices)}")


def load_settings() -> Settings:
    """Read and validate the settings from the environment (cheap; call it where needed)."""
    home_raw = _read(HOME_VAR)
    home = Path(home_raw).expanduser() if home_raw else REPO_ROOT / ".credit_scoring"
    if not home.is_absolute():
        home = (Path.cwd() / home).resolve()
    applications_raw = _read(APPLICATIONS_VAR)
    applications_path: Path | UPath
    if applications_raw and not is_local_url(applications_raw):
        # read by the run that needs it; checking an object at every import would cost each
        # process a round trip to the store
        applications_path = upath(applications_raw)
    else:
        applications_path = check_applications_path(
            Path(applications_raw).expanduser()
            if applications_raw
            else REPO_ROOT / "data" / "applications.csv",
            explicit=applications_raw is not None,
        )
    ledger_raw = _read(LEDGER_URL_VAR)
    return Settings(
        home=check_home(home),
        lake_root=_read(LAKE_URL_VAR) or str(home / "lake"),
        ledger_url=parse_ledger_url(ledger_raw)
        if ledger_raw
        else f"sqlite:///{home / 'ledger.sqlite'}",
        applications_path=applications_path,
        start_date=parse_start_date(_read(START_DATE_VAR) or DEFAULT_START_DATE),
        executor=parse_executor(_read(EXECUTOR_VAR) or EXECUTORS[0]),
        backfill_run_days=parse_backfill_run_days(_read(BACKFILL_RUN_DAYS_VAR)),
        fetch_attempts=parse_fetch_attempts(_read(FETCH_ATTEMPTS_VAR)),
        dbt_memory_limit=parse_memory_amount(
            _read(DBT_MEMORY_LIMIT_VAR), DBT_MEMORY_LIMIT_VAR, DEFAULT_DBT_MEMORY_LIMIT
        ),
    )
