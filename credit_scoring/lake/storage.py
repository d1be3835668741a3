"""Reading and atomically writing partition files under the lake root (local or fsspec URL).

Layout: ``<root>/<asset path>/application_date=<YYYY-MM-DD>/data.parquet`` — hive style, so
DuckDB, dbt and Spark read a whole table with one glob and prune by partition.

Atomicity: locally the file is written next to its final name and renamed over it
(``os.replace`` is atomic on POSIX), so a reader — or a run killed mid-write — never sees a
half file. On object stores a single PUT is already atomic, so the file is written in place.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import Callable, Collection, Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import dagster as dg
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pydantic import Field
from upath import UPath

from credit_scoring.core.crashpoints import crash_point
from credit_scoring.core.locations import LOCAL_PROTOCOLS, upath
from credit_scoring.lake.tables import LakeTable

FILE_NAME = "data.parquet"
#: Rows :meth:`LakeStore.read_selected` reads at a time (at most one row group's worth).
ROWS_PER_READ = 1024
#: Rows a streaming reader or writer of the lake (and of silver's spool) handles at a time.
ROWS_PER_BATCH = 131_072
LARGE_TEXT = pd.ArrowDtype(pa.large_string())
#: The lake's Parquet compression (silver's spool writes it too, so its files are adopted as
#: they are).
COMPRESSION = "zstd"
#: Bytes copied at a time when a finished file is adopted into the lake.
COPY_BUFFER = 8 * 1024 * 1024
#: Arrow types read as pandas' nullable types, so a missing value does not change the type.
NULLABLE_TYPES = {
    pa.int8(): pd.Int8Dtype(),
    pa.int16(): pd.Int16Dtype(),
    pa.int32(): pd.Int32Dtype(),
    pa.int64(): pd.Int64Dtype(),
    pa.bool_(): pd.BooleanDtype(),
}


class LakeStore:
    """The lake under one root URL or path."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = upath(root)

    @property
    def is_local(self) -> bool:
        return self.root.protocol in LOCAL_PROTOCOLS

    def partition_file(self, table: LakeTable, day: str) -> UPath:
        return self.root / table.path / f"application_date={day}" / FILE_NAME

    def glob(self, table: LakeTable) -> str:
        """The glob dbt/DuckDB use to read every partition of ``table``."""
        return str(self.root / table.path / "application_date=*" / FILE_NAME)

    def exists(self, table: LakeTable, day: str) -> bool:
        return self.partition_file(table, day).exists()

    def file_stamp(self, table: LakeTable, day: str) -> list[Any] | None:
        """The partition file's version without reading it: its size and modification time in
        nanoseconds (:meth:`write_arrow` sets it from the precise clock, as the kernel's own
        file times only advance every few milliseconds), or an object store's ETag; None when
        there is no file. Every write replaces the file, so every write changes its stamp."""
        path = self.partition_file(table, day)
        try:
            if self.is_local:
                stat = os.stat(path.path)
                return [stat.st_size, stat.st_mtime_ns]
            info = path.fs.info(path.path)
        except FileNotFoundError:
            return None
        return [info.get("size"), str(info.get("ETag") or info.get("LastModified"))]

    def read(
        self,
        table: LakeTable,
        days: Iterable[str],
        columns: list[str] | None = None,
        *,
        payloads_in_arrow: bool = False,
        applications: Collection[str] | None = None,
    ) -> pd.DataFrame:
        """Rows of ``days`` (missing partitions are empty), typed by the table's schema.

        ``payloads_in_arrow``: keep ``large_string`` columns (raw API payloads) in their Arrow
        buffers rather than as Python strings, which cost 600 MB per 500k transactions' worth
        of payloads, for readers that only hand them to DuckDB.
        ``applications``: only these applications' rows (see :meth:`read_arrow`).
        """
        arrow = self.read_arrow(table, days, columns, applications=applications)
        if table.schema is None:
            # dbt's models: integers and booleans keep their type when a value is missing (an
            # integer feature must not become 3.0 because another row lacks it), as DuckDB does
            return arrow.to_pandas(types_mapper=NULLABLE_TYPES.get)
        if not payloads_in_arrow:
            return arrow.to_pandas()
        return arrow.to_pandas(types_mapper={pa.large_string(): LARGE_TEXT}.get)

    def read_arrow(
        self,
        table: LakeTable,
        days: Iterable[str],
        columns: list[str] | None = None,
        *,
        applications: Collection[str] | None = None,
    ) -> pa.Table:
        """:meth:`read` as an Arrow table: for DuckDB, without a pandas copy of every string.

        A table dbt writes (no declared schema) is read with its files' own schema; with no
        file at all it has no columns. ``applications``: only these applications' rows,
        filtered while reading (a day's other rows are never converted, nor held in memory);
        none at all when it is empty.
        """
        tables = []
        if applications is not None and not applications:
            days = []
        only = None if applications is None else [("application_id", "in", sorted(applications))]
        for day in days:
            path = self.partition_file(table, day)
            if path.exists():
                tables.append(
                    pq.read_table(
                        path.path,
                        filesystem=path.fs,
                        columns=columns,
                        schema=table.schema,
                        filters=only,
                    )
                )
        if tables:
            return pa.concat_tables(tables, promote_options="default")
        if table.schema is None:
            return pa.table({})
        if columns is None:
            return table.schema.empty_table()
        return pa.schema([table.schema.field(c) for c in columns]).empty_table()

    def read_selected(
        self, table: LakeTable, days: Iterable[str], column: str, values: Collection[str]
    ) -> pd.DataFrame:
        """The rows of ``days`` whose ``column`` is one of ``values``, with :meth:`read`'s
        ``payloads_in_arrow``.

        The files are read a row group at a time and each group filtered as it is read, so only
        the selected rows are held, with one group beyond them: selecting a day's latest
        responses by id once held every payload of the day, and several copies of them. A row
        group none of whose ``column`` values is selected is never read beyond that column (a
        re-run selecting nothing reads no payload at all).
        """
        wanted = pa.array(sorted(values), pa.string())
        kept = [
            chosen
            for day in days
            for batch in self._selected_groups(table, day, column, wanted)
            if (chosen := batch.filter(pc.is_in(batch.column(column), value_set=wanted))).num_rows
        ]
        arrow = pa.Table.from_batches(kept, schema=table.schema)
        return arrow.to_pandas(types_mapper={pa.large_string(): LARGE_TEXT}.get)

    def _selected_groups(
        self, table: LakeTable, day: str, column: str, wanted: pa.Array
    ) -> Iterator[pa.RecordBatch]:
        """Every column of the partition's row groups holding one of ``wanted`` in ``column``,
        :data:`ROWS_PER_READ` rows at a time."""
        path = self.partition_file(table, day)
        if len(wanted) == 0 or not path.exists():
            return
        with path.open("rb") as handle:
            reader = pq.ParquetFile(handle, pre_buffer=False)
            for group in range(reader.num_row_groups):
                keys = reader.read_row_group(group, columns=[column]).column(column)
                if pc.any(pc.is_in(keys, value_set=wanted)).as_py():
                    yield from reader.iter_batches(
                        batch_size=ROWS_PER_READ, row_groups=[group], columns=table.schema.names
                    )

    def iter_batches(
        self, table: LakeTable, day: str, columns: list[str], rows: int
    ) -> Iterator[pa.RecordBatch]:
        """The partition's rows, ``rows`` at a time (none when there is no file): a reader
        holds one batch of a day's payloads at once, not the day's."""
        path = self.partition_file(table, day)
        if not path.exists():
            return
        with path.open("rb") as handle:
            # without pre-buffering: it reads ahead across row groups, and held about twice a
            # 2M-transaction day's bronze payloads while a reader wanted one group of them
            reader = pq.ParquetFile(handle, pre_buffer=False)
            yield from reader.iter_batches(batch_size=rows, columns=columns)

    def batch_reader(self, table: LakeTable, day: str, columns: list[str]) -> pa.RecordBatchReader:
        """:meth:`iter_batches` of ``columns``, :data:`ROWS_PER_BATCH` at a time, as a reader
        DuckDB consumes as it goes (no batches when there is no file)."""
        schema = pa.schema([table.schema.field(column) for column in columns])
        return pa.RecordBatchReader.from_batches(
            schema, self.iter_batches(table, day, columns, ROWS_PER_BATCH)
        )

    def sweep_temporaries(self, table: LakeTable, day: str) -> int:
        """Delete temporary files a killed writer left in the partition; returns how many.

        Only call it while holding the partition's lock: then no live writer is mid-write, so
        every temporary file there belongs to a dead one. Readers never see them either way
        (they read ``data.parquet`` only); this keeps the lake tidy for people who look.
        """
        if not self.is_local:
            return 0
        folder = self.partition_file(table, day).parent
        if not folder.exists():
            return 0
        leftovers = list(folder.glob(f".{FILE_NAME}.*.tmp"))
        for path in leftovers:
            path.unlink(missing_ok=True)
        return len(leftovers)

    def write(self, table: LakeTable, day: str, frame: pd.DataFrame) -> int:
        """Replace the partition's file with ``frame`` atomically; returns bytes written."""
        return self.write_arrow(table, day, to_arrow(frame, table))

    def write_arrow(self, table: LakeTable, day: str, arrow: pa.Table) -> int:
        """Replace the partition's file with ``arrow`` atomically; returns bytes written."""
        return self.write_batches(table, day, arrow.schema, [arrow])

    def write_batches(
        self,
        table: LakeTable,
        day: str,
        schema: pa.Schema,
        parts: Iterable[pa.Table | pa.RecordBatch],
    ) -> int:
        """Replace the partition's file with ``parts``, in order, atomically; returns bytes
        written. Each part is written as it comes, so a caller streaming a large partition
        from another file holds one part at a time, never the partition."""
        return self._replace(
            table, day, lambda where: _write_parquet(where, schema, parts, table.rows_per_group)
        )

    def adopt(self, table: LakeTable, day: str, source: Path, schema: pa.Schema) -> int:
        """Replace the partition's file with a copy of ``source``, a finished Parquet file of
        ``schema`` written with :data:`COMPRESSION` (silver's spool), atomically; returns
        bytes written. Its bytes are copied as they are: decoding and
        encoding a 2M-transaction day's rows again took 2.2 s, the copy 0.05 s."""
        if not adoptable(source, schema):
            raise ValueError(
                f"{source} is not a {COMPRESSION} Parquet file of {table.path}'s columns: "
                "not adopted (write its rows with write_batches)"
            )

        def copy(where: str | BinaryIO) -> None:
            with open(source, "rb") as file:
                if isinstance(where, str):
                    with open(where, "wb") as target:
                        shutil.copyfileobj(file, target, COPY_BUFFER)
                else:
                    shutil.copyfileobj(file, where, COPY_BUFFER)

        return self._replace(table, day, copy)

    def _replace(self, table: LakeTable, day: str, write: Callable[[str | BinaryIO], None]) -> int:
        """Replace the partition's file with what ``write`` writes (to a local path, or to an
        object store's open file), atomically; returns the file's bytes."""
        target = self.partition_file(table, day)
        target.parent.mkdir(parents=True, exist_ok=True)
        if self.is_local:
            temporary = target.parent / f".{FILE_NAME}.{uuid.uuid4().hex}.tmp"
            try:
                write(temporary.path)
                written_at = time.time_ns()
                os.utime(temporary.path, ns=(written_at, written_at))
                with open(temporary.path, "rb+") as handle:
                    os.fsync(handle.fileno())
                crash_point("lake.temp_written", table.path)
                os.replace(temporary.path, target.path)
            finally:
                if temporary.exists():
                    temporary.unlink()
        else:
            with target.open("wb") as handle:
                write(handle)
        return target.stat().st_size

    def has_partitions(self, table: LakeTable) -> bool:
        """Whether at least one partition file of ``table`` exists (a glob over none fails)."""
        folder = self.root / table.path
        return folder.exists() and any(folder.glob(f"application_date=*/{FILE_NAME}"))


