"""Applications files (``application_id,login_id,applied_at,requested_amount``)."""

from __future__ import annotations

from pathlib import Path

HEADER = "application_id,login_id,applied_at,requested_amount"


def write_applications(path: Path, rows: list[tuple[str, str, str, float]]) -> Path:
    """The CSV at ``path`` holding ``rows`` (application id, login, applied_at, amount)."""
    lines = [HEADER, *(f"{a},{login},{at},{amount}" for a, login, at, amount in rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
