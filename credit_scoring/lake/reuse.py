"""Reusing a step's result while nothing it was computed from has changed.

Re-running a finished day would otherwise redo the run's most expensive reading for nothing:
the reconciliation unnests the day's bronze again, dbt rebuilds the features from the same
silver rows. Such a step describes its inputs as a digest — the stamps of the lake files it
reads (size and modification time, or an object store's ETag: every write replaces a file, so
every write changes its stamp), whatever else it reads summarised, and the version of its own
logic — and keeps its result beside that digest once it has succeeded. An identical digest the
next time means the same inputs and the same code: the kept result is reported again, with the
time it was computed.

Memos are small JSON files under the lake root (``_reuse/<step>/<key>.json``), so every machine
of a deployment shares them. One is written only after its result, so a run killed before
simply recomputes; an unreadable memo is no memo.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

from upath import UPath

from credit_scoring.lake.storage import LakeStore
from credit_scoring.lake.tables import LakeTable


def digest(inputs: Any) -> str:
    """One digest of a JSON-able description of inputs (key order does not matter)."""
    return hashlib.sha256(json.dumps(inputs, sort_keys=True, default=str).encode()).hexdigest()


def file_stamps(store: LakeStore, tables: list[LakeTable], days: list[str]) -> dict[str, Any]:
    """Each table's partition file stamp per day (None where there is no file)."""
    return {table.path: {day: store.file_stamp(table, day) for day in days} for table in tables}


class Recalled(NamedTuple):
    """A kept result whose inputs match, and when it was computed."""

    result: dict[str, Any]
    computed_at: str


@dataclass(frozen=True)
class Memo:
    """The kept result of one step for one key (a day, a window)."""

    store: LakeStore
    step: str
    key: str

    @property
    def path(self) -> UPath:
        return self.store.root / "_reuse" / self.step / f"{self.key}.json"

    def recall(self, inputs: str) -> Recalled | None:
        """The result kept for exactly these inputs, if any."""
        try:
            memo = json.loads(self.path.read_text())
            if memo["inputs"] == inputs:
                return Recalled(dict(memo["result"]), str(memo["computed_at"]))
        except (OSError, ValueError, KeyError, TypeError):
            pass
        return None

    def keep(self, inputs: str, result: dict[str, Any]) -> None:
        """Keep ``result`` as computed now from ``inputs`` (replacing any earlier one)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        computed_at = datetime.now(UTC).isoformat()
        self.path.write_text(
            json.dumps({"inputs": inputs, "computed_at": computed_at, "result": result})
        )
