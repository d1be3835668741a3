"""Rows a step spools to local Parquet files, so that a day's output is never in memory whole.

Silver standardises a day a slice of applications at a time. Each slice's rows are appended
here and let go; the step then hands the lake IO manager a :class:`Spooled` table instead of a
frame, and the IO manager streams each day's rows from the spool into the lake partition and
the ledger a batch at a time. On the benchmark's 2M-transaction day, silver held the whole
day's rows (about 800 MB in pandas, and a copy of them while they were concatenated) before
anything was written.

The spool is a folder the step owns (a temporary one, removed when the step ends): files are
only ever written and read by the process that made them, so nothing here is shared, locked or
atomic; the lake's own writes stay what they are.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from credit_scoring.lake.storage import COMPRESSION, ROWS_PER_BATCH, to_arrow
from credit_scoring.lake.tables import LakeTable


@dataclass(frozen=True)
class Spooled:
    """A lake table's rows, spooled by partition day: one file per day that has rows."""

    files: dict[str, Path]

    def days(self) -> set[str]:
        return set(self.files)

    def rows(self, day: str | None = None) -> int:
        """The rows of ``day``, or of every day, from the files' own metadata."""
        if day is None:
            paths = list(self.files.values())
        else:
            paths = [self.files[day]] if day in self.files else []
        return sum(pq.ParquetFile(path).metadata.num_rows for path in paths)

    def batches(self, day: str, columns: list[str] | None = None) -> Iterator[pa.RecordBatch]:
        """``day``'s rows, :data:`ROWS_PER_BATCH` at a time, in the order they were appended
        (none when the day has no rows)."""
        path = self.files.get(day)
        if path is None:
            return
        yield from pq.ParquetFile(path).iter_batches(batch_size=ROWS_PER_BATCH, columns=columns)

    def frames(self, day: str, columns: list[str]) -> Iterator[pd.DataFrame]:
        """:meth:`batches` of ``columns`` as pandas frames."""
        for batch in self.batches(day, columns):
            yield batch.to_pandas()


@dataclass
class Spool:
    """Appends rows of lake tables to one file per table and day under ``folder``."""

    folder: Path
    _writers: dict[tuple[str, str], pq.ParquetWriter] = field(default_factory=dict)
    _files: dict[str, dict[str, Path]] = field(default_factory=dict)

    def append(self, table: LakeTable, frame: pd.DataFrame) -> None:
        """Add ``frame``'s rows (conformed to the table's schema) to their days' files."""
        if frame.empty:
            return
        arrow = to_arrow(frame, table)
        dates = arrow.column("partition_date")
        days = pc.unique(dates).to_pylist()
        for day in days:
            part = arrow if len(days) == 1 else arrow.filter(pc.equal(dates, day))
            self._writer(table, str(day)).write_table(part, row_group_size=table.rows_per_group)

    def _writer(self, table: LakeTable, day: str) -> pq.ParquetWriter:
        key = (table.path, day)
        if key not in self._writers:
            path = self.folder / table.path.replace("/", "__") / f"{day}.parquet"
            path.parent.mkdir(parents=True, exist_ok=True)
            # the lake's compression and row groups: a day new to the lake takes the file as
            # it is (LakeStore.adopt) instead of decoding and encoding every row again
            self._writers[key] = pq.ParquetWriter(path, table.schema, compression=COMPRESSION)
            self._files.setdefault(table.path, {})[day] = path
        return self._writers[key]

    def close(self, table: LakeTable) -> Spooled:
        """Finish ``table``'s files and hand them over (no files when it had no rows)."""
        for (path, day), writer in list(self._writers.items()):
            if path == table.path:
                writer.close()
                del self._writers[(path, day)]
        return Spooled(dict(self._files.get(table.path, {})))
