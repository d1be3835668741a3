"""deploy/dagster.yaml on a real PostgreSQL: Dagster's runs, events and schedules stored there,
runs through the queue, and the same limits as the local instance."""

from __future__ import annotations

import shutil

import dagster as dg
import pytest
import yaml
from dagster._core.run_coordinator import QueuedRunCoordinator
from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage, PostgresScheduleStorage

from credit_scoring.core.settings import REPO_ROOT
from devtools.instance import DAGSTER_YAML

DEPLOY_YAML = REPO_ROOT / "deploy" / "dagster.yaml"


@dg.asset
def probe() -> int:
    return 1


@pytest.fixture
def deploy_home(postgres_server, tmp_path, monkeypatch):
    database = postgres_server.create_database("dagster")
    for name, value in {
        "HOST": "127.0.0.1",
        "PORT": str(postgres_server.port),
        "DB": database,
        "USER": "postgres",
        "PASSWORD": "",
    }.items():
        monkeypatch.setenv(f"DAGSTER_POSTGRES_{name}", value)
    home = tmp_path / "deploy_home"
    home.mkdir()
    shutil.copy(DEPLOY_YAML, home / "dagster.yaml")
    return home, database


def test_the_deploy_instance_stores_runs_and_events_in_postgres(deploy_home, postgres_server):
    home, database = deploy_home
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert isinstance(instance.run_storage, PostgresRunStorage)
        assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
        assert isinstance(instance.schedule_storage, PostgresScheduleStorage)
        assert isinstance(instance.run_coordinator, QueuedRunCoordinator)
        assert instance.run_monitoring_enabled
        result = dg.materialize([probe], instance=instance)
        assert result.success

    # read back by another process's view: straight from the database
    with postgres_server.connect(database) as conn:
        runs = conn.execute("select status from runs").fetchall()
        materialised = conn.execute(
            "select count(*) from event_logs where dagster_event_type = 'ASSET_MATERIALIZATION'"
        ).fetchone()[0]
    assert runs == [("SUCCESS",)]
    assert materialised == 1


def test_the_deploy_instance_keeps_the_local_instances_limits():
    deployed, local = yaml.safe_load(DEPLOY_YAML.read_text()), yaml.safe_load(DAGSTER_YAML)
    for block in ("concurrency", "run_queue", "run_monitoring", "telemetry"):
        assert deployed[block] == local[block], block
