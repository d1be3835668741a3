"""Shared fixtures: isolated state directories and real mock servers on loopback."""

from __future__ import annotations

import pickle
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from filelock import FileLock

from credit_scoring.core.settings import REPO_ROOT
from credit_scoring.ledger.engine import dispose_engines
from credit_scoring_tests.reliability import report
from devtools.postgres import PostgresServer, start_postgres
from devtools.redis import RedisServer, start_redis
from devtools.s3 import S3Server, start_s3
from mock_api.process import MockServer, start_mock_server

SAMPLE_DATA = REPO_ROOT / "data"


#: The tests' first partition: their days reach back before the default start date.
TESTS_START_DATE = "2020-01-01"


@pytest.fixture(scope="session", autouse=True)
def partitions_from_2020() -> Iterator[None]:
    """Every run of the session has partitions from 2020, the runs of module fixtures (set up
    before any test's own fixtures) included; a developer's own start date does not leak in."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CREDIT_SCORING_START_DATE", TESTS_START_DATE)
        yield


@pytest.fixture(autouse=True)
def isolated_state(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Every test gets its own CREDIT_SCORING_HOME and DAGSTER_HOME; none touches the repo's."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("CREDIT_SCORING_HOME", str(home))
    monkeypatch.setenv("DAGSTER_HOME", str(home / "dagster_home"))
    (home / "dagster_home").mkdir()
    (home / "dagster_home" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    for name in (
        "FLINKS_API_KEY",
        "FLINKS_BASE_URL",
        "FLINKS_CUSTOMER_ID",
        "TAKTILE_API_KEY",
        "TAKTILE_BASE_URL",
        # a deployment's own settings in the developer's shell must not reach the tests' runs
        "CREDIT_SCORING_EXECUTOR",
        "CREDIT_SCORING_BACKFILL_RUN_DAYS",
        "CREDIT_SCORING_CELERY_BROKER_URL",
        "CREDIT_SCORING_CELERY_BACKEND_URL",
        "CREDIT_SCORING_CELERY_VISIBILITY_TIMEOUT",
    ):
        monkeypatch.delenv(name, raising=False)
    # the tests run against the local mock servers, as `make dev` does: asked for explicitly
    monkeypatch.setenv("CREDIT_SCORING_ENV", "dev")
    return home


def _server_factory() -> Iterator[Callable[..., MockServer]]:
    servers: list[MockServer] = []

    def start(data_dir: Path = SAMPLE_DATA, *args: str) -> MockServer:
        server = start_mock_server(data_dir, args=args)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def mock_server_factory() -> Iterator[Callable[..., MockServer]]:
    """Start real mock servers (own process group, free port); all are stopped at teardown."""
    yield from _server_factory()


@pytest.fixture(scope="module")
def mock_server_module_factory() -> Iterator[Callable[..., MockServer]]:
    """The same, for servers a whole test module shares."""
    yield from _server_factory()


@pytest.fixture(scope="session")
def sample_server() -> Iterator[MockServer]:
    """One mock serving the sample data on both APIs (Flinks and Taktile's decide), no faults.

    Session-wide: tests that share it must reset its counters (``reset_stats``) first.
    """
    server = start_mock_server(SAMPLE_DATA)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def undisturbed_state(sample_server, tmp_path_factory, request) -> dict:
    """The whole graph's state after one undisturbed run over every sample day.

    The yardstick of the reliability suite: a disturbed run must end in this state (or in it
    minus exactly the applications its faults made terminal). Under pytest-xdist the first
    worker to need it runs it and the others read its result (the run is deterministic: the
    same rows and the same decision ids whichever mock server answers), instead of each
    spending a whole-graph run on the same answer.
    """
    if not _is_xdist_worker(request.config):
        return _undisturbed_run(sample_server, tmp_path_factory)
    # the folder holding every worker's temporary folders: this session's alone
    shared = tmp_path_factory.getbasetemp().parent / "undisturbed_state.pickle"
    with FileLock(f"{shared}.lock"):
        if shared.exists():
            return pickle.loads(shared.read_bytes())
        state = _undisturbed_run(sample_server, tmp_path_factory)
        shared.write_bytes(pickle.dumps(state))
    return state


def _undisturbed_run(sample_server, tmp_path_factory) -> dict:
    from credit_scoring_tests.pipeline import run_pipeline, sample_days, whole_graph_snapshot

    days = sample_days()
    home = tmp_path_factory.mktemp("undisturbed")
    code, output = run_pipeline(
        home,
        sample_server.base_url,
        start=days[0],
        end=days[-1],
        groups=None,
        TAKTILE_BASE_URL=sample_server.base_url,
    )
    assert code == 0, output[-4000:]
    state = whole_graph_snapshot(home, days)
    assert len(state["silver"]) > 0
    assert len(state["decisions"]) > 0
    dispose_engines()
    return state


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A real PostgreSQL on loopback for this test process (each xdist worker has its own).

    A server that cannot start fails the tests that need it: nothing is skipped.
    """
    server = start_postgres()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """A real S3-compatible server (moto's) on loopback for this test process; tests take a
    bucket each (``create_bucket``). A server that cannot start fails the tests that need it."""
    server = start_s3()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A real Redis on loopback (the Celery broker and result backend) for this test process.
    A server that cannot start fails the tests that need it."""
    server = start_redis()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty ledger database on each engine the ledger supports."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    else:
        server: PostgresServer = request.getfixturevalue("postgres_server")
        yield server.url(server.create_database())
    dispose_engines()


@pytest.fixture
def mock_server(mock_server_factory) -> MockServer:
    """The mock serving the committed sample data, no faults."""
    return mock_server_factory()


# -- the order of the tests ------------------------------------------------------------------


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Slow tests first (in their usual order), so that the test processes share them from the
    start and no long test begins last, leaving the other processes idle at the end."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
    keep_xdist_groups_together(config, items)


def keep_xdist_groups_together(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Make ``--dist loadgroup`` send an ``xdist_group``'s tests to one process on pytest 9.

    pytest-xdist 3.8 names a test's group by appending ``@group`` to ``item._nodeid``, which
    pytest 9 no longer reads (a node's id is now the structured ``item._id``): every test was
    scheduled on its own, and a module's shared fixture (a whole-graph run) was built by each
    process. The same suffix, where pytest 9 reads it; the ids stay what xdist expects.
    """
    if not getattr(config.option, "loadgroup", False):
        return
    from _pytest.nodeid import NodeId  # pytest 9's node id; nothing public sets it

    for item in items:
        groups = {
            str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))
            for mark in item.iter_markers("xdist_group")
        }
        if groups and "@" not in item.nodeid and hasattr(item, "_id"):
            item._id = NodeId.parse(f"{item.nodeid}@{'_'.join(sorted(groups))}")


