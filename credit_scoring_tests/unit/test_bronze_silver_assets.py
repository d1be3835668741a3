"""Bronze and silver through `materialize()`: ledger-aware, idempotent, partition-correct."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import orjson
import pandas as pd
import pytest
import respx

from credit_scoring.core.settings import load_settings
from credit_scoring.deployment import build_resources
from credit_scoring.ingestion.applications_asset import applications
from credit_scoring.ingestion.bronze_asset import flinks_accounts_detail
from credit_scoring.ingestion.bronze_rows import bronze_rows, payload_text
from credit_scoring.ingestion.fetch_checks import flinks_error_rate
from credit_scoring.ingestion.flinks_resource import FlinksResource
from credit_scoring.lake.io_manager import merge_partition
from credit_scoring.lake.storage import LakeStore
from credit_scoring.lake.tables import table_for
from credit_scoring.ledger import Ledger
from credit_scoring.ledger.engine import dispose_engines
from credit_scoring.silver import reconciliation_memo
from credit_scoring.silver.reconciliation import reconcile
from credit_scoring.silver.reconciliation_check import bronze_silver_reconciliation
from credit_scoring.silver.reconciliation_memo import reconcile_or_reuse
from credit_scoring.silver.silver_assets import silver
from credit_scoring_tests.builders.applications import write_applications
from credit_scoring_tests.builders.flinks import simple_history
from credit_scoring_tests.builders.ledger_rows import forget_one_transaction
from credit_scoring_tests.fakes import BASE_URL, CUSTOMER, FakeFlinks

ASSETS = [
    applications,
    flinks_accounts_detail,
    silver,
    flinks_error_rate,
    bronze_silver_reconciliation,
]
DAY1, DAY2 = "2026-10-05", "2026-10-06"


@pytest.fixture
def world(tmp_path, monkeypatch):
    """Applications on two days, a fake Flinks serving them, resources bound to both."""
    rows = [
        ("APP-1", "L1", f"{DAY1}T09:00:00Z", 1000),
        ("APP-2", "L2", f"{DAY1}T10:00:00Z", 2000),
        ("APP-3", "L3", f"{DAY2}T11:00:00Z", 3000),
    ]
    path = write_applications(tmp_path / "applications.csv", rows)
    monkeypatch.setenv("CREDIT_SCORING_APPLICATIONS", str(path))
    fake = FakeFlinks({login: simple_history(login, at[:19]) for _, login, at, _ in rows})
    yield {"path": path, "rows": rows, "fake": fake}
    dispose_engines()


def resources() -> dict:
    bound = build_resources()
    bound["flinks"] = FlinksResource(
        base_url=BASE_URL,
        customer_id=CUSTOMER,
        retry_wait_initial_seconds=0.001,
        retry_wait_max_seconds=0.001,
        max_attempts=2,
    )
    return bound


def run(
    fake: FakeFlinks,
    *,
    partition: str | None = None,
    start: str | None = None,
    end: str | None = None,
    run_config: dict | None = None,
) -> dg.ExecuteInProcessResult:
    tags = {}
    if start:
        tags = {
            "dagster/asset_partition_range_start": start,
            "dagster/asset_partition_range_end": end,
        }
    with respx.mock(assert_all_called=False) as router:
        fake.install(router)
        result = dg.materialize(
            ASSETS, partition_key=partition, tags=tags, resources=resources(), run_config=run_config
        )
    assert result.success
    return result


def lake() -> LakeStore:
    return LakeStore(load_settings().lake_root)


def ledger() -> Ledger:
    return Ledger(load_settings().ledger_url)


def silver_rows(day: str) -> pd.DataFrame:
    return (
        lake()
        .read(table_for("silver/transactions"), [day])
        .sort_values(["application_id", "transaction_id"])
        .reset_index(drop=True)
    )


def test_first_run_lands_bronze_and_silver_and_registers_pending(world):
    result = run(world["fake"], partition=DAY1)

    assert world["fake"].calls["Authorize"] == 2
    assert len(lake().read(table_for("bronze/flinks_accounts_detail"), [DAY1])) == 2
    assert len(silver_rows(DAY1)) == 6
    counts = ledger().status_counts([DAY1]).set_index("status")
    assert counts.loc["PENDING", "transactions"] == 6
    assert counts.loc["PENDING", "applications"] == 2
    metadata = result.asset_materializations_for_node("silver")
    by_key = {m.asset_key.to_user_string(): m.metadata for m in metadata}
    assert by_key["silver/transactions"]["rows_new"].value == 6
    assert reconcile(lake(), ledger(), DAY1).ok
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert checks["bronze_silver_reconciliation"].passed
    assert checks["flinks_error_rate"].passed


def test_rematerialising_a_done_partition_makes_no_flinks_call_and_changes_nothing(world):
    run(world["fake"], partition=DAY1)
    calls_before = world["fake"].total_calls
    silver_before = silver_rows(DAY1)
    ledger_before = ledger().transaction_keys([DAY1]).sort_values("transaction_id")

    result = run(world["fake"], partition=DAY1)

    assert world["fake"].total_calls == calls_before
    pd.testing.assert_frame_equal(silver_rows(DAY1), silver_before)
    pd.testing.assert_frame_equal(
        ledger().transaction_keys([DAY1]).sort_values("transaction_id"), ledger_before
    )
    bronze_meta = result.asset_materializations_for_node("bronze__flinks_accounts_detail")[0]
    assert bronze_meta.metadata["skipped"].value == 2
    assert bronze_meta.metadata["fetched"].value == 0


def test_a_late_application_on_a_past_day_fetches_only_the_new_one(world):
    run(world["fake"], partition=DAY1)
    rows = [*world["rows"], ("APP-4", "L4", f"{DAY1}T23:00:00Z", 400)]
    write_applications(world["path"], rows)
    world["fake"].payloads["L4"] = simple_history("L4", f"{DAY1}T23:00:00")
    world["fake"].calls.clear()

    run(world["fake"], partition=DAY1)

    assert world["fake"].calls["Authorize"] == 1
    assert set(silver_rows(DAY1)["application_id"]) == {"APP-1", "APP-2", "APP-4"}
    assert len(silver_rows(DAY1)) == 9
    assert reconcile(lake(), ledger(), DAY1).ok


def test_unknown_login_and_exhausted_retries_are_errors_and_the_others_land(world):
    rows = [
        *world["rows"],
        ("APP-5", "UNKNOWN", f"{DAY1}T12:00:00Z", 1),
        ("APP-6", "FLAKY", f"{DAY1}T12:30:00Z", 1),
    ]
    write_applications(world["path"], rows)
    world["fake"].payloads["FLAKY"] = simple_history("FLAKY", f"{DAY1}T12:30:00")
    world["fake"].failing.add("FLAKY")

    result = run(world["fake"], partition=DAY1)

    statuses = ledger().application_statuses([DAY1]).set_index("application_id")
    assert statuses.loc["APP-5", "status"] == "ERROR"
    assert statuses.loc["APP-5", "error_code"] == "INVALID_LOGIN"
    assert statuses.loc["APP-6", "error_code"] == "RETRY_LATER"
    assert set(silver_rows(DAY1)["application_id"]) == {"APP-1", "APP-2"}
    meta = result.asset_materializations_for_node("bronze__flinks_accounts_detail")[0].metadata
    assert meta["errors_by_code"].value == {"INVALID_LOGIN": 1, "RETRY_LATER": 1}
    # and one number per code, which the UI plots over materialisations
    assert (meta["errors/INVALID_LOGIN"].value, meta["errors/RETRY_LATER"].value) == (1, 1)
    error_rate = next(
        e for e in result.get_asset_check_evaluations() if e.check_name == "flinks_error_rate"
    )
    assert not error_rate.passed  # 2 of 4 applications failed
    assert error_rate.metadata["error_rate"].value == 0.5

    # the transient failure is retried by the next run on its own; the terminal one is not
    world["fake"].failing.clear()
    world["fake"].calls.clear()
    run(world["fake"], partition=DAY1)
    assert world["fake"].calls["Authorize"] == 1
    statuses = ledger().application_statuses([DAY1]).set_index("application_id")
    assert statuses.loc["APP-6", "status"] == "PENDING"
    assert statuses.loc["APP-5", "status"] == "ERROR"


def test_a_partition_range_runs_once_and_writes_one_file_per_day(world):
    run(world["fake"], start=DAY1, end=DAY2)

    assert set(silver_rows(DAY1)["application_id"]) == {"APP-1", "APP-2"}
    assert set(silver_rows(DAY2)["application_id"]) == {"APP-3"}
    for day in (DAY1, DAY2):
        assert lake().partition_file(table_for("silver/transactions"), day).exists()
        assert reconcile(lake(), ledger(), day).ok


def test_refetch_pulls_again_but_adds_no_duplicate_rows(world):
    run(world["fake"], partition=DAY1)
    world["fake"].calls.clear()

    run(
        world["fake"],
        partition=DAY1,
        run_config={"ops": {"bronze__flinks_accounts_detail": {"config": {"refetch": True}}}},
    )

    assert world["fake"].calls["Authorize"] == 2
    assert len(lake().read(table_for("bronze/flinks_accounts_detail"), [DAY1])) == 4
    assert len(silver_rows(DAY1)) == 6
    assert reconcile(lake(), ledger(), DAY1).ok


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"Accounts": []}, None),
        ({"Accounts": [{"Transactions": []}]}, None),
        ({"Accounts": None}, "its Accounts is null, not an array"),
        ({"Accounts": {"Id": "a"}}, "its Accounts is an object, not an array"),
        ({"Accounts": "none"}, "its Accounts is a string, not an array"),
        ({"Accounts": 42}, "its Accounts is a number, not an array"),
        ({"Accounts": False}, "its Accounts is a boolean, not an array"),
        ({"HttpStatusCode": 200}, "without Accounts"),
    ],
)
def test_a_200_body_without_an_accounts_array_is_a_failed_fetch(body, problem):
    """(A body that is not JSON, or not an object, is refused before: see the client.)"""
    from credit_scoring.ingestion.flinks_client import accounts_problem
    from credit_scoring.ingestion.json_object import JsonObject

    found = accounts_problem(JsonObject.parse(orjson.dumps(body)))

    assert found is None if problem is None else problem in found


def test_applications_dated_before_the_start_date_are_reported_not_silently_skipped(
    world, monkeypatch
):
    monkeypatch.setenv("CREDIT_SCORING_START_DATE", DAY2)
    result = run(world["fake"], partition=DAY2)
    metadata = result.asset_materializations_for_node("applications")[0].metadata
    assert metadata["before_start_date"].value == 2  # APP-1 and APP-2, dated DAY1
    assert metadata["dagster/row_count"].value == 1


def test_reconciliation_catches_lost_doubled_and_unregistered_rows(world):
    """Each kind of damage is counted, named in an example, and fails the partition."""
    run(world["fake"], partition=DAY1)
    store, transactions = lake(), table_for("silver/transactions")
    silver_now = store.read(transactions, [DAY1])
    lost, kept = silver_now.iloc[:1], silver_now.iloc[1:]

    # a silver row lost: its bronze copy is missing and its ledger row has no silver row
    store.write(transactions, DAY1, kept)
    report = reconcile(store, ledger(), DAY1)
    assert (report.copies.missing, report.copies.in_both) == (1, 0)
    assert report.keys == (0, 1)  # (silver without a ledger row, ledger without silver)
    assert not report.ok
    tid = lost["transaction_id"].iloc[0]
    assert any(repr(tid) in line and "missing" in line for line in report.examples)
    assert any(
        f"ledger only: {lost['application_id'].iloc[0]} / {tid}" == e for e in report.examples
    )

    # the same row both in silver and in the quarantine
    store.write(transactions, DAY1, silver_now)
    rejects = table_for("silver/rejected_transactions")
    doubled = lost.assign(
        date_raw=None,
        debit_raw=None,
        credit_raw=None,
        balance_raw=None,
        rule="test",
        message="test",
        rejected_at=pd.Timestamp.now(tz="UTC"),
    )
    store.write(rejects, DAY1, doubled)
    report = reconcile(store, ledger(), DAY1)
    assert (report.copies.missing, report.copies.in_both, report.copies.in_rejects) == (0, 1, 1)
    assert not report.ok

    # a silver row the ledger never registered
    store.write(rejects, DAY1, doubled.iloc[:0])
    extra = silver_now.iloc[:1].assign(transaction_id="NOT-IN-LEDGER")
    store.write(transactions, DAY1, pd.concat([silver_now, extra], ignore_index=True))
    report = reconcile(store, ledger(), DAY1)
    assert report.keys == (1, 0)
    assert report.ok is False
    assert reconcile(store, ledger(), DAY2).ok


def test_an_unchanged_day_reuses_its_passing_reconciliation_and_any_change_recomputes_it(
    world, monkeypatch
):
    """A re-run of a finished day does not unnest its bronze again; re-ingesting the day, a
    transaction lost from the ledger or a new version of the comparison each recompute it."""
    run(world["fake"], partition=DAY1)
    store, book = lake(), ledger()
    computed: list[str] = []
    real = reconciliation_memo.reconcile
    monkeypatch.setattr(
        reconciliation_memo,
        "reconcile",
        lambda store, ledger, day: computed.append(day) or real(store, ledger, day),
    )

    rerun = run(world["fake"], partition=DAY1)
    (evaluation,) = [
        e
        for e in rerun.get_asset_check_evaluations()
        if e.check_name == "bronze_silver_reconciliation"
    ]
    assert evaluation.passed
    assert evaluation.metadata["partitions_reused"].value == 1
    assert evaluation.metadata["bronze_transactions"].value == 6
    assert computed == []

    transactions = table_for("silver/transactions")
    store.write(transactions, DAY1, store.read(transactions, [DAY1]))  # the day re-ingested
    recomputed = reconcile_or_reuse(store, book, DAY1)
    assert (recomputed.reused_from, recomputed.report.ok, computed) == (None, True, [DAY1])
    assert reconcile_or_reuse(store, book, DAY1).reused_from is not None
    assert computed == [DAY1]

    monkeypatch.setattr(reconciliation_memo, "LOGIC_VERSION", reconciliation_memo.LOGIC_VERSION + 1)
    assert reconcile_or_reuse(store, book, DAY1).reused_from is None
    assert computed == [DAY1, DAY1]

    assert forget_one_transaction(Path(book.engine.url.database), DAY1) == 1
    lost = reconcile_or_reuse(store, book, DAY1)
    assert lost.reused_from is None
    assert lost.report.keys == (1, 0)
    assert not lost.report.ok
    # a failing day is never stored: it is proven again every time
    assert reconcile_or_reuse(store, book, DAY1).reused_from is None
    assert computed == [DAY1] * 4


def test_an_empty_run_on_a_day_whose_file_is_empty_adds_nothing(tmp_path):
    """Two overlapping backfills: one lands an empty bronze file for a day whose applications
    the other run had claimed, then a third finds nothing to fetch there either."""
    store = LakeStore(tmp_path / "lake")
    table = table_for("bronze/flinks_accounts_detail")
    nothing = bronze_rows(
        pd.DataFrame({"application_id": [], "login_id": [], "partition_date": []}),
        [],
        claim_token="owner",
        run_id="run",
    )
    assert merge_partition(store, table, DAY1, nothing)[0] == 0
    assert store.exists(table, DAY1)

    assert merge_partition(store, table, DAY1, nothing) == (0, 0, 0)
    assert store.read(table, [DAY1]).empty


def test_payloads_are_kept_byte_for_byte_and_invalid_utf8_is_replaced_not_refused():
    """Bodies go to one Arrow text buffer; a body that is not UTF-8 is still landed, with
    replacement characters, as bronze has always kept it."""
    valid = [b'{"Accounts": []}', '{"Title": "Épargne"}'.encode(), b""]
    assert list(payload_text(valid)) == [body.decode("utf-8") for body in valid]
    mixed = [b'{"a": 1}', b"\xff{}"]
    assert list(payload_text(mixed)) == ['{"a": 1}', "\ufffd{}"]
    assert str(payload_text([]).dtype) == "large_string[pyarrow]"
