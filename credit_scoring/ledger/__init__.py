"""The ``scoring_status`` ledger: exactly-once bookkeeping for every transaction of every
application (PENDING -> SENT -> SCORED or ERROR), on SQLite by default or PostgreSQL.

One module per concern, one class to call them through:

- ``fetch_leases``: which run fetches which application; retryable and terminal failures;
- ``registration``: silver's transactions registered exactly once, under their application;
- ``decision_claims``: PENDING -> SENT -> SCORED / ERROR, compare-and-set on a claim token;
- ``queries``: counts, one row per application, a day's keys, stuck work;
- ``schema`` and ``migrations``: the tables, changed only through Alembic (``upgrades``).
"""

from __future__ import annotations

from credit_scoring.core.settings import DEFAULT_FETCH_ATTEMPTS
from credit_scoring.ledger.decision_claims import STALE_SENT_AFTER, DecisionClaims
from credit_scoring.ledger.engine import get_engine
from credit_scoring.ledger.fetch_leases import OUTCOME_COLUMNS, RUN_FAILED, FetchLeases
from credit_scoring.ledger.owners import new_owner_token, owner_is_dead
from credit_scoring.ledger.queries import Queries
from credit_scoring.ledger.registration import (
    ARRIVED_AFTER_DECISION,
    RegisterResult,
    Registration,
)
from credit_scoring.ledger.schema import (
    APPLICATION_ROW,
    ERROR,
    FETCHED,
    FETCHING,
    PENDING,
    SCORED,
    SENT,
    SILVERED,
)
from credit_scoring.ledger.upgrades import LedgerSchemaError


class Ledger(FetchLeases, Registration, DecisionClaims, Queries):
    """The ledger database behind one SQLAlchemy URL.

    Every method is one database transaction and a bounded number of statements whatever the
    number of transactions involved (bulk insert-or-ignore, UPDATE ... WHERE status =
    expected); nothing issues one query per transaction. The same SQL runs on SQLite and
    PostgreSQL.
    """

    def __init__(self, url: str, *, fetch_attempts: int = DEFAULT_FETCH_ATTEMPTS) -> None:
        self.url = url
        self.engine = get_engine(url)
        self.fetch_attempts = fetch_attempts


__all__ = [
    "APPLICATION_ROW",
    "ARRIVED_AFTER_DECISION",
    "ERROR",
    "FETCHED",
    "FETCHING",
    "OUTCOME_COLUMNS",
    "PENDING",
    "RUN_FAILED",
    "SCORED",
    "SENT",
    "SILVERED",
    "STALE_SENT_AFTER",
    "Ledger",
    "LedgerSchemaError",
    "RegisterResult",
    "new_owner_token",
    "owner_is_dead",
]
