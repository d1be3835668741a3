"""The ``scoring_status`` ledger: exactly-once bookkeeping for every transaction of every
application (PENDING -> SENT -> SCORED or ERROR), on SQLite by default or any SQLAlchemy URL."""

from credit_scoring.ledger.ledger import Ledger, LockTimeout, RegisterResult
from credit_scoring.ledger.owners import new_owner_token, owner_is_dead
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

__all__ = [
    "APPLICATION_ROW",
    "ERROR",
    "FETCHED",
    "FETCHING",
    "PENDING",
    "SCORED",
    "SENT",
    "SILVERED",
    "Ledger",
    "LockTimeout",
    "RegisterResult",
    "new_owner_token",
    "owner_is_dead",
]
