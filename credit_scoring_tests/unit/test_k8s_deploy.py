"""The Kubernetes deployment, checked as far as it can be without a cluster: the executor's
config against dagster-k8s's own schema, and the Helm values against the code location and
``deploy/dagster.yaml`` (no Helm or Kubernetes runs here)."""

from __future__ import annotations

import importlib

import yaml
from dagster._config import process_config, validate_config
from dagster_k8s import k8s_job_executor

from credit_scoring.core.settings import REPO_ROOT, load_settings

VALUES = REPO_ROOT / "deploy" / "helm" / "values.yaml"
DAGSTER_YAML = REPO_ROOT / "deploy" / "dagster.yaml"


def test_the_k8s_executor_config_is_valid_for_dagster_k8s():
    from credit_scoring.deployment import K8S_EXECUTOR_CONFIG

    config_type = k8s_job_executor.config_schema.config_type
    validated = validate_config(config_type, K8S_EXECUTOR_CONFIG)
    assert validated.success, validated.errors
    assert process_config(config_type, K8S_EXECUTOR_CONFIG).value["max_concurrent"] == 4
    # and the schema does refuse what it does not know
    assert not validate_config(config_type, {"max_concurrent": "four"}).success


def test_k8s_is_an_executor_the_deployment_builds(monkeypatch):
    monkeypatch.setenv("CREDIT_SCORING_EXECUTOR", "k8s")
    from credit_scoring.deployment import build_executor

    assert build_executor(load_settings()).name == "k8s"


def test_the_helm_values_load_this_code_location_with_one_configuration_everywhere():
    values = yaml.safe_load(VALUES.read_text())
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    arguments = deployment["dagsterApiGrpcArgs"]
    module = arguments[arguments.index("-m") + 1]
    assert importlib.import_module(module).defs is not None
    launcher = values["runLauncher"]
    assert launcher["type"] == "K8sRunLauncher"
    for key in ("envConfigMaps", "envSecrets"):
        assert launcher["config"]["k8sRunLauncher"][key] == deployment[key], key


def test_the_helm_values_queue_and_monitor_runs_as_deploy_dagster_yaml_does():
    values = yaml.safe_load(VALUES.read_text())["dagsterDaemon"]
    instance = yaml.safe_load(DAGSTER_YAML.read_text())
    queue = values["runCoordinator"]["config"]["queuedRunCoordinator"]
    assert queue["maxConcurrentRuns"] == instance["concurrency"]["runs"]["max_concurrent_runs"]
    assert queue["dequeueIntervalSeconds"] == instance["run_queue"]["dequeue_interval_seconds"]
    monitoring = values["runMonitoring"]
    assert monitoring["enabled"] is instance["run_monitoring"]["enabled"]
    for helm_key, yaml_key in [
        ("startTimeoutSeconds", "start_timeout_seconds"),
        ("pollIntervalSeconds", "poll_interval_seconds"),
        ("maxResumeRunAttempts", "max_resume_run_attempts"),
    ]:
        assert monitoring[helm_key] == instance["run_monitoring"][yaml_key], helm_key
