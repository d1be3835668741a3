"""The local Dagster instance: created once however many runs start together, no pool."""

from __future__ import annotations

import multiprocessing
import shutil
from pathlib import Path

import dagster as dg

from devtools.instance import write_dagster_yaml


def _prepare(home: str, barrier) -> None:
    barrier.wait(timeout=60)
    write_dagster_yaml(Path(home))


def test_runs_starting_together_on_a_fresh_home_all_get_a_working_instance(tmp_path):
    home = tmp_path / "dagster_home"
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(4)
    workers = [context.Process(target=_prepare, args=(str(home), barrier)) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=180)

    assert [worker.exitcode for worker in workers] == [0, 0, 0, 0]
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert instance.get_runs() == []
        # every table is in the lake, written under partition locks: nothing holds runs back
        assert instance.event_log_storage.get_pool_limits() == []


def test_the_instance_is_opened_once_per_home_then_only_when_its_yaml_is_rewritten(
    tmp_path, monkeypatch
):
    home = tmp_path / "dagster_home"
    write_dagster_yaml(home)
    opened: list[str] = []
    from_config = dg.DagsterInstance.from_config

    def recording(path: str, *args, **kwargs):
        opened.append(path)
        return from_config(path, *args, **kwargs)

    monkeypatch.setattr(dg.DagsterInstance, "from_config", recording)

    write_dagster_yaml(home)
    assert opened == []  # its storage exists: a run's start-up skips the open
    write_dagster_yaml(home, overwrite=True)
    assert opened == [str(home)]
    shutil.rmtree(home / "history")  # an operator starting the run history afresh
    write_dagster_yaml(home)
    assert opened == [str(home)] * 2
    with from_config(str(home)) as instance:
        assert instance.get_runs() == []