class LakeResource(dg.ConfigurableResource):
    """Where the Parquet lake lives: a local path, or an fsspec URL (s3://bucket/prefix)."""

    root: str = Field(description="Lake root path or URL")
    catalogue: str | None = Field(
        default=None,
        description="A DuckDB file that gets a view over each lake table (local lakes only)",
    )

    def store(self) -> LakeStore:
        return LakeStore(self.root)


def adoptable(source: Path, schema: pa.Schema) -> bool:
    """Whether ``source`` holds exactly ``schema`` (nullability included), every column chunk
    written with the lake's :data:`COMPRESSION`: a file :meth:`LakeStore.adopt` may take as it
    is. Read from the file's footer only."""
    metadata = pq.ParquetFile(source).metadata
    if not metadata.schema.to_arrow_schema().equals(schema):
        return False
    return all(
        metadata.row_group(group).column(column).compression == COMPRESSION.upper()
        for group in range(metadata.num_row_groups)
        for column in range(metadata.num_columns)
    )


def _write_parquet(
    where: str | BinaryIO,
    schema: pa.Schema,
    parts: Iterable[pa.Table | pa.RecordBatch],
    rows_per_group: int | None,
) -> None:
    with pq.ParquetWriter(where, schema, compression=COMPRESSION) as writer:
        for part in parts:
            writer.write(part, row_group_size=rows_per_group)


def to_arrow(frame: pd.DataFrame, table: LakeTable) -> pa.Table:
    """Conform a frame to the table's schema (column order, types).

    A frame lacking one of the table's columns is refused; columns the table does not hold are
    not written.
    """
    if table.schema is None:
        raise ValueError(f"{table.path}: dbt writes this table; it has no declared schema")
    missing = [name for name in table.schema.names if name not in frame.columns]
    if missing:
        raise ValueError(f"{table.path}: frame lacks column(s) {missing}")
    conformed = (
        frame if list(frame.columns) == table.schema.names else frame.loc[:, table.schema.names]
    )
    return pa.Table.from_pandas(conformed, schema=table.schema, preserve_index=False)
