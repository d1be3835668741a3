"""The whole graph on the scaled stack: the ledger on a real PostgreSQL, the lake on a real
S3-compatible server, reached only through ``CREDIT_SCORING_LEDGER_URL``,
``CREDIT_SCORING_LAKE_URL`` and the standard ``AWS_*`` variables.

The run must end exactly as the embedded run of the same days (SQLite, local lake): the same
silver and rejected rows, ledger, features and decisions. Every partition of every lake table,
dbt's models and the decisions included, is an object in the bucket, and no table file
(Parquet, DuckDB, SQLite) is written under the local home.
"""

from __future__ import annotations

import pytest
import s3fs

from credit_scoring.lake.tables import DBT_MODEL_TABLES, TABLES
from credit_scoring.ledger.engine import dispose_engines
from credit_scoring_tests.pipeline import (
    assert_same_state,
    run_pipeline,
    sample_days,
    whole_graph_snapshot,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_the_whole_graph_on_postgresql_and_s3_ends_as_the_embedded_run(
    sample_server, undisturbed_state, postgres_server, s3_server, tmp_path, monkeypatch
):
    bucket = s3_server.create_bucket()
    lake_url = f"s3://{bucket}/lake"
    ledger_url = postgres_server.url(postgres_server.create_database())
    for name, value in s3_server.environment().items():
        monkeypatch.setenv(name, value)
    days = sample_days()

    code, output = run_pipeline(
        tmp_path,
        sample_server.base_url,
        start=days[0],
        end=days[-1],
        groups=None,
        TAKTILE_BASE_URL=sample_server.base_url,
        CREDIT_SCORING_LEDGER_URL=ledger_url,
        CREDIT_SCORING_LAKE_URL=lake_url,
        **s3_server.environment(),
    )
    assert code == 0, output[-4000:]

    assert_same_state(whole_graph_snapshot(tmp_path, days, ledger_url, lake_url), undisturbed_state)
    objects = set(s3fs.S3FileSystem(use_listings_cache=False).find(f"{bucket}/lake"))
    expected = {
        f"{bucket}/lake/{path}/application_date={day}/data.parquet"
        for path in [*TABLES, *DBT_MODEL_TABLES]
        for day in days
    }
    assert expected <= objects, sorted(expected - objects)
    assert not (tmp_path / "lake").exists(), "a run wrote the lake to local disk"
    assert not (tmp_path / "ledger.sqlite").exists(), "a run fell back to the SQLite ledger"
    # no table lives only on this machine: no Parquet, no DuckDB, no SQLite file under the home
    # (Dagster's own storage aside, which deploy/dagster.yaml puts on PostgreSQL)
    local_tables = [
        path.relative_to(tmp_path)
        for path in tmp_path.rglob("*")
        if path.suffix in {".parquet", ".duckdb", ".sqlite", ".db"}
        and "dagster_home" not in path.relative_to(tmp_path).parts
    ]
    assert local_tables == [], local_tables
    dispose_engines()
