"""The reliability report: one row per scenario, gathered across test processes and printed once.

A reliability test measures its scenario (faults injected, how many were recovered, how many
ended as ERROR, rows lost, duplicates) and calls the ``reliability_report`` fixture with a
:class:`ScenarioFigures`. Rows are files in one directory per test session, so that
pytest-xdist workers can each write theirs and two sessions never mix; the controlling pytest
process prints the table at the end of the session and writes it as markdown and JSON, where
``make reliability`` shows it.
"""

from __future__ import annotations

import json
import shutil
import time
import uuid
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from credit_scoring.settings import REPO_ROOT

#: Where the rows and the printed table are kept (ignored by git, like every local state).
REPORT_DIR = REPO_ROOT / ".credit_scoring" / "reliability"
ROWS_DIR = REPORT_DIR / "rows"

HEADERS = {
    "scenario": "scenario",
    "faults_injected": "faults injected",
    "recovered": "recovered",
    "recorded_error": "recorded as ERROR",
    "rows_lost": "rows lost",
    "duplicates": "duplicates",
}


@dataclass(frozen=True)
class ScenarioFigures:
    """What one scenario did to the system and what the system made of it.

    ``faults_injected``: the disturbances (API faults, kills, bad rows, concurrent runs...).
    ``recovered``: those the pipeline absorbed (retried to success, completed by the next run,
    quarantined with a reason...). ``recorded_error``: applications that ended as ERROR with a
    code. ``rows_lost`` and ``duplicates`` are measured against the expected state, and must
    be 0 for the test to pass.
    """

    scenario: str
    faults_injected: int
    recovered: int
    recorded_error: int
    rows_lost: int
    duplicates: int


_session_rows: Path | None = None


def start_session() -> Path:
    """A fresh rows directory for this session; those of sessions over a day old are removed."""
    ROWS_DIR.mkdir(parents=True, exist_ok=True)
    for old in ROWS_DIR.iterdir():
        if old.is_dir() and old.stat().st_mtime < time.time() - 86_400:
            shutil.rmtree(old, ignore_errors=True)
    rows = ROWS_DIR / uuid.uuid4().hex
    rows.mkdir()
    use_session(rows)
    return rows


def use_session(rows: Path) -> None:
    """Write and read this session's rows in ``rows`` (xdist workers get the controller's)."""
    global _session_rows
    _session_rows = rows


def _rows() -> Path:
    if _session_rows is None:
        raise RuntimeError("no reliability session: the test conftest starts one")
    return _session_rows


def record(figures: ScenarioFigures) -> None:
    path = _rows() / f"{uuid.uuid4().hex}.json"
    path.write_text(json.dumps(asdict(figures)))


def collected() -> list[ScenarioFigures]:
    rows = [ScenarioFigures(**json.loads(p.read_text())) for p in _rows().glob("*.json")]
    return sorted(rows, key=lambda row: row.scenario)


def markdown_table(rows: list[ScenarioFigures]) -> str:
    """The rows as a markdown table, with a total line."""
    names = [field.name for field in fields(ScenarioFigures)]
    cells = [[str(getattr(row, name)) for name in names] for row in rows]
    totals = ["**total**"] + [str(sum(getattr(row, name) for row in rows)) for name in names[1:]]
    table = [[HEADERS[name] for name in names], *cells, totals]
    widths = [max(len(line[i]) for line in table) for i in range(len(names))]

    def line(values: list[str]) -> str:
        padded = [
            value.ljust(width) if i == 0 else value.rjust(width)
            for i, (value, width) in enumerate(zip(values, widths, strict=True))
        ]
        return "| " + " | ".join(padded) + " |"

    rule = (
        "|"
        + "|".join(("-" * (w + 1) + ":") if i else ("-" * (w + 2)) for i, w in enumerate(widths))
        + "|"
    )
    return "\n".join([line(table[0]), rule, *(line(values) for values in table[1:])])


def write_report(rows: list[ScenarioFigures]) -> Path:
    """Write the table as markdown and JSON; returns the markdown's path."""
    REPORT_DIR.mkdir(parents=True, exist_ok=True)
    (REPORT_DIR / "report.json").write_text(json.dumps([asdict(r) for r in rows], indent=2))
    path = REPORT_DIR / "report.md"
    path.write_text(markdown_table(rows) + "\n")
    return path
