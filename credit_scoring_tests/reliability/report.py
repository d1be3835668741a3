"""The reliability report: one row per scenario, gathered across test processes and printed once.

A reliability test measures its scenario (faults injected, how many were recovered, how many
ended as ERROR, rows lost, duplicates; or, for a search, the places searched and the copies
found) and calls the ``reliability_report`` fixture with a :class:`ScenarioFigures`; every
such test's outcome is recorded too, so the table says PASS or FAIL for each scenario and a
test that failed before reporting still has its line. Rows are files in one directory per test
session, so that pytest-xdist workers can each write theirs and two sessions never mix; the
controlling pytest process prints the table at the end of the session and writes it as
markdown and JSON, where ``make reliability`` shows it.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
import uuid
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from credit_scoring.core.settings import REPO_ROOT

#: Where the rows and the printed table are kept (ignored by git, like every local state).
REPORT_DIR = REPO_ROOT / ".credit_scoring" / "reliability"
ROWS_DIR = REPORT_DIR / "rows"

HEADERS = {
    "scenario": "scenario",
    "result": "result",
    "faults_injected": "faults injected",
    "recovered": "recovered",
    "recorded_error": "recorded as ERROR",
    "rows_lost": "rows lost",
    "duplicates": "duplicates",
    "places_searched": "places searched",
    "copies_found": "copies found",
}
NOT_MEASURED = "—"


@dataclass(frozen=True)
class ScenarioFigures:
    """What one scenario did to the system and what the system made of it.

    ``faults_injected``: the disturbances (API faults, kills, bad rows, concurrent runs...).
    ``recovered``: those the pipeline absorbed (retried to success, completed by the next run,
    quarantined with a reason...). ``recorded_error``: applications that ended as ERROR with a
    code. ``rows_lost`` and ``duplicates`` are measured against the expected state, and must
    be 0 for the test to pass. Searches (secrets, PII) report ``places_searched`` and the
    ``copies_found`` of their canary instead. A figure a scenario does not measure is ``None``
    and shows as a dash.
    """

    scenario: str
    faults_injected: int | None = None
    recovered: int | None = None
    recorded_error: int | None = None
    rows_lost: int | None = None
    duplicates: int | None = None
    places_searched: int | None = None
    copies_found: int | None = None


@dataclass(frozen=True)
class Row:
    """A line of the table: a scenario's figures and whether its test passed."""

    figures: ScenarioFigures
    result: str


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


def _key(test_id: str) -> str:
    return hashlib.sha256(test_id.encode()).hexdigest()[:32]


def record(figures: ScenarioFigures, test_id: str) -> None:
    """Keep a scenario's figures; ``test_id`` ties them to the test's outcome."""
    path = _rows() / f"figures-{_key(test_id)}-{uuid.uuid4().hex[:8]}.json"
    path.write_text(json.dumps({"test_id": test_id, **asdict(figures)}))


def record_outcome(test_id: str, passed: bool) -> None:
    """Whether a reporting test passed: written even when it failed before reporting, so a
    scenario that failed early shows as FAIL instead of vanishing from the table."""
    path = _rows() / f"outcome-{_key(test_id)}.json"
    path.write_text(json.dumps({"test_id": test_id, "passed": passed}))


def collected() -> list[Row]:
    outcomes = {}
    for path in _rows().glob("outcome-*.json"):
        body = json.loads(path.read_text())
        outcomes[body["test_id"]] = body["passed"]
    rows, reported = [], set()
    for path in _rows().glob("figures-*.json"):
        body = json.loads(path.read_text())
        test_id = body.pop("test_id")
        reported.add(test_id)
        passed = outcomes.get(test_id)
        result = "?" if passed is None else ("PASS" if passed else "FAIL")
        rows.append(Row(ScenarioFigures(**body), result))
    for test_id, passed in outcomes.items():
        if test_id not in reported:
            name = test_id.rsplit("::", 1)[-1]
            note = "reported nothing" if passed else "failed before reporting"
            rows.append(Row(ScenarioFigures(f"{name} ({note})"), "PASS" if passed else "FAIL"))
    return sorted(rows, key=lambda row: row.figures.scenario)


def _cell(value: int | str | None) -> str:
    return NOT_MEASURED if value is None else str(value)


def markdown_table(rows: list[Row]) -> str:
    """The rows as a markdown table, with a total line."""
    numbers = [field.name for field in fields(ScenarioFigures)][1:]
    names = ["scenario", "result", *numbers]

    def values(row: Row) -> list[str]:
        figures = asdict(row.figures)
        return [row.figures.scenario, row.result, *(_cell(figures[n]) for n in numbers)]

    def total(name: str) -> str:
        present = [getattr(row.figures, name) for row in rows]
        present = [value for value in present if value is not None]
        return str(sum(present)) if present else NOT_MEASURED

    failed = sum(row.result != "PASS" for row in rows)
    totals = ["**total**", f"{len(rows) - failed} pass, {failed} not", *map(total, numbers)]
    table = [[HEADERS[name] for name in names], *map(values, rows), totals]
    widths = [max(len(line[i]) for line in table) for i in range(len(names))]

    def line(cells: list[str]) -> str:
        padded = [
            value.ljust(width) if i < 2 else value.rjust(width)
            for i, (value, width) in enumerate(zip(cells, widths, strict=True))
        ]
        return "| " + " | ".join(padded) + " |"

    rule = (
        "|"
        + "|".join(
            ("-" * (w + 1) + ":") if i >= 2 else ("-" * (w + 2)) for i, w in enumerate(widths)
        )
        + "|"
    )
    return "\n".join([line(table[0]), rule, *(line(cells) for cells in table[1:])])


def write_report(rows: list[Row]) -> Path:
    """Write the table as markdown and JSON; returns the markdown's path."""
    REPORT_DIR.mkdir(parents=True, exist_ok=True)
    (REPORT_DIR / "report.json").write_text(
        json.dumps([{**asdict(r.figures), "result": r.result} for r in rows], indent=2)
    )
    path = REPORT_DIR / "report.md"
    path.write_text(markdown_table(rows) + "\n")
    return path
