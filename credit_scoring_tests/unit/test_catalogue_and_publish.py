"""dbt's models reach the lake day by day, and the catalogue names every lake table as a view."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import date

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from credit_scoring.analytics import publish as publish_module
from credit_scoring.analytics.publish import exported_days, exported_models, publish
from credit_scoring.lake import catalogue as catalogue_module
from credit_scoring.lake.catalogue import Catalogue, view_name
from credit_scoring.lake.storage import LakeStore
from credit_scoring.lake.tables import table_for
from credit_scoring.ledger import Ledger
from credit_scoring.ledger.engine import dispose_engines

DAYS = ["2026-10-05", "2026-10-06"]


def features(*days: str) -> pa.Table:
    return pa.table(
        {
            "application_id": [f"APP-{i}" for i in range(len(days))],
            "application_date": pa.array([date.fromisoformat(d) for d in days], pa.date32()),
            "balance_avg_90d": [100.0 * (i + 1) for i in range(len(days))],
        }
    )


def export(folder, model: str, rows: pa.Table) -> None:
    """Write ``rows`` as macros/export_window.sql does, with DuckDB's own COPY statements."""
    folder.mkdir(parents=True, exist_ok=True)
    with duckdb.connect() as connection:
        connection.register("window_rows", rows)
        connection.execute(
            f"copy (select * from window_rows limit 0) to '{folder / model}.parquet' "
            "(format parquet)"
        )
        connection.execute(
            f"copy (select * from window_rows) to '{folder / model}' "
            "(format parquet, partition_by (application_date), write_partition_columns true)"
        )


