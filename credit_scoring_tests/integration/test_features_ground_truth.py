"""Generated bank data through the real pipeline: the planted ground truth comes back out.

The generator knows what every transaction *is* and writes the figures the features must
reproduce (``ground_truth.csv``), independently of the description patterns dbt uses. The
data goes through the real mock server over HTTP, bronze, silver (malformed rows included, so
they must be rejected and not counted), and the real dbt project.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from credit_scoring_tests.builders.generated import generated_data
from credit_scoring_tests.dbt_harness import CATALOGUE, query
from credit_scoring_tests.pipeline import run_pipeline

# one test process runs this module, so its module-scoped run is made once, not once per process
pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.xdist_group("features_ground_truth"),
]

DAY = date(2026, 9, 14)


@pytest.fixture(scope="module")
def features_and_truth(tmp_path_factory, mock_server_module_factory):
    data = generated_data(
        tmp_path_factory.mktemp("generated"),
        applications=60,
        seed=20260914,
        start_date=DAY,
        malformed_fraction=0.01,
    )
    server = mock_server_module_factory(data)
    home = tmp_path_factory.mktemp("home")
    code, output = run_pipeline(
        home,
        server.base_url,
        start=DAY.isoformat(),
        groups=("ingestion", "silver", "analytics"),
        CREDIT_SCORING_APPLICATIONS=str(data / "applications.csv"),
    )
    assert code == 0, output[-4000:]
    features = query(home, database=CATALOGUE, sql="select * from applicant_features").set_index(
        "application_id"
    )
    truth = pd.read_csv(data / "ground_truth.csv").set_index("application_id")
    return features, truth


def test_every_generated_application_has_features(features_and_truth):
    features, truth = features_and_truth
    assert set(features.index) == set(truth.index)
    assert features["has_bank_data"].all()
    assert truth["malformed_rows"].sum() > 0  # bad rows were there, and were not counted


def test_nsf_and_negative_days_are_recovered_exactly(features_and_truth):
    features, truth = features_and_truth
    joined = features.join(truth, rsuffix="_truth")
    pd.testing.assert_series_equal(
        joined["nsf_count_90d"].astype(int),
        joined["nsf_fee_count_90d"].astype(int),
        check_names=False,
    )
    pd.testing.assert_series_equal(
        joined["days_negative_90d"].astype(int),
        joined["days_negative_90d_truth"].astype(int),
        check_names=False,
    )
    assert joined["nsf_count_90d"].sum() > 0
    assert joined["days_negative_90d"].sum() > 0


def test_employer_income_is_within_two_percent(features_and_truth):
    features, truth = features_and_truth
    joined = features.join(truth, rsuffix="_truth")
    planted = joined["monthly_employer_income"]
    found = joined["employer_income_monthly"]
    relative = (found - planted).abs() / planted.where(planted > 0)
    off = pd.DataFrame({"found": found, "planted": planted}).loc[relative > 0.02]
    assert off.empty, off
    assert (found[planted == 0] == 0).all()


def test_debt_and_history_counts_are_recovered(features_and_truth):
    features, truth = features_and_truth
    joined = features.join(truth, rsuffix="_truth")
    for feature, planted in [
        ("history_days", "history_days_truth"),
        ("overdraft_fee_count_90d", "overdraft_fee_count_90d_truth"),
        ("loan_payment_count_90d", "loan_payment_count_90d_truth"),
        ("micro_lender_payment_count_90d", "micro_lender_payment_count_90d_truth"),
    ]:
        assert (joined[feature].astype(int) == joined[planted].astype(int)).all(), feature
    government = joined["government_income_monthly"] - joined["government_income_monthly_truth"]
    assert government.abs().max() <= 0.01