# -- the reliability report ------------------------------------------------------------------


def _is_xdist_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def pytest_configure(config: pytest.Config) -> None:
    if _is_xdist_worker(config):
        report.use_session(Path(config.workerinput["reliability_rows"]))
    else:
        config.reliability_rows = report.start_session()


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node) -> None:
    """pytest-xdist: hand each worker the session's rows directory."""
    node.workerinput["reliability_rows"] = str(node.config.reliability_rows)


@pytest.fixture
def reliability_report(request: pytest.FixtureRequest) -> Callable[[report.ScenarioFigures], None]:
    """Record a scenario's figures for the table printed at the end of the session."""
    return lambda figures: report.record(figures, request.node.nodeid)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """Every reporting test's outcome, failed setup included, for the table's result column."""
    result = yield
    if "reliability_report" in getattr(item, "fixturenames", ()) and (
        result.when == "call" or result.failed
    ):
        report.record_outcome(item.nodeid, passed=result.passed)
    return result


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    if _is_xdist_worker(config):
        return
    rows = report.collected()
    if not rows:
        return
    path = report.write_report(rows)
    terminalreporter.section("reliability report")
    for line in report.markdown_table(rows).splitlines():
        terminalreporter.write_line(line)
    terminalreporter.write_line(f"(also in {path.relative_to(REPO_ROOT)} and report.json)")
