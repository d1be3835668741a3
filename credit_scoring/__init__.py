"""Credit scoring code location: Flinks bank data -> bronze/silver lake -> dbt -> Taktile."""

import warnings

import dagster as dg

# Single-run backfills (BackfillPolicy) are the documented way to backfill this graph; the
# "beta" notice it raises on every import would only bury operators' real warnings.
warnings.filterwarnings("ignore", category=dg.BetaWarning)
