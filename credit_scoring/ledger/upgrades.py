"""Bringing a ledger database to the schema this code needs, with Alembic.

- An empty database is migrated to the head revision on first use, automatically.
- A ledger created before migrations existed (its tables, no ``alembic_version``) is stamped at
  the first revision, which describes exactly those tables, then migrated: in place, by
  ``python -m credit_scoring.ledger upgrade``.
- A database at an older revision is never migrated behind an operator's back: first use
  refuses with a message naming the command, so that a lender backs the ledger up and upgrades
  deliberately.

Migrating runs inside one transaction that first takes the database's write lock (``BEGIN
IMMEDIATE`` on SQLite, an advisory lock on PostgreSQL): processes that start together on an
empty ledger take turns, and the second finds the work done.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

MIGRATIONS = Path(__file__).parent / "migrations"
#: The revision describing the tables of a ledger created before migrations existed.
BASELINE = "0001"
UPGRADE_COMMAND = "python -m credit_scoring.ledger upgrade"
#: Arbitrary, fixed key of the PostgreSQL advisory lock migrators take turns on.
_ADVISORY_LOCK_KEY = 4_2_1_7_0_0_1


class LedgerSchemaError(RuntimeError):
    """The ledger database is not at the revision this code needs; the message says what to do."""


@dataclass(frozen=True)
class Upgrade:
    """What :func:`upgrade` found and left."""

    before: str | None
    after: str
    baseline_stamped: bool


def _config(connection: sa.Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None, "the ledger has no migrations"
    return head


def current_revision(connection: sa.Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def _has_ledger_tables(connection: sa.Connection) -> bool:
    return sa.inspect(connection).has_table("scoring_status")


def _take_migration_lock(connection: sa.Connection) -> None:
    """SQLite's ``BEGIN IMMEDIATE`` (see :mod:`engine`) already serialises writers."""
    if connection.dialect.name == "postgresql":
        connection.execute(
            sa.text("select pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK_KEY}
        )


def describe(engine: sa.Engine) -> str:
    """The database's URL for messages, password hidden."""
    return engine.url.render_as_string(hide_password=True)


def ensure_current(engine: sa.Engine) -> None:
    """Create an empty ledger at head; accept one at head; refuse anything else, naming the fix."""
    head = head_revision()
    with engine.begin() as connection:
        _take_migration_lock(connection)
        revision = current_revision(connection)
        if revision == head:
            return
        if revision is None and not _has_ledger_tables(connection):
            command.upgrade(_config(connection), "head")
            return
    found = f"at revision {revision}" if revision else "from before migrations"
    raise LedgerSchemaError(
        f"the ledger {describe(engine)} is {found} and this code needs revision {head}: "
        f"back it up, then run `{UPGRADE_COMMAND}`"
    )


def upgrade(engine: sa.Engine) -> Upgrade:
    """Migrate the ledger to head in place (stamping a pre-migration ledger first)."""
    with engine.begin() as connection:
        _take_migration_lock(connection)
        before = current_revision(connection)
        config = _config(connection)
        stamped = before is None and _has_ledger_tables(connection)
        if stamped:
            command.stamp(config, BASELINE)
        command.upgrade(config, "head")
        after = current_revision(connection)
    assert after is not None
    return Upgrade(before=before, after=after, baseline_stamped=stamped)
