"""The mock Taktile decision flow: a points scorecard over the cash-flow features.

The mock server exposes it at ``POST /run/api/v1/flows/<slug>/decide``. It scores what the
pipeline's feature contract declares (:mod:`credit_scoring.decisioning.decision_contract`):
the required features are the pipeline's, never the mock's. It is deterministic and idempotent:
the decision id is derived from the entity id and the exact payload, so a repeat of the same
request returns the same decision, as Taktile does for a replayed request.

Scorecard (start at 600 points, then add the band points below; clamp to 300..900):

| factor | bands -> points | reason code if it costs points |
|---|---|---|
| monthly income (employer+gov) | >=6000 +90, >=4000 +60, >=2500 +30, >=1200 0, -60 | LOW_INCOME |
| nsf_count_90d | 0 +40, 1 -20, 2-3 -60, >=4 -120 | NSF_ACTIVITY |
| days_negative_90d | 0 +40, 1-5 -20, 6-20 -60, >20 -110 | FREQUENT_NEGATIVE_BALANCE |
| avg_daily_balance_90d | >=3000 +50, >=1000 +25, >=0 0, <0 -50 | LOW_AVERAGE_BALANCE |
| debt_to_income | none 0, <=0.15 +40, <=0.35 +10, <=0.5 -40, >0.5 -90 | HIGH_DEBT_TO_INCOME |
| history_days | <60 -80, <180 -30, >=365 +30 | SHORT_HISTORY |
| micro-loan payments per month > 0 | -50 | MICRO_LENDER_USE |
| gambling share of outflow > 5% | -40 | GAMBLING_ACTIVITY |
| inflow - outflow over 90 days < 0 | -30 | NEGATIVE_CASH_FLOW |

Outcome: APPROVE at 700 and above, REVIEW from 600, DECLINE below; knock-outs decline whatever
the score: 6+ NSF fees (KO_NSF) or under 30 days of history (KO_SHORT_HISTORY).
Credit limit: monthly repayment capacity = income x max(0, 0.45 - debt_to_income); limit =
capacity x 12 x (score - 300) / 600, halved for REVIEW, 0 for DECLINE, capped at 25,000 and
rounded down to 50. Reasons: for anything not approved, the (up to) four factors that cost the
most points, worst first, after any knock-out code (adverse-action style).
"""

from __future__ import annotations

import hashlib
import math
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import orjson

from credit_scoring.decisioning.decision_contract import REQUIRED_FEATURES

FLOW_VERSION = "mock-cashflow-scorecard-1.0"
APPROVE_AT, REVIEW_AT = 700, 600
MAX_LIMIT = 25_000.0
_NAMESPACE = uuid.UUID("6f1c1c5e-5b1a-4c39-9d55-3c6b1e0f7a21")


class InvalidFeatures(ValueError):
    """The payload cannot be scored (missing or non-numeric feature); Taktile answers 422."""


def _band(value: float, bands: list[tuple[float, int]], otherwise: int) -> int:
    """Points of the first band whose threshold ``value`` reaches (bands high to low)."""
    for threshold, points in bands:
        if value >= threshold:
            return points
    return otherwise


#: Largest magnitude a feature may have: far beyond any real bank figure, small enough that the
#: scorecard's arithmetic (sums, products) stays finite.
MAX_MAGNITUDE = 1e12


