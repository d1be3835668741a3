"""Shared fixtures: isolated state directories and real mock servers on loopback."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from credit_scoring.settings import REPO_ROOT
from mock_api.process import MockServer, start_mock_server

SAMPLE_DATA = REPO_ROOT / "data"


@pytest.fixture(autouse=True)
def isolated_state(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Every test gets its own CREDIT_SCORING_HOME and DAGSTER_HOME; none touches the repo's."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("CREDIT_SCORING_HOME", str(home))
    monkeypatch.setenv("DAGSTER_HOME", str(home / "dagster_home"))
    (home / "dagster_home").mkdir()
    (home / "dagster_home" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    for name in ("FLINKS_API_KEY", "FLINKS_BASE_URL", "CREDIT_SCORING_START_DATE"):
        monkeypatch.delenv(name, raising=False)
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


@pytest.fixture
def mock_server(mock_server_factory) -> MockServer:
    """The mock serving the committed sample data, no faults."""
    return mock_server_factory()
