"""Applicant features as the decision engine receives them."""

from __future__ import annotations

#: A creditworthy applicant: every required feature present, nothing alarming.
GOOD_FEATURES = {
    "nsf_count_90d": 0,
    "total_inflow_90d": 12000.0,
    "total_outflow_90d": 10500.0,
    "avg_daily_balance_90d": 2200.0,
    "min_daily_balance_90d": 150.0,
    "days_negative_90d": 0,
    "employer_income_monthly": 3900.0,
    "history_days": 400,
}


def features(**changes: object) -> dict[str, object]:
    """:data:`GOOD_FEATURES` with some values changed (or added)."""
    return {**GOOD_FEATURES, **changes}
