"""Fixtures of the mock server's tests: the app on the committed sample (loaded once per
module), with any switches, and a small generated data set."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from credit_scoring_tests.builders import generated
from credit_scoring_tests.conftest import SAMPLE_DATA
from credit_scoring_tests.mock_server.helpers import ClientFactory
from mock_api import app as mock_app
from mock_api.app import create_app
from mock_api.behaviour import MockConfig
from mock_api.store import Store, load_store


@pytest.fixture(scope="module")
def sample_store() -> Store:
    """The sample data, loaded once: a store is immutable once built, so apps can share it."""
    return load_store(SAMPLE_DATA)


@pytest.fixture
def sample_client(sample_store: Store, monkeypatch: pytest.MonkeyPatch) -> ClientFactory:
    """A test client of the mock serving the committed sample, with the given switches.

    Every app gets its own switches, counters, sessions and fault sequences; only the loaded
    data is shared (loading it again for each test would dominate the run time).
    """

    def shared_store(data_dir: Path | str) -> Store:
        assert Path(data_dir) == SAMPLE_DATA
        return sample_store

    monkeypatch.setattr(mock_app, "load_store", shared_store)

    def make(**switches: Any) -> FlaskClient:
        return create_app(SAMPLE_DATA, MockConfig(**switches)).test_client()

    return make


@pytest.fixture
def client(sample_client: ClientFactory) -> FlaskClient:
    """The mock on the sample data, default switches (no faults, no delay, no key)."""
    return sample_client()


@pytest.fixture(scope="module")
def generated_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two clean applicants with 200 days of history (more than a Days90 window)."""
    return generated.generated_data(
        tmp_path_factory.mktemp("mock-api-data"), applications=2, seed=7
    )
