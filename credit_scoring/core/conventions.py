"""What every asset of the code location shares: its partitions, its backfills, its owners."""

from __future__ import annotations

from credit_scoring.core.partitions import backfill_policy, daily_partitions

#: Owns the lake: applications, bronze, silver.
CREDIT_DATA_TEAM = "team:credit-data"
#: Owns features, decisions and their monitoring.
CREDIT_RISK_TEAM = "team:credit-risk"

#: Every partitioned asset: the application date, backfilled as one run per range (or per
#: ``CREDIT_SCORING_BACKFILL_RUN_DAYS`` days).
PARTITIONED = {"partitions_def": daily_partitions, "backfill_policy": backfill_policy}
