"""Ledger migrations (Alembic), on SQLite and PostgreSQL: an empty ledger is created at head on
first use, exactly as the code describes it; one from
before migrations is refused until `ledger upgrade`, which upgrades it in place, after which it
reconciles with its lake and keeps its fetch errors' retry verdicts."""

from __future__ import annotations

import io
import multiprocessing
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from credit_scoring.core.settings import REPO_ROOT
from credit_scoring.ledger import Ledger, LedgerSchemaError, new_owner_token
from credit_scoring.ledger.engine import dispose_engines
from credit_scoring.ledger.schema import metadata
from credit_scoring.ledger.upgrades import head_revision

BEFORE_MIGRATIONS = Path(__file__).parents[1] / "fixtures" / "ledger_before_migrations"
DAYS = ["2026-10-05", "2026-10-06"]


def ledger_cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "credit_scoring.ledger", *args],
        env={**os.environ, "CREDIT_SCORING_HOME": str(home)},
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def old_home(tmp_path) -> Path:
    """A copy of the state directory written before migrations existed."""
    home = tmp_path / "home"
    shutil.copytree(BEFORE_MIGRATIONS, home, ignore=shutil.ignore_patterns("README.md"))
    yield home
    dispose_engines()


def revision_of(path: Path) -> str | None:
    with sqlite3.connect(path) as connection:
        tables = {row[0] for row in connection.execute("select name from sqlite_master")}
        if "alembic_version" not in tables:
            return None
        return connection.execute("select version_num from alembic_version").fetchone()[0]


def test_a_ledger_from_before_migrations_is_refused_with_the_command_that_upgrades_it(old_home):
    refused = ledger_cli(old_home, "status")

    assert refused.returncode == 2
    (line,) = refused.stderr.strip().splitlines()
    assert "from before migrations" in line
    assert "python -m credit_scoring.ledger upgrade" in line
    assert revision_of(old_home / "ledger.sqlite") is None  # refusing changed nothing


def test_upgrade_migrates_it_in_place_and_it_then_reconciles(old_home):
    before = ledger_cli(old_home, "--help")  # the CLI itself loads without a ledger
    assert before.returncode == 0

    upgraded = ledger_cli(old_home, "upgrade")

    assert upgraded.returncode == 0, upgraded.stderr
    assert f"-> revision {head_revision()}" in upgraded.stdout
    assert revision_of(old_home / "ledger.sqlite") == head_revision()
    again = ledger_cli(old_home, "upgrade")
    assert "already at revision" in again.stdout
    reconciled = ledger_cli(old_home, "reconcile", *(f"--partition={d}" for d in DAYS))
    assert reconciled.returncode == 0, reconciled.stdout + reconciled.stderr
    assert reconciled.stdout.count(": OK") == 2
    status = ledger_cli(old_home, "status", "--json")
    assert status.returncode == 0
    counts = pd.read_json(io.StringIO(status.stdout))
    assert counts.groupby("status")["applications"].sum().to_dict() == {
        "ERROR": 5,
        "PENDING": 5,
        "SCORED": 2,
    }


def test_upgraded_fetch_errors_keep_their_retry_verdict(old_home):
    assert ledger_cli(old_home, "upgrade").returncode == 0
    ledger = Ledger(f"sqlite:///{old_home / 'ledger.sqlite'}")

    leases = ledger.ingestion_states(DAYS).set_index("application_id")
    errors = leases.loc[leases["state"] == "ERROR", ["error_code", "retryable"]]
    assert errors.to_dict("index") == {
        "APP-20261005-0002": {"error_code": "DISABLED_LOGIN", "retryable": False},
        "APP-20261006-0001": {"error_code": "INTERNAL_ERROR", "retryable": True},
    }
    # the next run retries only the transient failure
    applications = leases.reset_index().loc[:, ["application_id", "login_id", "partition_date"]]
    assert ledger.claim_fetch(applications, owner=new_owner_token("fetch")) == ["APP-20261006-0001"]


