"""Alembic's entry point for the ledger: migrations always run on a connection handed over by
:mod:`credit_scoring.ledger.upgrades`, inside its transaction (one migrator at a time)."""

from alembic import context

from credit_scoring.ledger.schema import metadata

connection = context.config.attributes["connection"]
# batch mode lets SQLite change tables it cannot ALTER in place (it recreates them)
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
