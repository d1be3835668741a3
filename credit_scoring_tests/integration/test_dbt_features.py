"""The feature contract, computed by the real dbt project on DuckDB from hand-built silver data.

Every expected value below is worked out by hand from the fixture (the comments show the
arithmetic), so a failure points at the SQL, not at a second implementation of it.

The application date A is 2026-04-01, so the window A-90 ... A-1 is exactly 2026-01-01 ...
2026-03-31 (31 + 28 + 31 = 90 days).
"""

from __future__ import annotations

import itertools
import shutil

import pandas as pd
import pytest

from credit_scoring.lake.storage import LakeStore
from credit_scoring_tests.dbt_harness import query, run_dbt, transaction, write_application

# one test process runs this module, so its module-scoped run is made once, not once per process
pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("dbt_features")]

DAY = "2026-04-01"
CHQ, SAV, CARD = "Chequing:chq", "Savings:sav", "CreditCard:card"


def steady_with_savings() -> list[dict]:
    """APP-1: several transactions on one day, a savings account that starts in the window,
    a credit card (ignored for balances, but its NSF fee counts), a fee on A itself."""
    return [
        # chequing, newest first within a day: the lowest position was posted last
        transaction(CHQ, "2025-12-20", "PAYROLL DEPOSIT ACME CORP", 1000.0, 1500.0, 9),
        transaction(CHQ, "2026-01-15", "PAYROLL DEPOSIT ACME CORP", 2000.0, 3500.0, 8),
        transaction(CHQ, "2026-01-15", "RENT PAYMENT", -1200.0, 2300.0, 7),
        transaction(CHQ, "2026-01-15", "NSF FEE NSF S/C", -48.0, 2252.0, 6),
        transaction(CHQ, "2026-02-15", "DIRECT DEPOSIT PAYROLL ACME CORP", 2000.0, 4252.0, 5),
        transaction(CHQ, "2026-03-10", "TRANSFER TO SAVINGS", -5000.0, -748.0, 4),
        transaction(CHQ, "2026-03-12", "NSF SERVICE CHARGE", -45.0, -793.0, 3),
        transaction(CHQ, "2026-03-20", "E-TRANSFER RECEIVED", 1000.0, 207.0, 2),
        transaction(CHQ, "2026-04-01", "RETURNED ITEM FEE", -100.0, 107.0, 1),  # on A: ignored
        # savings: first transaction inside the window, opening balance 5000 - 5000 = 0
        transaction(SAV, "2026-03-10", "TFR-FR CHEQUING", 5000.0, 5000.0, 1),
        transaction(SAV, "2026-03-25", "ATM WITHDRAWAL", -300.0, 4700.0, 0),
        # credit card: never part of the daily balance
        transaction(CARD, "2026-02-01", "BET365 CANADA", -500.0, -500.0, 2),
        transaction(CARD, "2026-02-20", "PAYMENT - THANK YOU", 500.0, 0.0, 1),
        transaction(CARD, "2026-03-05", "NSF FEE NSF S/C", -48.0, -48.0, 0),
    ]


def overdrawn_from_the_start() -> list[dict]:
    """APP-2: opening balance already overdrawn, TRANSFER wording that is not NSF."""
    return [
        # opening balance = -400 - (-100) = -300
        transaction(CHQ, "2026-02-10", "MORTGAGE RBC", -100.0, -400.0, 3),
        transaction(CHQ, "2026-02-20", "LOANS EFT RBC LOAN PYMT", -250.0, -650.0, 2),
        transaction(CHQ, "2026-03-01", "INTERAC E-TRANSFER RECEIVED", 1000.0, 350.0, 1),
        transaction(CHQ, "2026-03-02", "INTERAC E-TRANSFER SENT", -20.0, 330.0, 0),
    ]


def simple(day_offset_salary: float) -> list[dict]:
    return [
        transaction(CHQ, "2026-01-05", "PAYROLL DEPOSIT GLOBEX", day_offset_salary, 100.0, 1),
        transaction(CHQ, "2026-02-05", "HYDRO ONE", -60.0, 40.0, 0),
    ]


@pytest.fixture(scope="module")
def lake_home(tmp_path_factory) -> object:
    """A lake holding three application days, built once for the module."""
    home = tmp_path_factory.mktemp("dbt_home")
    store = LakeStore(home / "lake")
    write_application(store, "APP-1", DAY, steady_with_savings())
    write_application(store, "APP-2", DAY, overdrawn_from_the_start())
    write_application(store, "APP-3", DAY, [], with_bank_data=False)
    write_application(store, "APP-4", "2026-04-02", simple(900.0))
    write_application(store, "APP-5", "2026-04-03", simple(1200.0))
    return home


