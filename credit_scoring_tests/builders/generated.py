"""Synthetic data directories from the mock's generator, for tests that need more history or
more applicants than the committed sample."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from mock_api.generator import GenerateConfig, generate


def generated_data(
    out: Path,
    *,
    applications: int,
    seed: int,
    history_days: int = 200,
    start_date: date = date(2026, 10, 5),
    days: int = 1,
    malformed_fraction: float = 0.0,
) -> Path:
    """Statements, applications and ground truth under ``out`` (same arguments, same bytes)."""
    generate(
        GenerateConfig(
            applications=applications,
            start_date=start_date,
            days=days,
            seed=seed,
            out=out,
            history_days=history_days,
            malformed_fraction=malformed_fraction,
            workers=1,
        ),
        progress=False,
    )
    return out
