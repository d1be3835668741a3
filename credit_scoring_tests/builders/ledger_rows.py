"""Ledger rows for the ledger's tests: applications and their transactions of one day,
registered as silver registers them."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pandas as pd

from credit_scoring.ledger import Ledger, RegisterResult

DAY = "2026-10-05"


def apps(*ids: str, day: str = DAY) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "application_id": list(ids),
            "login_id": [f"login-{i}" for i in ids],
            "partition_date": [day] * len(ids),
        }
    )


def txs(app: str, n: int, day: str = DAY) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "application_id": [app] * n,
            "transaction_id": [f"{app}-t{i}" for i in range(n)],
            "partition_date": [day] * n,
        }
    )


def register(ledger: Ledger, day: str = DAY, **counts: int) -> RegisterResult:
    """Register applications (``A=3``: application A with three transactions) on ``day``."""
    frames = [txs(app, n, day) for app, n in counts.items()]
    return ledger.register_transactions(
        pd.concat(frames, ignore_index=True), apps(*counts, day=day)
    )


def forget_one_transaction(ledger_file: Path, day: str) -> int:
    """Delete one registered transaction of ``day`` from a SQLite ledger, as a lost write would:
    the reconciliation must notice. Returns the rows deleted (1 when the day had any)."""
    with sqlite3.connect(ledger_file) as conn:
        return conn.execute(
            "delete from application_transactions where (application_id, transaction_id) = "
            "(select application_id, transaction_id from transaction_status "
            "where partition_date = ? order by application_id, transaction_id limit 1)",
            (day,),
        ).rowcount
