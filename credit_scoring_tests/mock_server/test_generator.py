"""The mock-data generator: deterministic, contract-exact statement exports with exact answers."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mock_api import export_format
from mock_api.generate import main
from mock_api.generator import GenerateConfig, generate
from mock_api.generator.malformed import HOSTILE_KIND, INVALID_KINDS

START = date(2026, 10, 5)
DAYS = 3
ARGS = [
    "--applications", "40",
    "--start-date", START.isoformat(),
    "--days", str(DAYS),
    "--seed", "11",
    "--history-days", "150",
    "--malformed-fraction", "0.01",
    "--logins-per-file", "10",
    "--workers", "1",
    "--quiet",
]  # fmt: skip
ROW_KEY = [
    "Login ID", "Account Number", "Date", "Description", "Withdrawals", "Deposits", "Balance",
]  # fmt: skip
LISTING_KEY = [
    "login_id", "account_number", "date", "description", "withdrawals", "deposits", "balance",
]  # fmt: skip
NSF_DESCRIPTIONS = {"NSF FEE NSF S/C", "NSF SERVICE CHARGE", "RETURNED ITEM FEE"}
PAYROLL_PREFIXES = ("PAYROLL DEPOSIT ", "DIRECT DEPOSIT PAYROLL ", "PAY ")


def _generate(out: Path, *extra: str) -> Path:
    assert main([*ARGS, "--out", str(out), *extra]) == 0
    return out


def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def _cents(values: pd.Series) -> pd.Series:
    return (pd.to_numeric(values.replace("", "0")) * 100).round().astype("int64")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _generate(tmp_path_factory.mktemp("generated"))


@pytest.fixture(scope="module")
def statements(dataset: Path) -> pd.DataFrame:
    """Every statement row, in file order, with the file it came from."""
    frames = []
    for path in sorted((dataset / "statements").glob("*.csv")):
        frame = _read(path)
        frame.insert(0, "file", path.name)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="module")
def listing(dataset: Path) -> pd.DataFrame:
    return _read(dataset / "malformed_rows.csv")


def _as_statement_columns(listing: pd.DataFrame) -> pd.DataFrame:
    return listing.rename(columns=dict(zip(LISTING_KEY, ROW_KEY, strict=True)))


def clean_rows(statements: pd.DataFrame, listing: pd.DataFrame) -> pd.DataFrame:
    """Statement rows minus the injected invalid ones (hostile-text rows are valid and stay)."""
    invalid = _as_statement_columns(listing.loc[listing["kind"] != HOSTILE_KIND])[ROW_KEY]
    marked = statements.merge(invalid.assign(_invalid=True), on=ROW_KEY, how="left")
    return marked.loc[marked["_invalid"].isna()].drop(columns="_invalid").reset_index(drop=True)


@pytest.fixture(scope="module")
def clean(statements: pd.DataFrame, listing: pd.DataFrame) -> pd.DataFrame:
    return clean_rows(statements, listing)


@pytest.fixture(scope="module")
def ground_truth(dataset: Path) -> pd.DataFrame:
    return _read(dataset / "ground_truth.csv")


def _tree_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*.csv"))}


def test_same_seed_writes_byte_identical_files_whatever_the_worker_count(tmp_path, dataset):
    again = _generate(tmp_path / "again", "--workers", "2")

    assert _tree_bytes(again) == _tree_bytes(dataset)


def test_different_seed_writes_different_data(tmp_path, dataset):
    other = tmp_path / "other"
    assert main([*ARGS, "--seed", "12", "--out", str(other)]) == 0

    ours, theirs = _tree_bytes(dataset), _tree_bytes(other)
    assert ours.keys() == theirs.keys()
    assert all(ours[name] != theirs[name] for name in ours)


def test_statement_header_is_exactly_the_export_columns(dataset):
    files = sorted((dataset / "statements").glob("*.csv"))

    assert len(files) >= DAYS
    for path in files:
        first_line = path.read_text(encoding="utf-8").split("\n", 1)[0]
        assert first_line == ",".join(export_format.COLUMNS)


def test_statements_are_quoted_exactly_as_a_standard_csv_writer_quotes(dataset):
    for path in sorted((dataset / "statements").glob("*.csv")):
        text = path.read_text(encoding="utf-8")
        records = list(csv.reader(io.StringIO(text, newline="")))
        rewritten = io.StringIO()
        csv.writer(rewritten, lineterminator="\n").writerows(records)

        assert rewritten.getvalue() == text
        assert {len(record) for record in records} == {len(export_format.COLUMNS)}


def test_logins_are_grouped_many_per_file_by_application_date(statements, dataset):
    applications = _read(dataset / "applications.csv")
    per_file = statements.groupby("file")["Login ID"].nunique()

    assert per_file.max() <= 10
    assert per_file.sum() == len(applications)
    dates = statements["Request Date/Time"].str.slice(0, 10)
    assert (statements["file"].str.slice(11, 21) == dates).all()


def test_every_balance_follows_from_the_previous_row_of_its_account(clean):
    rows = clean.assign(
        signed=_cents(clean["Deposits"]) - _cents(clean["Withdrawals"]),
        balance=_cents(clean["Balance"]),
    )
    account = rows["Login ID"] + "/" + rows["Account Number"]
    older_balance = rows.groupby(account)["balance"].shift(-1)  # rows are newest first
    has_older = older_balance.notna()

    assert has_older.sum() > 1000
    expected = older_balance[has_older].astype("int64") + rows.loc[has_older, "signed"]
    assert (rows.loc[has_older, "balance"] == expected).all()


def test_account_balance_is_the_latest_balance_of_the_account(clean):
    account = clean["Login ID"] + "/" + clean["Account Number"]
    newest = clean.groupby(account, sort=False).head(1)

    assert (newest["Account Balance"] == newest["Balance"]).all()
    assert clean.groupby(account)["Account Balance"].nunique().eq(1).all()


def test_clean_rows_set_exactly_one_of_withdrawals_and_deposits_as_two_decimal_amounts(clean):
    withdrawals, deposits = clean["Withdrawals"], clean["Deposits"]
    amount = r"^\d+\.\d{2}$"

    assert ((withdrawals == "") ^ (deposits == "")).all()
    assert (withdrawals[withdrawals != ""].str.match(amount)).all()
    assert (deposits[deposits != ""].str.match(amount)).all()
    assert clean["Balance"].str.match(r"^-?\d+\.\d{2}$").all()
    assert clean["Date"].str.match(r"^\d{4}-\d{2}-\d{2}$").all()


def test_request_datetime_is_the_application_time_and_no_clean_row_is_after_it(
    statements, clean, dataset
):
    applications = _read(dataset / "applications.csv").set_index("login_id")
    applied_at = pd.to_datetime(applications["applied_at"], utc=True)
    expected = applied_at.dt.strftime(export_format.REQUEST_DATETIME_FORMAT)

    requested = statements.groupby("Login ID")["Request Date/Time"].unique()
    assert requested.map(len).eq(1).all()
    assert (requested.map(lambda values: values[0]) == expected[requested.index]).all()
    assert (statements["Request Status"] == "Completed").all()

    application_date = pd.to_datetime(clean["Request Date/Time"].str.slice(0, 10))
    assert (pd.to_datetime(clean["Date"]) <= application_date).all()


def test_accounts_use_the_export_spelling_and_full_account_numbers(clean):
    accounts = clean.drop_duplicates(["Login ID", "Account Number"])
    flinks_type = accounts["Account Name"].map(export_format.account_type_from_name)

    assert set(flinks_type) <= {"Chequing", "Savings", "CreditCard"}
    assert ((flinks_type == "CreditCard") == (accounts["Account Type"] == "Credit")).all()
    assert (accounts.loc[flinks_type != "CreditCard", "Account Type"] == "Operation").all()
    assert accounts["Account Number"].str.match(r"^\d{7,12}$").all()
    assert (accounts.groupby("Login ID")["Account Name"].apply(lambda names: names.map(
        export_format.account_type_from_name).eq("Chequing").any())).all()  # fmt: skip


def test_applications_are_spread_over_every_day_with_unique_readable_ids(dataset):
    applications = _read(dataset / "applications.csv")
    applied_at = pd.to_datetime(applications["applied_at"], utc=True, format="%Y-%m-%dT%H:%M:%SZ")

    assert list(applications.columns) == [
        "application_id", "login_id", "applied_at", "requested_amount",
    ]  # fmt: skip
    days = sorted(applied_at.dt.date.unique())
    assert days == [START + timedelta(days=k) for k in range(DAYS)]
    assert applied_at.dt.date.value_counts().min() >= 40 // DAYS
    assert applications["application_id"].is_unique
    assert applications["application_id"].str.match(r"^APP-\d{8}-\d{4}$").all()
    assert applications["login_id"].str.match(r"^[0-9a-f-]{36}$").all()
    assert applications["login_id"].is_unique


def test_days_detected_is_the_history_length_in_the_ground_truth(clean, ground_truth):
    detected = clean.groupby("Login ID")["Days Detected"].first().astype(int)
    truth = ground_truth.set_index("login_id")["history_days"].astype(int)

    assert (detected == truth[detected.index]).all()
    earliest = pd.to_datetime(clean["Date"]).groupby(clean["Login ID"]).min()
    applied = pd.to_datetime(clean.groupby("Login ID")["Request Date/Time"].first().str[:10])
    assert ((applied - earliest).dt.days == truth[earliest.index]).all()


def _independent_recount(clean: pd.DataFrame) -> pd.DataFrame:
    """The ground-truth definitions, implemented the plain way from the CSV rows."""
    results = {}
    for login, rows in clean.groupby("Login ID"):
        application_date = pd.Timestamp(rows["Request Date/Time"].iloc[0][:10])
        window = pd.date_range(application_date - pd.Timedelta(days=90), periods=90, freq="D")
        dates = pd.to_datetime(rows["Date"])
        in_window = dates.between(window[0], window[-1])

        nsf = int((in_window & rows["Description"].isin(NSF_DESCRIPTIONS)).sum())
        payroll = rows["Description"].str.startswith(PAYROLL_PREFIXES) & (
            rows["Account Type"] == "Operation"
        )
        payroll_total = _cents(rows.loc[in_window & payroll, "Deposits"]).sum()

        daily = pd.Series(0, index=window, dtype="int64")
        for _, account in rows.loc[rows["Account Type"] == "Operation"].groupby("Account Number"):
            chronological = account.iloc[::-1]
            balance = _cents(chronological["Balance"])
            signed = _cents(chronological["Deposits"]) - _cents(chronological["Withdrawals"])
            opening = balance.iloc[0] - signed.iloc[0]
            end_of_day = (
                pd.Series(balance.to_numpy(), index=pd.to_datetime(chronological["Date"]))
                .groupby(level=0)
                .last()
            )
            all_days = end_of_day.index.union(window)
            daily += (
                end_of_day.reindex(all_days).ffill().fillna(opening).reindex(window).astype("int64")
            )
        results[login] = {
            "nsf_fee_count_90d": nsf,
            "days_negative_90d": int((daily < 0).sum()),
            "payroll_cents_90d": int(payroll_total),
        }
    return pd.DataFrame.from_dict(results, orient="index")


def test_ground_truth_matches_an_independent_recount_from_the_csv_rows(clean, ground_truth):
    recount = _independent_recount(clean)
    truth = ground_truth.set_index("login_id").loc[recount.index]

    assert (truth["nsf_fee_count_90d"].astype(int) == recount["nsf_fee_count_90d"]).all()
    assert (truth["days_negative_90d"].astype(int) == recount["days_negative_90d"]).all()
    monthly = _cents(truth["monthly_employer_income"])
    assert ((monthly - recount["payroll_cents_90d"] / 3).abs() <= 0.5).all()
    # the sample must exercise the rules, not only satisfy them vacuously
    assert recount["nsf_fee_count_90d"].sum() > 0
    assert recount["days_negative_90d"].sum() > 0
    assert (truth["transaction_count"].astype(int) == clean.groupby("Login ID").size()).all()


def test_injected_rows_are_listed_and_present_in_the_statements(statements, listing, clean):
    rows = _as_statement_columns(listing)
    found = rows.merge(statements[ROW_KEY], on=ROW_KEY, how="inner")

    assert len(found) == len(rows)
    assert set(listing["kind"]) == {*INVALID_KINDS, HOSTILE_KIND}
    assert len(statements) - len(clean) == (listing["kind"] != HOSTILE_KIND).sum()


def test_ground_truth_counts_injected_rows_per_login(listing, ground_truth):
    invalid = listing.loc[listing["kind"] != HOSTILE_KIND].groupby("login_id").size()
    hostile = listing.loc[listing["kind"] == HOSTILE_KIND].groupby("login_id").size()
    truth = ground_truth.set_index("login_id")

    assert (truth["malformed_rows"].astype(int) == invalid.reindex(truth.index, fill_value=0)).all()
    assert (
        truth["hostile_text_rows"].astype(int) == hostile.reindex(truth.index, fill_value=0)
    ).all()


def test_a_mixed_run_contains_every_profile_and_pay_frequency_vocabulary(ground_truth):
    assert set(ground_truth["profile"]) == {
        "steady_salaried", "gig_income", "thin_file", "distressed",
    }  # fmt: skip
    assert set(ground_truth["pay_frequency"]) <= {
        "weekly", "biweekly", "semimonthly", "monthly", "none",
    }  # fmt: skip
    thin = ground_truth.loc[ground_truth["profile"] == "thin_file", "history_days"].astype(int)
    assert thin.between(30, 80).all()


def test_without_malformed_fraction_nothing_is_injected(tmp_path):
    summary = generate(
        GenerateConfig(
            applications=4, start_date=START, days=2, seed=3, out=tmp_path, history_days=40,
            workers=1,
        ),
        progress=False,
    )  # fmt: skip

    assert summary.injected_rows == 0
    assert _read(tmp_path / "malformed_rows.csv").empty
    assert np.array_equal(
        _read(tmp_path / "ground_truth.csv")["malformed_rows"].astype(int), np.zeros(4)
    )