@pytest.fixture(scope="module")
def built(lake_home):
    run_dbt(lake_home, DAY, "2026-04-02")
    return query(lake_home, "select * from applicant_features").set_index("application_id")


def test_contract_features_match_hand_computed_values(built):
    one, two = built.loc["APP-1"], built.loc["APP-2"]

    # APP-1 daily balance (chequing + savings) over the 90 days:
    #   Jan 1-14: 1500 (14 d), Jan 15-Feb 14: 2252 (31 d), Feb 15-Mar 9: 4252 (23 d),
    #   Mar 10-11: -748+5000 (2 d), Mar 12-19: -793+5000 (8 d), Mar 20-24: 207+5000 (5 d),
    #   Mar 25-31: 207+4700 (7 d)  -> sum 291152, mean 3235.02, min 1500, none negative
    expected_one = {
        "nsf_count_90d": 3,  # two on chequing, one on the card; the one on A does not count
        "total_inflow_90d": 10000.0,  # 2000 + 2000 + 1000 + 5000 (savings transfer in)
        "total_outflow_90d": 6593.0,  # 1200 + 48 + 5000 + 45 + 300 (card excluded)
        "avg_daily_balance_90d": 3235.02,
        "min_daily_balance_90d": 1500.0,
        "days_negative_90d": 0,
        "employer_income_monthly": 1333.33,  # (2000 + 2000) / 3; Dec 20 is outside
        "history_days": 102,  # 2026-04-01 - 2025-12-20
    }
    # APP-2: Jan 1-Feb 9: -300 (40 d), Feb 10-19: -400 (10 d), Feb 20-28: -650 (9 d),
    #   Mar 1: 350 (1 d), Mar 2-31: 330 (30 d) -> sum -11600, mean -128.89, 59 days negative
    expected_two = {
        "nsf_count_90d": 0,  # E-TRANSFER is not NSF
        "total_inflow_90d": 1000.0,
        "total_outflow_90d": 370.0,
        "avg_daily_balance_90d": -128.89,
        "min_daily_balance_90d": -650.0,
        "days_negative_90d": 59,
        "employer_income_monthly": 0.0,
        "history_days": 50,  # 2026-04-01 - 2026-02-10
    }
    for row, expected in ((one, expected_one), (two, expected_two)):
        actual = {name: row[name] for name in expected}
        assert actual == pytest.approx(expected), row.name


def test_analyst_features_follow_their_definitions(built):
    one, two = built.loc["APP-1"], built.loc["APP-2"]
    assert one["overdraft_fee_count_90d"] == 0
    assert one["rent_payments_monthly"] == pytest.approx(400.0)  # 1200 / 3
    assert one["gambling_share"] == 0.0  # the bet was on the card, not an operating account
    assert one["other_income_monthly"] == pytest.approx(333.33)  # the e-transfer received
    assert one["account_count"] == 3
    assert one["operating_account_count"] == 2
    assert one["current_balance"] == pytest.approx(4907.0)  # daily balance on A-1
    assert one["pay_frequency"] == "monthly"  # Jan 15 -> Feb 15
    assert one["net_cash_flow_monthly"] == pytest.approx((10000 - 6593) / 3, abs=0.01)
    assert two["mortgage_payments_monthly"] == pytest.approx(33.33)
    assert two["loan_payment_count_90d"] == 1
    assert two["loan_payments_monthly"] == pytest.approx(83.33)
    assert two["debt_to_income"] == pytest.approx((100 + 250) / 3 / (1000 / 3), abs=1e-4)
    assert two["pay_frequency"] == "none"


def test_an_application_without_bank_data_has_no_features(built):
    three = built.loc["APP-3"]
    assert not three["has_bank_data"]
    assert pd.isna(three["nsf_count_90d"])
    assert pd.isna(three["history_days"])
    assert set(built.index) == {"APP-1", "APP-2", "APP-3"}  # only the partition's day


@pytest.mark.parametrize(
    ("description", "category"),
    [
        ("PAYROLL DEPOSIT ACME CORP", "payroll"),
        ("DIRECT DEPOSIT PAYROLL ACME CORP", "payroll"),
        ("NSF FEE NSF S/C", "nsf_fee"),
        ("NSF SERVICE CHARGE", "nsf_fee"),
        ("TRANSFER TO SAVINGS", "own_transfer"),
        ("TFR-FR CHEQUING", "own_transfer"),
        ("MORTGAGE RBC", "mortgage"),
        ("LOANS EFT RBC LOAN PYMT", "loan_payment"),
        ("INTERAC E-TRANSFER SENT", "other"),
        ("BET365 CANADA", "gambling"),
        ("PAYMENT - THANK YOU", "credit_card_payment"),
        ("ATM WITHDRAWAL", "cash_withdrawal"),
    ],
)
def test_bank_wording_is_categorised_by_whole_words(lake_home, built, description, category):
    found = query(
        lake_home,
        "select distinct category from int_transactions_categorized "
        f"where description = '{description}'",
    )
    assert found["category"].tolist() == [category]


