"""Alembic migrations of the ledger database (``python -m credit_scoring.ledger upgrade``)."""
