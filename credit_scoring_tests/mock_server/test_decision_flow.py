"""The mock decision flow (the scorecard behind the mock's decide route)."""

from __future__ import annotations

import pytest

from credit_scoring.decisioning.decision_contract import REQUIRED_FEATURES
from credit_scoring_tests.builders.features import GOOD_FEATURES as GOOD
from mock_api import decision_flow


def test_the_mock_refuses_what_the_pipelines_contract_requires():
    for name in REQUIRED_FEATURES:
        with pytest.raises(decision_flow.InvalidFeatures, match=name):
            decision_flow.score_features({k: v for k, v in GOOD.items() if k != name})


def test_scorecard_is_deterministic_and_idempotent_on_entity_and_payload():
    first = decision_flow.decide(GOOD, entity_id="APP-1")
    again = decision_flow.decide(dict(reversed(GOOD.items())), entity_id="APP-1")
    other = decision_flow.decide({**GOOD, "nsf_count_90d": 1}, entity_id="APP-1")
    assert first["metadata"]["decision_id"] == again["metadata"]["decision_id"]
    assert first["metadata"]["decision_id"] != other["metadata"]["decision_id"]
    assert (
        decision_flow.decide(GOOD, entity_id="APP-2")["metadata"]["decision_id"]
        != (first["metadata"]["decision_id"])
    )


def test_a_strong_file_is_approved_without_reasons():
    out = decision_flow.score_features(GOOD)
    # 600 + income 30 + nsf 40 + negative days 40 + balance 25 + dti 0 + history 30 = 765
    assert out["score"] == 765
    assert out["outcome"] == "APPROVE"
    assert out["reasons"] == []
    # capacity 3900 * 0.45 = 1755; 1755 * 12 * (765-300)/600 = 16321.5 -> 16300
    assert out["credit_limit"] == 16300.0


def test_a_distressed_file_is_declined_with_the_costliest_reasons_first():
    distressed = {
        **GOOD,
        "nsf_count_90d": 4,
        "days_negative_90d": 30,
        "avg_daily_balance_90d": -200.0,
        "employer_income_monthly": 900.0,
        "total_outflow_90d": 13000.0,
    }
    out = decision_flow.score_features(distressed)
    # 600 - 60 - 120 - 110 - 50 + 30 - 30 = 260 -> clamped to 300
    assert out["score"] == 300
    assert out["outcome"] == "DECLINE"
    assert out["credit_limit"] == 0.0
    assert out["reasons"] == [
        "NSF_ACTIVITY",
        "FREQUENT_NEGATIVE_BALANCE",
        "LOW_INCOME",
        "LOW_AVERAGE_BALANCE",
    ]


def test_knock_outs_decline_whatever_the_score():
    out = decision_flow.score_features({**GOOD, "history_days": 20})
    assert out["outcome"] == "DECLINE"
    assert out["reasons"][0] == "KO_SHORT_HISTORY"


@pytest.mark.parametrize("bad", [None, float("nan"), "12", True])
def test_missing_or_non_numeric_features_are_refused(bad):
    with pytest.raises(decision_flow.InvalidFeatures, match="nsf_count_90d"):
        decision_flow.score_features({**GOOD, "nsf_count_90d": bad})
