"""Publishing dbt's models to the lake: the window a dbt step exported, one file per day.

dbt computes in memory and exports each published model's window to a temporary folder
(``macros/export_window.sql``): ``<model>.parquet``, which holds no rows and gives the model's
columns, and ``<model>/application_date=<day>/*.parquet``, the window's rows by day. This writes
each day to ``<lake>/<model>/application_date=<day>/`` with the lake's own atomic writes, under
the partition's lock, once the whole dbt build has passed. Every day of the window gets its
file, an empty one for a day without rows, so that a day rebuilt with fewer rows never keeps
stale ones and readers always find the day.

A day is streamed from dbt's files to the lake a batch at a time: publishing a 2M-transaction
day's categorized transactions once held the whole window, and a copy of each day, in memory
(830 MB), where it now holds a batch.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import sqlalchemy as sa

from credit_scoring.lake.locks import partition_lock
from credit_scoring.lake.storage import ROWS_PER_BATCH, LakeStore
from credit_scoring.lake.tables import DBT_MODEL_TABLES, LakeTable

PARTITION = "application_date"


def exported_models(folder: Path) -> dict[LakeTable, Path]:
    """The published models dbt exported into ``folder`` (by their columns file,
    ``<model>.parquet``); an unknown one is an error (a model that exports must be declared in
    :data:`DBT_MODEL_TABLES`)."""
    found = {}
    for path in sorted(folder.glob("*.parquet")):
        if path.stem not in DBT_MODEL_TABLES:
            raise ValueError(
                f"dbt exported {path.stem!r}, which is not a lake table: add it to "
                "DBT_MODEL_TABLES in credit_scoring/lake/tables.py"
            )
        found[DBT_MODEL_TABLES[path.stem]] = path
    return found


def exported_days(folder: Path, model: str, days: Sequence[str]) -> dict[str, list[Path]]:
    """The files of each of ``days`` in the model's export (none for a day without rows); a
    day outside ``days`` is an error (the export covers exactly the run's window)."""
    files: dict[str, list[Path]] = {day: [] for day in days}
    stray = set()
    for path in sorted((folder / model).glob(f"{PARTITION}=*/*.parquet")):
        day = path.parent.name.partition("=")[2]
        if day in files:
            files[day].append(path)
        else:
            stray.add(day)
    if stray:
        raise ValueError(
            f"dbt exported {model} rows of {sorted(stray)}, outside the run's days {list(days)}"
        )
    return files


def batches(files: Sequence[Path], schema: pa.Schema) -> Iterator[pa.RecordBatch]:
    """The rows of ``files`` a batch at a time, as ``schema`` (DuckDB may mark a column NOT
    NULL in one file and not in another)."""
    for path in files:
        for batch in pq.ParquetFile(path).iter_batches(batch_size=ROWS_PER_BATCH):
            yield batch if batch.schema.equals(schema) else batch.cast(schema)


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
    for table, columns_file in exported_models(folder).items():
        schema = pq.read_schema(columns_file)
        rows = 0
        for day, files in exported_days(folder, columns_file.stem, days).items():
            rows += sum(pq.ParquetFile(path).metadata.num_rows for path in files)
            with partition_lock(engine, f"{table.path}/{day}"):
                store.sweep_temporaries(table, day)
                store.write_batches(table, day, schema, batches(files, schema))
        published[table.path] = Published(rows, schema)
    return published
