"""One application's story as an operator reads it (``ledger show``): what was fetched and
when, where its transactions are, who holds its claim, and the decision it got."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from credit_scoring.ledger.queries import ApplicationStory
from credit_scoring.ledger.schema import STATUSES

#: The decision's fields shown, in the order an operator asks for them.
DECISION_FIELDS = (
    "decision_id",
    "outcome",
    "score",
    "credit_limit",
    "reasons",
    "decision_engine",
    "flow_version",
    "features_hash",
    "requested_at",
    "decided_at",
)


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


def _section(title: str, rows: list[tuple[str, Any]]) -> list[str]:
    width = max(len(name) for name, _ in rows)
    return [title, *(f"  {name.ljust(width)}  {_value(value)}" for name, value in rows)]


def render_story(
    application_id: str, story: ApplicationStory, decision: dict[str, Any] | None
) -> str:
    """Plain text, one section per stage, ``-`` where the ledger has nothing."""
    app = story.application
    lines = [f"application {application_id}"]
    if app:
        lines += _section(
            "ledger",
            [
                ("partition", app.get("partition_date")),
                ("status", app.get("status")),
                ("decide attempts", app.get("attempts")),
                ("error", _error(app.get("error_stage"), app.get("error_code"))),
                ("error message", app.get("error_message")),
                ("registered at", app.get("created_at")),
                ("updated at", app.get("updated_at")),
            ],
        )
    else:
        lines.append("ledger\n  not registered yet (no silver row)")
    fetch = story.fetch
    if fetch:
        lines += _section(
            "fetch",
            [
                ("login", fetch.get("login_id")),
                ("state", fetch.get("state")),
                ("attempts", fetch.get("attempts")),
                ("request id", fetch.get("request_id")),
                ("http status", fetch.get("http_status")),
                ("error", fetch.get("error_code")),
                ("error message", fetch.get("error_message")),
                ("retryable", fetch.get("retryable")),
                ("fetched at", fetch.get("fetched_at")),
                ("lease holder", fetch.get("owner")),
                ("lease expires", fetch.get("lease_expires_at")),
            ],
        )
    else:
        lines.append("fetch\n  no fetch recorded")
    lines += _section("transactions", [(s, story.transactions.get(s, 0)) for s in STATUSES])
    lines += _section(
        "claim",
        [
            ("holder", app.get("claim_token")),
            ("sent at", app.get("sent_at")),
        ],
    )
    if decision:
        lines += _section("decision", [(name, decision.get(name)) for name in DECISION_FIELDS])
    else:
        lines.append("decision\n  none stored")
    return "\n".join(lines)


def _error(stage: str | None, code: str | None) -> str | None:
    if not code:
        return None
    return f"{code} (at {stage})" if stage else code
