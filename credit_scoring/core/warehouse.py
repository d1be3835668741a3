"""The DuckDB warehouse: opened the one way every part of the code location does, and bound as
a resource for the checks and reports that read it.

DuckDB refuses a second connection to the same file in one process with a different
configuration, so this matches dagster-duckdb's own (read-write, ``custom_user_agent``); and it
waits (bounded) when another process holds the file's write lock.
"""

from __future__ import annotations

import dagster as dg
import duckdb
import stamina
from pydantic import Field

CONNECTION_CONFIG = {"custom_user_agent": "dagster"}


def _locked(exc: Exception) -> bool:
    return isinstance(exc, duckdb.IOException) and "lock" in str(exc).lower()


@stamina.retry(on=_locked, attempts=30, timeout=300, wait_initial=0.2, wait_max=3.0)
def connect(database: str) -> duckdb.DuckDBPyConnection:
    """A read-write connection to the warehouse; close it promptly (one writer per file)."""
    return duckdb.connect(database, read_only=False, config=CONNECTION_CONFIG)


class WarehouseResource(dg.ConfigurableResource):
    """Where the DuckDB warehouse file is; connections are opened per use and closed at once."""

    database: str = Field(description="Path of the DuckDB file")

    def connect(self) -> duckdb.DuckDBPyConnection:
        """Use as ``with warehouse.connect() as connection:``; DuckDB allows one writer."""
        return connect(self.database)