@pytest.fixture
def ledger(tmp_path):
    book = Ledger(f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    yield book
    dispose_engines()


def test_every_day_of_the_window_gets_its_file_and_a_rebuilt_day_keeps_no_stale_rows(
    tmp_path, ledger
):
    store = LakeStore(tmp_path / "lake")
    exports = tmp_path / "exports"
    export(exports, "applicant_features", features("2026-10-05", "2026-10-05"))

    published = publish(store, ledger.engine, exports, DAYS)
    assert list(published) == ["applicant_features"]
    assert published["applicant_features"].rows == 2
    assert published["applicant_features"].schema.names == [
        "application_id",
        "application_date",
        "balance_avg_90d",
    ]

    table = table_for("applicant_features")
    assert len(store.read(table, ["2026-10-05"])) == 2
    # a day of the window without rows still gets its (empty, typed) file
    assert store.exists(table, "2026-10-06")
    assert store.read(table, ["2026-10-06"]).empty

    rebuilt = tmp_path / "exports-rebuilt"
    export(rebuilt, "applicant_features", features("2026-10-05"))
    publish(store, ledger.engine, rebuilt, DAYS)
    assert list(store.read(table, DAYS)["application_id"]) == ["APP-0"]


def test_a_day_is_streamed_in_batches_and_arrives_whole_and_in_order(tmp_path, ledger, monkeypatch):
    """A day larger than a batch reaches the lake in several parts, every row once, in order."""
    monkeypatch.setattr(publish_module, "ROWS_PER_BATCH", 3)
    store = LakeStore(tmp_path / "lake")
    exports = tmp_path / "exports"
    day = pa.table(
        {
            "application_id": [f"APP-{i:02}" for i in range(10)],
            "application_date": pa.array([date(2026, 10, 5)] * 10, pa.date32()),
            "balance_avg_90d": [float(i) for i in range(10)],
        }
    )
    export(exports, "applicant_features", day)
    files = exported_days(exports, "applicant_features", DAYS)["2026-10-05"]
    assert len(list(publish_module.batches(files, day.schema))) == 4

    published = publish(store, ledger.engine, exports, DAYS)

    assert published["applicant_features"].rows == 10
    read = store.read(table_for("applicant_features"), ["2026-10-05"])
    assert list(read["application_id"]) == [f"APP-{i:02}" for i in range(10)]
    assert list(read["balance_avg_90d"]) == [float(i) for i in range(10)]


def test_a_model_read_back_keeps_integer_features_integer_where_a_value_is_missing(
    tmp_path, ledger
):
    """An integer feature missing for one application (no bank data) stays an integer for the
    others: sent as 3, never 3.0, so its decision's idempotency key does not change."""
    store = LakeStore(tmp_path / "lake")
    exports = tmp_path / "exports"
    frame = features(DAYS[0], DAYS[0]).append_column(
        "nsf_count_90d", pa.array([3, None], pa.int64())
    )
    frame = frame.append_column("has_bank_data", pa.array([True, None], pa.bool_()))
    export(exports, "applicant_features", frame)
    publish(store, ledger.engine, exports, DAYS)

    read = store.read(table_for("applicant_features"), [DAYS[0]])
    assert str(read["nsf_count_90d"].dtype) == "Int64"
    assert read["nsf_count_90d"].iloc[0] == 3
    assert read["nsf_count_90d"].iloc[1] is pd.NA
    assert str(read["has_bank_data"].dtype) == "boolean"


def test_rows_outside_the_window_and_unknown_models_are_refused(tmp_path):
    export(tmp_path / "window", "applicant_features", features("2026-10-05", "2026-10-09"))
    with pytest.raises(ValueError, match=r"rows of \['2026-10-09'\], outside the run's days"):
        exported_days(tmp_path / "window", "applicant_features", DAYS)

    pq.write_table(features("2026-10-05"), tmp_path / "stg_scratch.parquet")
    with pytest.raises(ValueError, match="'stg_scratch', which is not a lake table"):
        exported_models(tmp_path)


def test_the_catalogue_has_a_view_per_table_with_files_but_none_for_bronze(tmp_path, monkeypatch):
    store = LakeStore(tmp_path / "lake")
    database = tmp_path / "warehouse.duckdb"
    decisions = table_for("scoring/credit_decisions")
    bronze = table_for("bronze/flinks_accounts_detail")
    applications = table_for("applications")
    store.write_arrow(table_for("applicant_features"), DAYS[0], features(DAYS[0]))
    store.write_arrow(table_for("applicant_features"), DAYS[1], features(DAYS[1]))
    store.write(bronze, DAYS[0], pd.DataFrame(columns=bronze.schema.names))
    catalogue = Catalogue(database, store)

    created = catalogue.register([table_for("applicant_features"), decisions, bronze, applications])

    # decisions and applications have no file yet: a view over no file cannot be created
    assert created == ["main.applicant_features"]
    with duckdb.connect(str(database), read_only=True) as connection:
        rows = connection.execute("select count(*) from main.applicant_features").fetchone()
        views = connection.execute("select schema_name, view_name from duckdb_views()").fetchall()
    assert rows == (2,)
    assert view_name(bronze) not in views

    # once made, a view is never made again, and this process does not even open the catalogue
    # (nor list the lake) to find out
    def no_connection(*args, **kwargs):
        raise AssertionError("the catalogue was opened again for a view it already has")

    monkeypatch.setattr(catalogue_module.duckdb, "connect", no_connection)
    monkeypatch.setattr(store, "has_partitions", no_connection)
    assert catalogue.register([table_for("applicant_features")]) == []
    assert view_name(decisions) == ("scoring", "credit_decisions")


def test_a_column_a_model_gains_later_shows_in_its_view_without_touching_the_catalogue(tmp_path):
    store = LakeStore(tmp_path / "lake")
    database = tmp_path / "warehouse.duckdb"
    table = table_for("applicant_features")
    store.write_arrow(table, DAYS[0], features(DAYS[0]))
    assert Catalogue(database, store).register([table]) == ["main.applicant_features"]
    # a later day carries a new feature: the view (select * over the files) shows it
    wider = features(DAYS[1]).append_column("income_stability", pa.array([0.5]))
    store.write_arrow(table, DAYS[1], wider)
    with duckdb.connect(str(database), read_only=True) as connection:
        rows = connection.execute(
            "select application_date, income_stability from main.applicant_features "
            "order by application_date"
        ).fetchall()
    assert rows == [(date(2026, 10, 5), None), (date(2026, 10, 6), 0.5)]


def test_a_catalogue_held_by_another_process_is_left_for_a_later_run(tmp_path, monkeypatch):
    store = LakeStore(tmp_path / "lake")
    database = tmp_path / "warehouse.duckdb"
    store.write_arrow(table_for("applicant_features"), DAYS[0], features(DAYS[0]))
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import sys, duckdb
                connection = duckdb.connect({str(database)!r})
                print("holding", flush=True)
                sys.stdin.read()
                """
            ),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert holder.stdout.readline().strip() == "holding"
        monkeypatch.setattr(catalogue_module, "CATALOGUE_WAIT_SECONDS", 1.0)
        assert Catalogue(database, store).register([table_for("applicant_features")]) is None
    finally:
        holder.communicate(input="", timeout=30)

    # the holder is gone: the next run creates the view
    assert Catalogue(database, store).register([table_for("applicant_features")]) == [
        "main.applicant_features"
    ]


def test_a_lake_on_object_storage_keeps_no_local_catalogue(tmp_path):
    database = tmp_path / "warehouse.duckdb"
    remote = LakeStore("s3://bucket/lake")
    assert Catalogue(database, remote).register([table_for("applicant_features")]) == []
    assert not database.exists()


def test_restricted_tables_are_exactly_bronze():
    from credit_scoring.lake.tables import DBT_MODEL_TABLES, TABLES

    restricted = [t.path for t in [*TABLES.values(), *DBT_MODEL_TABLES.values()] if t.restricted]
    assert restricted == ["bronze/flinks_accounts_detail"]
    assert view_name(table_for("silver/transactions")) == ("silver", "transactions")
    assert view_name(table_for("applications")) == ("main", "applications")


def test_a_table_schema_types_each_column_by_its_name_and_names_an_untyped_column():
    from credit_scoring.lake.tables import SILVER_TRANSACTIONS, TS, schema

    built = schema("application_id application_date debit feed_position fetched_at")
    assert built.types == [pa.string(), pa.date32(), pa.float64(), pa.int32(), TS]
    assert SILVER_TRANSACTIONS.field("posted_date").type == pa.date32()
    with pytest.raises(KeyError, match="lake column 'interest_rate' has no type"):
        schema("application_id interest_rate")
