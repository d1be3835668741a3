"""Run the pipeline in a separate process against a state directory, and snapshot the result.

Separate processes make kills and concurrency real: each run has its own pid, its own
SQLite connections and its own file handles, exactly like two Dagster runs.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

from credit_scoring.core.settings import REPO_ROOT
from credit_scoring.decisioning.payloads import DECISION_COLUMNS
from credit_scoring.ingestion.applications_source import (
    read_applications_csv,
    validate_applications,
)
from credit_scoring.lake.storage import LakeStore
from credit_scoring.lake.tables import table_for
from credit_scoring.ledger import Ledger

INGESTION_GROUPS = ("ingestion", "silver")
SILVER_COMPARE = [
    "application_id",
    "transaction_id",
    "account_id",
    "posted_date",
    "description",
    "amount",
    "balance",
    "content_hash",
]


#: What a decision must equal between two runs: everything but wall-clock times, and the
#: features sent (their hash stands for them).
DECISION_COMPARE = [
    c
    for c in DECISION_COLUMNS
    if c not in ("requested_at", "decided_at", "features", "flow_version", "decision_engine")
]


def sample_days(data_dir: Path = REPO_ROOT / "data") -> list[str]:
    """The application days of a data directory's valid applications, in order."""
    valid, _ = validate_applications(read_applications_csv(data_dir / "applications.csv"))
    return sorted(valid["partition_date"].unique())


def pipeline_env(home: Path, base_url: str, **extra: str) -> dict[str, str]:
    """The environment of a run against the mock at ``base_url`` (Flinks and Taktile both)."""
    env = {
        **os.environ,
        "CREDIT_SCORING_ENV": "dev",
        "CREDIT_SCORING_HOME": str(home),
        "DAGSTER_HOME": str(home / "dagster_home"),
        "FLINKS_BASE_URL": base_url,
        "TAKTILE_BASE_URL": base_url,
        "CREDIT_SCORING_APPLICATIONS": str(REPO_ROOT / "data" / "applications.csv"),
    }
    env.update(extra)
    return env


def dagster_materialize(select: str, *partitions: str) -> list[str]:
    """``dagster asset materialize`` of ``select`` on the code location, as an operator types it.

    ``partitions`` is ``("--partition", day)`` or ``("--partition-range", "A...B")``.
    """
    return [
        sys.executable,
        "-m",
        "dagster",
        "asset",
        "materialize",
        "-m",
        "credit_scoring.definitions",
        "--select",
        select,
        *partitions,
    ]


def start_pipeline(
    home: Path,
    base_url: str,
    *,
    start: str,
    end: str | None = None,
    groups: tuple[str, ...] | None = INGESTION_GROUPS,
    **extra_env: str,
) -> subprocess.Popen:
    """Start ``python -m devtools.runner`` in its own session (kill it by group)."""
    target = ["--partition", start] if end in (None, start) else ["--range", f"{start}...{end}"]
    selection = [arg for group in groups or () for arg in ("--select", group)]
    return subprocess.Popen(
        [sys.executable, "-m", "devtools.runner", *target, *selection],
        env=pipeline_env(home, base_url, **extra_env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        cwd=REPO_ROOT,
    )


def run_pipeline(home: Path, base_url: str, *, timeout: float = 600, **kwargs) -> tuple[int, str]:
    """Run to completion; returns (return code, combined output)."""
    process = start_pipeline(home, base_url, **kwargs)
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(process.pid)
        output, _ = process.communicate()
        raise AssertionError(
            f"pipeline run timed out after {timeout}s:\n{output[-4000:]}"
        ) from None
    # A run killed mid-dbt can leave its dbt child orphaned: a dead machine leaves nothing.
    _kill_group(process.pid)
    return process.returncode, output


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, 9)


def snapshot(
    home: Path, days: list[str], ledger_url: str | None = None, lake_url: str | None = None
) -> dict[str, pd.DataFrame]:
    """Everything that must be equal between a disturbed run and an undisturbed one (the
    ledger at ``ledger_url`` and the lake at ``lake_url``, by default under ``home``)."""
    store = LakeStore(lake_url or home / "lake")
    ledger = Ledger(ledger_url or f"sqlite:///{home / 'ledger.sqlite'}")
    silver = store.read(table_for("silver/transactions"), days)
    rejected = store.read(table_for("silver/rejected_transactions"), days)
    accounts = store.read(table_for("silver/accounts"), days)
    apps = ledger.application_statuses(days)
    return {
        "silver": _sorted(silver.loc[:, SILVER_COMPARE], ["application_id", "transaction_id"]),
        "rejected": _sorted(
            rejected.loc[
                :, ["application_id", "transaction_id", "rule", "account_id", "content_hash"]
            ],
            ["application_id", "account_id", "content_hash", "rule"],
        ),
        "accounts": _sorted(
            accounts.loc[
                :, ["application_id", "account_id", "category", "type", "account_number_masked"]
            ],
            ["application_id", "account_id"],
        ),
        "ledger": _sorted(ledger.transaction_keys(days), ["application_id", "transaction_id"]),
        "applications": _sorted(
            apps.loc[
                :, ["partition_date", "application_id", "status", "error_code", "transactions"]
            ],
            ["application_id"],
        ),
    }


def decided_tables(store: LakeStore, days: list[str]) -> dict[str, pd.DataFrame]:
    """The dbt features and the stored decisions of ``days`` in the lake, sorted."""
    features = store.read(table_for("applicant_features"), days)
    decisions = store.read(table_for("scoring/credit_decisions"), days).loc[:, DECISION_COMPARE]
    if not features.empty:
        features = _sorted(features, ["application_id"])
    return {"features": features, "decisions": _sorted(decisions, ["application_id"])}


def whole_graph_snapshot(
    home: Path, days: list[str], ledger_url: str | None = None, lake_url: str | None = None
) -> dict[str, pd.DataFrame]:
    """:func:`snapshot` plus the dbt features and the stored decisions."""
    store = LakeStore(lake_url or home / "lake")
    return {**snapshot(home, days, ledger_url, lake_url), **decided_tables(store, days)}


def assert_same_state(actual: dict[str, pd.DataFrame], expected: dict[str, pd.DataFrame]) -> None:
    for name, frame in expected.items():
        pd.testing.assert_frame_equal(actual[name], frame, check_dtype=False, obj=name)


#: The keys that identify one row of each snapshot frame.
ROW_KEYS = {
    "silver": ["application_id", "transaction_id"],
    "rejected": ["application_id", "account_id", "content_hash", "rule"],
    "accounts": ["application_id", "account_id"],
    "ledger": ["application_id", "transaction_id"],
    "applications": ["application_id"],
    "features": ["application_id"],
    "decisions": ["application_id"],
}


def lost_and_duplicated(
    actual: dict[str, pd.DataFrame], expected: dict[str, pd.DataFrame]
) -> tuple[int, int]:
    """Rows of ``expected`` missing from ``actual``, and rows ``actual`` holds twice (by key)."""
    lost = duplicated = 0
    for name, keys in ROW_KEYS.items():
        want, have = expected.get(name), actual.get(name)
        if want is None or want.empty:
            continue
        have = have if have is not None and not have.empty else want.iloc[0:0]
        duplicated += int(have.duplicated(keys).sum())
        merged = want.loc[:, keys].merge(
            have.loc[:, keys].drop_duplicates(), how="left", indicator=True
        )
        lost += int((merged["_merge"] == "left_only").sum())
    return lost, duplicated


def _sorted(frame: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    return frame.sort_values(by, na_position="first").reset_index(drop=True)
