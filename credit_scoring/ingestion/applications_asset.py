"""The day's loan applications: the root of the asset graph."""

import dagster as dg
import pandas as pd

from credit_scoring.core.conventions import PARTITIONED
from credit_scoring.core.settings import load_settings
from credit_scoring.ingestion.applications_source import (
    in_window,
    read_applications_csv,
    validate_applications,
)
from credit_scoring.lake.io_manager import LAKE_OUTPUT


@dg.asset(
    **PARTITIONED,
    **LAKE_OUTPUT,
    group_name="ingestion",
    description=(
        "Loan applications whose application date (UTC date of applied_at) falls in the "
        "partition(s), read from CREDIT_SCORING_APPLICATIONS. Malformed rows are rejected with a "
        "reason and reported in the metadata, never crashed on."
    ),
)
def applications(context: dg.AssetExecutionContext) -> dg.Output[pd.DataFrame]:
    settings = load_settings()
    window = context.partition_time_window
    raw = read_applications_csv(settings.applications_path)
    valid, rejects = validate_applications(raw)
    selected = in_window(valid, window.start.date(), window.end.date())
    # no partition covers these: say so on every run rather than drop them silently
    before_start = int(
        (pd.to_datetime(valid["partition_date"]).dt.date < settings.start_date).sum()
    )
    if before_start:
        context.log.warning(
            f"{before_start} valid application(s) in {settings.applications_path} are dated "
            f"before CREDIT_SCORING_START_DATE={settings.start_date.isoformat()}: no partition "
            "covers them; lower CREDIT_SCORING_START_DATE to process them"
        )
    if len(rejects):
        context.log.warning(
            f"{len(rejects)} application row(s) rejected in {settings.applications_path}: "
            + ", ".join(f"{rule}={n}" for rule, n in rejects["rule"].value_counts().items())
        )
    return dg.Output(
        selected,
        metadata={
            "dagster/row_count": len(selected),
            "source": str(settings.applications_path),
            "source_rows": len(raw),
            "rejected_rows": len(rejects),
            "before_start_date": before_start,
            "rejected_preview": dg.MetadataValue.md(
                rejects.head(20).to_markdown(index=False) if len(rejects) else "none"
            ),
            "preview": dg.MetadataValue.md(selected.head(10).to_markdown(index=False)),
        },
    )
