"""The ledger as a Dagster resource (SQLite under CREDIT_SCORING_HOME, or any SQLAlchemy URL)."""

from __future__ import annotations

import dagster as dg
from pydantic import Field

from credit_scoring.core.settings import DEFAULT_FETCH_ATTEMPTS
from credit_scoring.ledger import Ledger


class LedgerResource(dg.ConfigurableResource):
    """Where the ``scoring_status`` ledger lives."""

    url: str = Field(
        description="SQLAlchemy URL, e.g. sqlite:////abs/ledger.sqlite or "
        "postgresql+psycopg://user@host/db"
    )

    fetch_attempts: int = Field(
        default=DEFAULT_FETCH_ATTEMPTS,
        description="Runs that may fetch one application before a transient failure is final "
        "(CREDIT_SCORING_FETCH_ATTEMPTS)",
    )

    def get(self) -> Ledger:
        return Ledger(self.url, fetch_attempts=self.fetch_attempts)
