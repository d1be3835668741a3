"""One application's story as an operator reads it (``ledger show``): what was fetched and
when, where its transactions are, who holds its claim, and the decision it got."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from credit_scoring.ledger.queries import ApplicationStory
from credit_scoring.ledger.schema import STATUSES

#: Columns every section leaves out: the application's own keys, shown once in the title, and
#: the features a decision was made on (a long JSON document: ``--json`` has it).
NOT_SHOWN = frozenset({"application_id", "transaction_id", "application_date", "features"})


def shown(row: dict[str, Any]) -> tuple[str, ...]:
    """The row's columns in their stored order, named as the ledger, the lake and ``--json``
    name them."""
    return tuple(column for column in row if column not in NOT_SHOWN)


def plain(value: Any) -> Any:
    """A value as JSON and text show it: times in UTC ISO form (SQLite returns the ledger's UTC
    times without their zone), everything else as it is."""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    return value


def story_document(story: ApplicationStory, decision: dict[str, Any] | None) -> dict[str, Any]:
    """The story as one JSON-ready document (``ledger show --json``)."""

    def of(row: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if row is None else {k: plain(v) for k, v in row.items()}

    return {
        "application": of(story.application),
        "fetch": of(story.fetch),
        "transactions": story.transactions,
        "decision": of(decision),
    }


def _value(value: Any) -> str:
    if value is None or value == "":
        return "-"
    return str(plain(value))


def _section(title: str, row: dict[str, Any], columns: tuple[str, ...]) -> list[str]:
    """A titled block of ``column  value`` lines, named as ``--json`` names them."""
    width = max(len(column) for column in columns)
    return [title, *(f"  {c.ljust(width)}  {_value(row.get(c))}" for c in columns)]


def render_story(
    application_id: str, story: ApplicationStory, decision: dict[str, Any] | None
) -> str:
    """Plain text, one section per stage, ``-`` where the ledger has nothing."""
    app = story.application
    lines = [f"application {application_id}"]
    if app:
        lines += _section("ledger", app, shown(app))
    else:
        lines.append("ledger\n  not registered yet (no silver row)")
    if story.fetch:
        lines += _section("fetch", story.fetch, shown(story.fetch))
    else:
        lines.append("fetch\n  no fetch recorded")
    lines += _section("transactions", story.transactions, STATUSES)
    if decision:
        lines += _section("decision", decision, shown(decision))
    else:
        lines.append("decision\n  none stored")
    return "\n".join(lines)
