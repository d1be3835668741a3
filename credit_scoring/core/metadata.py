"""Metadata shapes the assets and checks share, so the UI shows and plots them alike."""

from __future__ import annotations

import pandas as pd


def error_counts(codes: pd.Series) -> dict[str, object]:
    """Errors per code twice over: ``errors_by_code`` as one table to read, and one number per
    code (``errors/<CODE>``), which Dagster plots over a partition's materialisations."""
    counts = {str(code): int(n) for code, n in codes.dropna().value_counts().items()}
    return {"errors_by_code": counts, **{f"errors/{code}": n for code, n in counts.items()}}
