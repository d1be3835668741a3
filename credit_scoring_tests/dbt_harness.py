"""Run the real dbt project against a hand-built lake, and read what it built.

Tests write silver and application partitions exactly as the IO manager would (same schemas,
same layout), then call ``dbt build`` as Dagster does (same ``--vars``), in a private target
and log directory so that tests never touch the repository's manifest.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterable
from pathlib import Path

import duckdb
import pandas as pd

from credit_scoring.analytics.dbt_assets import MONITORING_SELECTION
from credit_scoring.analytics.dbt_project import (
    DATABASE_VAR,
    DBT_EXECUTABLE,
    DBT_PROJECT_DIR,
    EXPORT_DIR_VAR,
    WINDOW_ENV,
)
from credit_scoring.lake.storage import LakeStore
from credit_scoring.lake.tables import table_for

ACCOUNT_CATEGORY = {"Chequing": "Operations", "Savings": "Operations", "CreditCard": "Credit"}


def transaction(
    account: str, posted: str, description: str, amount: float, balance: float, position: int
) -> dict:
    """One silver transaction; ``account`` is ``<kind>:<id>`` with kind Chequing/Savings/..."""
    kind, account_id = account.split(":")
    return {
        "account_id": account_id,
        "account_type": kind,
        "account_category": ACCOUNT_CATEGORY[kind],
        "posted_date": pd.Timestamp(posted).date(),
        "description": description,
        "amount": amount,
        "balance": balance,
        "feed_position": position,
    }


def write_application(
    store: LakeStore,
    application_id: str,
    day: str,
    transactions: Iterable[dict],
    *,
    with_bank_data: bool = True,
) -> None:
    """Append one application (and its accounts and transactions) to the lake partition."""
    login = f"login-{application_id}"
    rows = pd.DataFrame(list(transactions))
    app = pd.DataFrame(
        {
            "application_id": [application_id],
            "login_id": [login],
            "applied_at": [pd.Timestamp(f"{day}T12:00:00Z")],
            "application_date": [pd.Timestamp(day).date()],
            "partition_date": [day],
            "requested_amount": [5000.0],
        }
    )
    _append(store, "applications", day, app)
    if not with_bank_data:
        return
    if rows.empty:
        rows = pd.DataFrame(columns=["account_id", "account_type", "account_category"])
    accounts = (
        rows.loc[:, ["account_id", "account_type", "account_category"]]
        .drop_duplicates("account_id")
        .rename(columns={"account_type": "type", "account_category": "category"})
    )
    accounts = accounts.assign(
        application_id=application_id,
        login_id=login,
        partition_date=day,
        title=accounts["type"],
        account_number_masked="****1234",
        currency="CAD",
        balance_current=0.0,
        balance_available=0.0,
        balance_limit=None,
        holder_key=None,
        institution="Test Bank",
        request_id=f"req-{application_id}",
        fetched_at=pd.Timestamp(f"{day}T12:00:00Z"),
    )
    _append(store, "silver/accounts", day, accounts)
    if rows.empty:
        return
    amount = rows["amount"].astype(float)
    silver = rows.assign(
        application_id=application_id,
        login_id=login,
        partition_date=day,
        application_date=pd.Timestamp(day).date(),
        transaction_id=[f"{application_id}-t{i}" for i in range(len(rows))],
        currency="CAD",
        debit=(-amount).where(amount < 0),
        credit=amount.where(amount > 0),
        request_id=f"req-{application_id}",
        fetched_at=pd.Timestamp(f"{day}T12:00:00Z"),
        content_hash=[f"h{i}" for i in range(len(rows))],
    )
    _append(store, "silver/transactions", day, silver)


def _append(store: LakeStore, table_path: str, day: str, frame: pd.DataFrame) -> None:
    table = table_for(table_path)
    existing = store.read(table, [day])
    merged = pd.concat([existing, frame], ignore_index=True) if len(existing) else frame
    store.write(table, day, merged)


def run_dbt(
    home: Path,
    min_date: str,
    max_date: str,
    *,
    command: str = "build",
    check: bool = True,
    selection: tuple[str, ...] = ("--exclude", MONITORING_SELECTION),
    window_in: str = "vars",
    extra_env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """``dbt <command>`` over ``[min_date, max_date)``, run by hand: into dbt's own database
    ``home/analytics.duckdb`` (:data:`ANALYTICS_DATABASE`), exporting nothing.

    By default the features part of the project, as the ``dbt_features`` asset runs it (the
    monitoring models read decisions these tests do not make). The window goes in as
    ``--vars``, as an analyst types it, or (``window_in="environment"``) as Dagster passes it.
    ``extra_env``: more environment variables for dbt (e.g. its memory limit).
    """
    env = {**os.environ, "CREDIT_SCORING_HOME": str(home)}
    for variable in ("CREDIT_SCORING_LAKE_URL", DATABASE_VAR, EXPORT_DIR_VAR):
        env.pop(variable, None)
    env.update(extra_env or {})
    window = {"min_date": min_date, "max_date": max_date}
    if window_in == "environment":
        env.update({WINDOW_ENV[name]: value for name, value in window.items()})
        window_args: list[str] = []
    else:
        window_args = ["--vars", json.dumps(window)]
    result = subprocess.run(
        [
            DBT_EXECUTABLE,
            command,
            "--project-dir",
            str(DBT_PROJECT_DIR),
            "--profiles-dir",
            str(DBT_PROJECT_DIR),
            "--target-path",
            str(home / "dbt_target"),
            "--log-path",
            str(home / "dbt_logs"),
            *window_args,
            *selection,
        ],
        env=env,
        cwd=DBT_PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"dbt {command} failed:\n{result.stdout[-6000:]}\n{result.stderr}")
    return result


#: The database dbt run by hand builds into (profiles.yml), under the home.
ANALYTICS_DATABASE = "analytics.duckdb"
#: The catalogue a pipeline run keeps under the home: views over the lake.
CATALOGUE = "warehouse.duckdb"


def query(home: Path, sql: str, *, database: str = ANALYTICS_DATABASE) -> pd.DataFrame:
    """Read dbt's database, or the pipeline's catalogue (read-only, closed at once)."""
    with duckdb.connect(str(home / database), read_only=True) as connection:
        return connection.sql(sql).df()