def test_rerunning_a_day_leaves_the_mart_unchanged(lake_home, built):
    run_dbt(lake_home, DAY, "2026-04-02")
    again = query(lake_home, "select * from applicant_features").set_index("application_id")
    pd.testing.assert_frame_equal(again.sort_index(), built.sort_index())


def test_a_three_day_backfill_equals_three_one_day_runs(lake_home, tmp_path):
    days = ["2026-04-01", "2026-04-02", "2026-04-03", "2026-04-04"]
    separate = tmp_path / "separate"
    separate.mkdir()
    (separate / "lake").symlink_to(lake_home / "lake")
    for start, end in itertools.pairwise(days):
        run_dbt(separate, start, end)
    run_dbt(lake_home, days[0], days[-1])

    ordered = "select * from applicant_features order by application_id"
    backfilled, one_by_one = query(lake_home, ordered), query(separate, ordered)
    assert backfilled["application_id"].tolist() == [f"APP-{i}" for i in range(1, 6)]
    pd.testing.assert_frame_equal(backfilled, one_by_one)
    balances = "select * from int_daily_balances order by all"
    pd.testing.assert_frame_equal(query(lake_home, balances), query(separate, balances))


@pytest.mark.parametrize(
    ("min_date", "max_date", "message"),
    [
        ("2026-02-30", "2026-03-01", 'min_date="2026-02-30" is not a calendar date'),
        ("yesterday", "2026-03-01", 'min_date="yesterday" is not a date'),
        ("2026-03-02", "2026-03-01", "the window is empty"),
        ("2026-03-01'; drop table x; --", "2026-03-02", "is not a date"),
    ],
)
def test_dbt_refuses_vars_that_are_not_a_date_window(lake_home, min_date, max_date, message):
    result = run_dbt(lake_home, min_date, max_date, command="compile", check=False)
    assert result.returncode != 0
    assert message in result.stdout


def test_a_bad_window_from_dagsters_environment_names_the_variable(lake_home):
    result = run_dbt(
        lake_home,
        "yesterday",
        "2026-03-01",
        command="compile",
        check=False,
        window_in="environment",
    )
    assert result.returncode != 0
    assert 'CREDIT_SCORING_DBT_MIN_DATE="yesterday" is not a date' in result.stdout


def test_dbts_duckdb_holds_to_the_memory_limit_and_refuses_one_that_is_not_an_amount(
    lake_home, tmp_path
):
    """The limit is DuckDB's, not advice: at 1MB the features cannot be built at all."""
    home = tmp_path / "home"  # a failed build must not touch the module's database
    shutil.copytree(lake_home / "lake", home / "lake")
    tiny = run_dbt(
        home,
        DAY,
        "2026-04-02",
        check=False,
        extra_env={
            "CREDIT_SCORING_DBT_MEMORY_LIMIT": "1MB",
            "CREDIT_SCORING_DBT_SPILL_DIR": str(tmp_path / "spill"),
        },
    )
    assert tiny.returncode != 0
    assert "Out of Memory" in tiny.stdout

    bad = run_dbt(
        home,
        DAY,
        "2026-04-02",
        check=False,
        extra_env={"CREDIT_SCORING_DBT_MEMORY_LIMIT": "lots"},
    )
    assert bad.returncode != 0
    assert 'CREDIT_SCORING_DBT_MEMORY_LIMIT="lots" is not an amount of memory' in bad.stdout


def test_the_window_in_the_environment_builds_that_window_only(tmp_path):
    """As Dagster passes it: the environment's window, one day of three, builds that day."""
    store = LakeStore(tmp_path / "lake")
    write_application(store, "APP-1", DAY, steady_with_savings())
    write_application(store, "APP-4", "2026-04-02", simple(900.0))
    write_application(store, "APP-5", "2026-04-03", simple(1200.0))
    run_dbt(tmp_path, "2026-04-02", "2026-04-03", window_in="environment")
    built = query(tmp_path, "select application_id, application_date from applicant_features")
    assert built["application_id"].tolist() == ["APP-4"]
