"""The Celery settings: validated from the environment, the same for the run and the workers,
and a config dagster-celery's executor accepts."""

from __future__ import annotations

import subprocess
import sys

import pytest
from dagster._config import process_config, validate_config
from dagster_celery import celery_executor

from credit_scoring.core.celery_settings import (
    BACKEND_URL_VAR,
    BROKER_URL_VAR,
    DEFAULT_VISIBILITY_TIMEOUT,
    VISIBILITY_TIMEOUT_VAR,
    load_celery_settings,
)
from credit_scoring.core.settings import SettingsError, load_settings
from credit_scoring.worker import worker_arguments

REDIS = "redis://127.0.0.1:6379/0"


@pytest.fixture(autouse=True)
def no_celery_variables(monkeypatch):
    for name in (BROKER_URL_VAR, BACKEND_URL_VAR, VISIBILITY_TIMEOUT_VAR):
        monkeypatch.delenv(name, raising=False)


def test_a_redis_broker_is_its_own_result_backend_and_a_step_is_acknowledged_once_done(
    monkeypatch,
):
    monkeypatch.setenv(BROKER_URL_VAR, REDIS)
    settings = load_celery_settings()
    assert (settings.broker_url, settings.backend_url) == (REDIS, REDIS)
    source = settings.config_source()
    assert source["task_acks_late"] is True
    # survives a broker restart (reliability/test_broker_restart.py)
    assert source["worker_cancel_long_running_tasks_on_connection_loss"] is False
    # ... by retrying the broker with backoff for a while, not for ever
    assert source["result_backend_always_retry"] is True
    assert 0 < source["result_backend_max_retries"] < float("inf")
    assert 0 < source["task_publish_retry_policy"]["max_retries"] < float("inf")
    assert source["task_reject_on_worker_lost"] is True
    assert source["broker_transport_options"]["visibility_timeout"] == DEFAULT_VISIBILITY_TIMEOUT


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({}, f"{BROKER_URL_VAR} is not set"),
        ({BROKER_URL_VAR: "http://broker:80"}, "is not a broker URL"),
        ({BROKER_URL_VAR: "amqp://guest@rabbit//"}, f"{BACKEND_URL_VAR} is not set"),
        ({BROKER_URL_VAR: REDIS, BACKEND_URL_VAR: "mongodb://m/db"}, "not a result backend"),
        ({BROKER_URL_VAR: REDIS, VISIBILITY_TIMEOUT_VAR: "soon"}, "not a positive number"),
        ({BROKER_URL_VAR: REDIS, VISIBILITY_TIMEOUT_VAR: "0"}, "not a positive number"),
    ],
)
def test_a_missing_or_bad_celery_setting_names_its_variable(monkeypatch, variables, message):
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=message):
        load_celery_settings()


def test_a_broker_password_never_appears_in_an_error(monkeypatch):
    monkeypatch.setenv(BROKER_URL_VAR, "kafka://:s3cret@broker:9092")
    with pytest.raises(SettingsError) as raised:
        load_celery_settings()
    assert "s3cret" not in str(raised.value)
    assert "kafka://:***@broker:9092" in str(raised.value)


def test_the_executor_config_is_valid_for_dagster_celery_and_names_variables_not_urls(
    monkeypatch,
):
    monkeypatch.setenv(BROKER_URL_VAR, "redis://:s3cret@127.0.0.1:6379/0")
    monkeypatch.setenv(BACKEND_URL_VAR, "redis://:s3cret@127.0.0.1:6379/1")
    monkeypatch.setenv(VISIBILITY_TIMEOUT_VAR, "120")
    config = load_celery_settings().executor_config()
    assert "s3cret" not in repr(config)
    config_type = celery_executor.config_schema.config_type
    validated = validate_config(config_type, config)
    assert validated.success, validated.errors
    processed = process_config(config_type, config).value
    assert processed["broker"] == "redis://:s3cret@127.0.0.1:6379/0"
    assert processed["backend"] == "redis://:s3cret@127.0.0.1:6379/1"
    assert processed["config_source"]["broker_transport_options"]["visibility_timeout"] == 120


def test_celery_is_an_executor_the_deployment_builds(monkeypatch):
    monkeypatch.setenv("CREDIT_SCORING_EXECUTOR", "celery")
    monkeypatch.setenv(BROKER_URL_VAR, REDIS)
    from credit_scoring.deployment import build_executor

    executor = build_executor(load_settings())
    assert executor.name == "celery"


def test_a_worker_is_one_named_process_on_dagster_celery_s_queue():
    arguments = worker_arguments("w1", 2, "INFO")
    assert arguments[0] == "worker"
    assert "--hostname=w1@%h" in arguments
    assert "--queues=dagster" in arguments
    assert "--concurrency=2" in arguments
    assert not any(a.startswith("--concurrency") for a in worker_arguments("w1", None, "INFO"))


def test_a_worker_without_a_broker_exits_with_one_line_naming_the_variable(tmp_path):
    env = {
        "PATH": "/usr/bin:/bin",
        "CREDIT_SCORING_ENV": "dev",
        "CREDIT_SCORING_HOME": str(tmp_path / "home"),
        "CREDIT_SCORING_EXECUTOR": "celery",
    }
    result = subprocess.run(
        [sys.executable, "-m", "credit_scoring.worker", "--name", "w1"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert f"{BROKER_URL_VAR} is not set" in last
