"""Publishing dbt's models to the lake: the window a dbt step exported, one file per day.

dbt computes in memory and exports each published model's window to a temporary folder
(``macros/export_window.sql``); this writes it to ``<lake>/<model>/application_date=<day>/``
with the lake's own atomic writes, under each partition's lock, once the whole dbt build has
passed. Every day of the window gets its file, an empty one for a day without rows, so that a
day rebuilt with fewer rows never keeps stale ones and readers always find the day.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import sqlalchemy as sa

from credit_scoring.lake.locks import partition_lock
from credit_scoring.lake.storage import LakeStore
from credit_scoring.lake.tables import DBT_MODEL_TABLES, LakeTable


def exported_models(folder: Path) -> dict[LakeTable, Path]:
    """The published models dbt exported into ``folder``; an unknown one is an error (a model
    that exports must be declared in :data:`DBT_MODEL_TABLES`)."""
    found = {}
    for path in sorted(folder.glob("*.parquet")):
        if path.stem not in DBT_MODEL_TABLES:
            raise ValueError(
                f"dbt exported {path.stem!r}, which is not a lake table: add it to "
                "DBT_MODEL_TABLES in credit_scoring/lake/tables.py"
            )
        found[DBT_MODEL_TABLES[path.stem]] = path
    return found


def day_slices(exported: pa.Table, days: Sequence[str]) -> dict[str, pa.Table]:
    """The exported window split by ``application_date``, every one of ``days`` present; rows of
    any other day are an error (the export covers exactly the run's window)."""
    dates = exported.column("application_date")
    wanted = {day: pa.scalar(date.fromisoformat(day), pa.date32()) for day in days}
    slices = {day: exported.filter(pc.equal(dates, value)) for day, value in wanted.items()}
    stray = exported.num_rows - sum(part.num_rows for part in slices.values())
    if stray:
        raise ValueError(f"{stray} exported row(s) fall outside the run's days {list(days)}")
    return slices


@dataclass(frozen=True)
class Published:
    """One model's window as written to the lake: its rows and its columns."""

    rows: int
    schema: pa.Schema


def publish(
    store: LakeStore, engine: sa.Engine, folder: Path, days: Sequence[str]
) -> dict[str, Published]:
    """Write every model exported into ``folder`` to the lake; returns each model's rows and
    schema, by model name."""
    published = {}
    for table, path in exported_models(folder).items():
        exported = pq.read_table(path)
        for day, part in day_slices(exported, days).items():
            with partition_lock(engine, f"{table.path}/{day}"):
                store.sweep_temporaries(table, day)
                store.write_arrow(table, day, part)
        published[table.path] = Published(exported.num_rows, exported.schema)
    return published
