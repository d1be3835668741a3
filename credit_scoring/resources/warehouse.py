"""The DuckDB warehouse as a resource, for checks and reports that read it."""

from __future__ import annotations

import dagster as dg
import duckdb
from pydantic import Field

from credit_scoring.warehouse import connect


class WarehouseResource(dg.ConfigurableResource):
    """Where the DuckDB warehouse file is; connections are opened per use and closed at once."""

    database: str = Field(description="Path of the DuckDB file (or a MotherDuck/remote URL)")

    def connect(self) -> duckdb.DuckDBPyConnection:
        """Use as ``with warehouse.connect() as connection:``; DuckDB allows one writer."""
        return connect(self.database)
