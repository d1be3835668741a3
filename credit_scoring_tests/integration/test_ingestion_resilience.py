"""Bronze/silver against the real mock server in real processes: overlaps and the CLI.

Each scenario is compared with an undisturbed sequential run of the same days: the promise is
that no transaction is processed twice and none is lost, however runs are interleaved. (Runs
killed at every stage are in credit_scoring_tests/reliability/test_crashes.py.)
"""

from __future__ import annotations

import subprocess

import pytest

from credit_scoring.core.settings import REPO_ROOT
from credit_scoring.ingestion.applications_source import (
    read_applications_csv,
    validate_applications,
)
from credit_scoring.ledger.engine import dispose_engines
from credit_scoring_tests.conftest import SAMPLE_DATA
from credit_scoring_tests.pipeline import (
    assert_same_state,
    dagster_materialize,
    pipeline_env,
    run_pipeline,
    sample_days,
    snapshot,
    start_pipeline,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def server():
    from mock_api.process import start_mock_server

    running = start_mock_server(SAMPLE_DATA)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def reference(server, tmp_path_factory):
    """The state after one undisturbed run over every sample day."""
    days = sample_days()
    home = tmp_path_factory.mktemp("reference")
    code, output = run_pipeline(home, server.base_url, start=days[0], end=days[-1])
    assert code == 0, output[-4000:]
    state = snapshot(home, days)
    assert len(state["silver"]) > 0
    yield state
    dispose_engines()


def test_overlapping_ranges_in_two_processes_fetch_each_application_once(
    server, reference, tmp_path
):
    days = sample_days()
    server.reset_stats()
    first = start_pipeline(tmp_path, server.base_url, start=days[0], end=days[-1])
    second = start_pipeline(tmp_path, server.base_url, start=days[1], end=days[-1])
    outputs = [p.communicate(timeout=600)[0] for p in (first, second)]
    assert [first.returncode, second.returncode] == [0, 0], [o[-3000:] for o in outputs]

    assert_same_state(snapshot(tmp_path, days), reference)
    valid, _ = validate_applications(read_applications_csv(SAMPLE_DATA / "applications.csv"))
    assert server.stats()["requests"]["Authorize"] == len(valid)
    dispose_engines()


def test_dagster_cli_materializes_a_partition_and_a_partition_range(server, tmp_path):
    days = sample_days()
    env = pipeline_env(tmp_path, server.base_url)
    (tmp_path / "dagster_home").mkdir()  # the CLI requires an existing DAGSTER_HOME
    select = (
        "applications,bronze/flinks_accounts_detail,silver/accounts,silver/transactions,"
        "silver/rejected_transactions"
    )
    one = subprocess.run(
        dagster_materialize(select, "--partition", days[0]),
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert one.returncode == 0, one.stderr[-4000:]
    many = subprocess.run(
        dagster_materialize(select, "--partition-range", f"{days[1]}...{days[-1]}"),
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert many.returncode == 0, many.stderr[-4000:]

    state = snapshot(tmp_path, days)
    assert set(state["applications"]["partition_date"]) == set(days)
    assert (state["applications"]["status"].isin(["PENDING", "ERROR"])).all()
    dispose_engines()