def _number(features: Mapping[str, Any], name: str, default: float | None = None) -> float | None:
    value = features.get(name, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidFeatures(f"feature {name!r} must be a finite number, got {value!r}")
    if abs(value) > MAX_MAGNITUDE:
        raise InvalidFeatures(
            f"feature {name!r}={value!r} is implausibly large (more than {MAX_MAGNITUDE:g})"
        )
    return float(value)


def score_features(features: Mapping[str, Any]) -> dict[str, Any]:
    """The flow's outputs (score, outcome, credit_limit, reasons, flow_version)."""
    missing = [name for name in REQUIRED_FEATURES if features.get(name) is None]
    if missing:
        raise InvalidFeatures(f"missing required feature(s): {', '.join(missing)}")
    nsf = _number(features, "nsf_count_90d")
    inflow = _number(features, "total_inflow_90d")
    outflow = _number(features, "total_outflow_90d")
    avg_balance = _number(features, "avg_daily_balance_90d")
    days_negative = _number(features, "days_negative_90d")
    employer = _number(features, "employer_income_monthly")
    history = _number(features, "history_days")
    government = _number(features, "government_income_monthly", 0.0) or 0.0
    dti = _number(features, "debt_to_income")
    micro = _number(features, "micro_loan_payments_monthly", 0.0) or 0.0
    gambling = _number(features, "gambling_share", 0.0) or 0.0
    income = employer + government

    contributions: dict[str, int] = {
        "LOW_INCOME": _band(income, [(6000, 90), (4000, 60), (2500, 30), (1200, 0)], -60),
        "NSF_ACTIVITY": 40 if nsf == 0 else -20 if nsf == 1 else -60 if nsf <= 3 else -120,
        "FREQUENT_NEGATIVE_BALANCE": (
            40
            if days_negative == 0
            else -20
            if days_negative <= 5
            else -60
            if days_negative <= 20
            else -110
        ),
        "LOW_AVERAGE_BALANCE": _band(avg_balance, [(3000, 50), (1000, 25), (0, 0)], -50),
        "HIGH_DEBT_TO_INCOME": (
            0
            if dti is None
            else 40
            if dti <= 0.15
            else 10
            if dti <= 0.35
            else -40
            if dti <= 0.5
            else -90
        ),
        "SHORT_HISTORY": -80
        if history < 60
        else -30
        if history < 180
        else 30
        if history >= 365
        else 0,
        "MICRO_LENDER_USE": -50 if micro > 0 else 0,
        "GAMBLING_ACTIVITY": -40 if gambling > 0.05 else 0,
        "NEGATIVE_CASH_FLOW": -30 if inflow - outflow < 0 else 0,
    }
    score = int(min(900, max(300, 600 + sum(contributions.values()))))
    knockouts = [
        code for code, hit in (("KO_NSF", nsf >= 6), ("KO_SHORT_HISTORY", history < 30)) if hit
    ]
    if knockouts or score < REVIEW_AT:
        outcome = "DECLINE"
    elif score < APPROVE_AT:
        outcome = "REVIEW"
    else:
        outcome = "APPROVE"
    capacity = income * max(0.0, 0.45 - (dti or 0.0))
    limit = capacity * 12 * (score - 300) / 600
    if outcome == "REVIEW":
        limit /= 2
    if outcome == "DECLINE":
        limit = 0.0
    limit = math.floor(min(limit, MAX_LIMIT) / 50) * 50
    costs = sorted(
        ((points, code) for code, points in contributions.items() if points < 0),
        key=lambda item: (item[0], item[1]),
    )
    reasons = [] if outcome == "APPROVE" else (knockouts + [code for _, code in costs])[:4]
    return {
        "score": score,
        "outcome": outcome,
        "credit_limit": float(limit),
        "reasons": reasons,
        "flow_version": FLOW_VERSION,
    }


def decision_id(entity_id: str, features: Mapping[str, Any]) -> str:
    """Same entity and same payload -> same decision id (idempotent replays)."""
    digest = hashlib.sha256(orjson.dumps(dict(features), option=orjson.OPT_SORT_KEYS)).hexdigest()
    return str(uuid.uuid5(_NAMESPACE, f"{entity_id}:{digest}"))


def decide(
    features: Mapping[str, Any],
    *,
    entity_id: str,
    version: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """A full Taktile-shaped response: ``{"data": outputs, "metadata": {...}}``."""
    outputs = score_features(features)
    return {
        "data": outputs,
        "metadata": {
            "decision_id": decision_id(entity_id, features),
            "entity_id": entity_id,
            "version": version or FLOW_VERSION,
            "timestamp": (now or datetime.now(UTC)).isoformat(),
        },
    }
