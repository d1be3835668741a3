"""Flinks v3 bank-data client: the only code that speaks HTTP to Flinks (or the mock)."""

from credit_scoring.flinks.client import FetchResult, FlinksClient
from credit_scoring.flinks.errors import (
    FlinksError,
    FlinksProtocolError,
    FlinksTerminalError,
    FlinksTransientError,
)
from credit_scoring.retrying import RetryPolicy

__all__ = [
    "FetchResult",
    "FlinksClient",
    "FlinksError",
    "FlinksProtocolError",
    "FlinksTerminalError",
    "FlinksTransientError",
    "RetryPolicy",
]