def test_the_upgraded_schema_is_the_one_the_code_describes(old_home, tmp_path):
    assert ledger_cli(old_home, "upgrade").returncode == 0
    fresh = Ledger(f"sqlite:///{tmp_path / 'fresh.sqlite'}")

    def shape(engine: sa.Engine) -> dict:
        inspector = sa.inspect(engine)
        return {
            table: (
                sorted(
                    (c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(table)
                ),
                sorted(i["name"] for i in inspector.get_indexes(table)),
            )
            for table in metadata.tables
        }

    upgraded = sa.create_engine(f"sqlite:///{old_home / 'ledger.sqlite'}")
    assert shape(upgraded) == shape(fresh.engine)
    upgraded.dispose()


def url_revision(url: str) -> str | None:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def test_an_empty_ledger_is_created_at_head_on_first_use(ledger_url):
    Ledger(ledger_url)
    assert url_revision(ledger_url) == head_revision()


def test_the_migrations_build_exactly_the_schema_the_code_describes(ledger_url):
    """Alembic's own comparison of the migrated database with the code's tables, on SQLite
    and PostgreSQL: a migration that forgot a column, an index or a type shows here."""
    engine = Ledger(ledger_url).engine
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
    assert differences == []


def _first_use(url: str, queue) -> None:
    Ledger(url)
    queue.put("ok")


def test_processes_starting_together_on_an_empty_ledger_take_turns_creating_it(ledger_url):
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    workers = [context.Process(target=_first_use, args=(ledger_url, queue)) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)

    assert [worker.exitcode for worker in workers] == [0, 0, 0, 0]
    assert [queue.get(timeout=5) for _ in workers] == ["ok"] * 4
    assert url_revision(ledger_url) == head_revision()


def test_a_ledger_at_an_older_revision_is_refused_on_first_use(ledger_url):
    Ledger(ledger_url)
    dispose_engines()
    engine = sa.create_engine(ledger_url)
    with engine.begin() as connection:
        connection.execute(sa.text("update alembic_version set version_num = '0001'"))
    engine.dispose()

    with pytest.raises(
        LedgerSchemaError, match=r"at revision 0001 .* run `python -m credit_scoring"
    ):
        Ledger(ledger_url)


#: A day written by revision 0002, whose ``scoring_status`` kept a row per transaction: A was
#: decided (one of its transactions arrived after the decision), B waits, and C's transaction
#: lost its application row (registration never leaves one behind: the migration must not drop
#: the transaction either).
ROWS_AT_0002 = [
    ("A", "*", "SCORED", None, "d1"),
    ("A", "A-t0", "SCORED", None, "d1"),
    ("A", "A-t1", "SCORED", None, "d1"),
    ("A", "A-t2", "ERROR", "ARRIVED_AFTER_DECISION", None),
    ("B", "*", "PENDING", None, None),
    ("B", "B-t0", "PENDING", None, None),
    ("C", "C-t0", "SENT", None, None),
]


def test_transaction_rows_move_to_their_applications_and_keep_their_statuses(ledger_url):
    """0002 -> 0003 on SQLite and PostgreSQL: every transaction keeps its status (the late one
    its hold), the view and ``status`` count the same, and a downgrade puts the rows back."""
    from alembic import command

    from credit_scoring.ledger.upgrades import _config, upgrade

    engine = sa.create_engine(ledger_url)
    with engine.begin() as connection:
        command.upgrade(_config(connection), "0002")
        connection.execute(
            sa.text(
                "insert into scoring_status (application_id, transaction_id, partition_date, "
                "status, attempts, error_stage, error_code, decision_id, created_at, updated_at) "
                "values (:app, :tx, :day, :status, 1, :stage, :code, :decision, :now, :now)"
            ),
            [
                {
                    "app": app,
                    "tx": tx,
                    "day": DAYS[0],
                    "status": status,
                    "stage": "ingest" if code else None,
                    "code": code,
                    "decision": decision,
                    "now": "2026-10-05 12:00:00+00:00",
                }
                for app, tx, status, code, decision in ROWS_AT_0002
            ],
        )
    expected = {("A-t0", "SCORED"), ("A-t1", "SCORED"), ("A-t2", "ERROR")}
    expected |= {("B-t0", "PENDING"), ("C-t0", "SENT")}

    assert upgrade(engine).after == head_revision()

    ledger = Ledger(ledger_url)
    keys = ledger.transaction_keys(DAYS)
    assert set(zip(keys["transaction_id"], keys["status"], strict=True)) == expected
    counts = ledger.status_counts(DAYS).set_index("status")
    assert counts["transactions"].to_dict() == {"ERROR": 1, "PENDING": 1, "SCORED": 2, "SENT": 1}
    assert counts["applications"].to_dict() == {"ERROR": 0, "PENDING": 1, "SCORED": 1, "SENT": 1}
    with engine.connect() as connection:
        view = connection.execute(
            sa.text("select transaction_id, status, error_code from transaction_status")
        ).all()
    assert {(tx, status) for tx, status, _ in view} == expected
    assert {tx for tx, _, code in view if code == "ARRIVED_AFTER_DECISION"} == {"A-t2"}

    dispose_engines()
    with engine.begin() as connection:
        command.downgrade(_config(connection), "0002")
        restored = connection.execute(
            sa.text("select transaction_id, status from scoring_status where transaction_id <> '*'")
        ).all()
    assert set(restored) == expected
    engine.dispose()
