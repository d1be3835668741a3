"""Configuration fails early with the variable's name; the code location loads."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from datetime import date

import dagster as dg
import pytest

from credit_scoring.core.settings import (
    REPO_ROOT,
    SettingsError,
    load_endpoints,
    load_settings,
)

ENDPOINT_VARS = ("FLINKS_BASE_URL", "FLINKS_CUSTOMER_ID", "TAKTILE_BASE_URL")


def test_definitions_are_loadable():
    from credit_scoring.definitions import defs

    dg.Definitions.validate_loadable(defs)
    assert defs.resolve_asset_graph().get_all_asset_keys() >= {dg.AssetKey("applications")}
    assert "flinks" in defs.resources


def test_defaults_point_at_the_repository(monkeypatch):
    for name in ("CREDIT_SCORING_HOME", "CREDIT_SCORING_START_DATE"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings()
    assert settings.home.name == ".credit_scoring"
    assert settings.start_date.isoformat() == "2026-10-01"
    assert settings.applications_path.name == "applications.csv"


def test_in_dev_the_endpoints_default_to_the_local_mock():
    endpoints = load_endpoints()
    assert endpoints.environment == "dev"
    assert endpoints.flinks_base_url == "http://127.0.0.1:8765"
    assert endpoints.taktile_base_url == "http://127.0.0.1:8765"


def test_outside_dev_missing_endpoints_are_refused_in_one_line_naming_them(monkeypatch):
    monkeypatch.delenv("CREDIT_SCORING_ENV")
    with pytest.raises(SettingsError) as refused:
        load_endpoints()
    message = str(refused.value)
    assert "\n" not in message
    assert all(name in message for name in ENDPOINT_VARS)
    assert "CREDIT_SCORING_ENV=dev" in message

    monkeypatch.setenv("FLINKS_BASE_URL", "https://flinks.example.com")
    monkeypatch.setenv("FLINKS_CUSTOMER_ID", "acme")
    with pytest.raises(SettingsError, match=r"^TAKTILE_BASE_URL is not set"):
        load_endpoints()
    monkeypatch.setenv("TAKTILE_BASE_URL", "https://acme.decide.taktile.com")
    endpoints = load_endpoints()
    assert (endpoints.environment, endpoints.taktile_base_url) == (
        "production",
        "https://acme.decide.taktile.com",
    )


def test_an_unknown_environment_is_refused(monkeypatch):
    monkeypatch.setenv("CREDIT_SCORING_ENV", "staging")
    with pytest.raises(SettingsError, match="CREDIT_SCORING_ENV='staging' is not an environment"):
        load_endpoints()


def _validate_definitions(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``dagster definitions validate`` of the code location, as a deployment runs it."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "dagster",
            "definitions",
            "validate",
            "-m",
            "credit_scoring.definitions",
        ],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.integration
def test_the_code_location_refuses_to_load_without_endpoints_unless_dev(monkeypatch):
    import os

    env = {k: v for k, v in os.environ.items() if k not in ("CREDIT_SCORING_ENV", *ENDPOINT_VARS)}

    refused = _validate_definitions(env)
    loaded = _validate_definitions({**env, "CREDIT_SCORING_ENV": "dev"})

    assert refused.returncode != 0
    output = refused.stdout + refused.stderr
    (line,) = [text for text in output.splitlines() if text.startswith("credit_scoring.core")]
    assert line == (
        "credit_scoring.core.settings.SettingsError: FLINKS_BASE_URL, FLINKS_CUSTOMER_ID and "
        "TAKTILE_BASE_URL are not set: set the Flinks and Taktile endpoints, or set "
        "CREDIT_SCORING_ENV=dev to use the local mock APIs (make dev and make demo do)"
    )
    assert loaded.returncode == 0, loaded.stdout[-3000:] + loaded.stderr[-3000:]


@pytest.mark.parametrize(
    ("variable", "value", "load"),
    [
        ("CREDIT_SCORING_START_DATE", "2020-13-01", load_settings),
        ("CREDIT_SCORING_START_DATE", "2999-01-01", load_settings),
        ("FLINKS_BASE_URL", "flinks.example.com", load_endpoints),
        ("TAKTILE_BASE_URL", "taktile", load_endpoints),
        ("TAKTILE_TIMEOUT_SECONDS", "-1", load_endpoints),
    ],
)
def test_invalid_values_fail_with_the_variable_name(monkeypatch, variable, value, load):
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError, match=variable):
        load()


def test_relative_home_is_made_absolute(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CREDIT_SCORING_HOME", "state")
    assert load_settings().home == tmp_path / "state"


def test_flinks_resource_reads_secrets_through_envvar(monkeypatch):
    monkeypatch.setenv("FLINKS_API_KEY", "k-123")
    monkeypatch.setenv("TAKTILE_API_KEY", "t-456")
    from credit_scoring.deployment import build_flinks_resource, build_taktile_resource

    # the configured value is an EnvVar reference, so Dagster never stores the secret itself
    for resource in (build_flinks_resource(), build_taktile_resource()):
        assert isinstance(resource._get_non_default_public_field_values().get("api_key"), dg.EnvVar)


def test_a_customer_id_that_is_not_one_path_segment_is_refused(monkeypatch):
    monkeypatch.setenv("FLINKS_CUSTOMER_ID", "acme/prod")
    with pytest.raises(SettingsError, match="FLINKS_CUSTOMER_ID='acme/prod' is not a customer id"):
        load_endpoints()


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("CREDIT_SCORING_LEDGER_URL", "ledger.sqlite", "is not a SQLAlchemy URL"),
        ("CREDIT_SCORING_LEDGER_URL", "mysql://u:secret@db/ledger", "sqlite or postgresql"),
        ("CREDIT_SCORING_APPLICATIONS", "/no/such/applications.csv", "does not exist"),
        ("CREDIT_SCORING_EXECUTOR", "kubernetes", "is not an executor"),
        ("CREDIT_SCORING_BACKFILL_RUN_DAYS", "0", "is not a positive number of days"),
        ("CREDIT_SCORING_BACKFILL_RUN_DAYS", "three", "is not a positive number of days"),
        ("CREDIT_SCORING_FETCH_ATTEMPTS", "0", "is not a positive number of attempts"),
        ("CREDIT_SCORING_DBT_MEMORY_LIMIT", "lots", "is not an amount of memory"),
        ("CREDIT_SCORING_DBT_MEMORY_LIMIT", "512", "is not an amount of memory"),
    ],
)
def test_more_invalid_values_fail_at_load_with_the_variable_name(
    monkeypatch, variable, value, message
):
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError, match=variable) as raised:
        load_settings()
    assert message in str(raised.value)


def test_a_ledger_url_is_never_quoted_in_its_error(monkeypatch):
    monkeypatch.setenv("CREDIT_SCORING_LEDGER_URL", "mysql://scorer:s3cret@db/ledger")
    with pytest.raises(SettingsError) as raised:
        load_settings()
    assert "s3cret" not in str(raised.value)


def test_a_home_that_is_a_file_is_refused(monkeypatch, tmp_path):
    home = tmp_path / "home"
    home.write_text("")
    monkeypatch.setenv("CREDIT_SCORING_HOME", str(home))
    with pytest.raises(SettingsError, match=r"CREDIT_SCORING_HOME=.* is not a directory"):
        load_settings()


@pytest.mark.parametrize(
    ("first", "last", "message"),
    [
        ("2019-12-31", "2020-01-02", "before the first partition, 2020-01-01"),
        ("2026-11-20", "2026-11-26", "is in the future: the last partition is today, 2026-11-25"),
    ],
)
def test_the_runner_refuses_days_outside_the_partitions(first, last, message):
    from devtools.runner import check_partitions

    with pytest.raises(ValueError, match=message):
        check_partitions(first, last, date(2020, 1, 1), date(2026, 11, 25))
    check_partitions("2020-01-01", "2026-11-25", date(2020, 1, 1), date(2026, 11, 25))


def test_backfills_are_one_run_per_range_unless_the_deployment_asks_for_runs_of_n_days(
    monkeypatch,
):
    from credit_scoring.core.partitions import build_backfill_policy

    monkeypatch.delenv("CREDIT_SCORING_BACKFILL_RUN_DAYS", raising=False)
    # the default: `dagster asset materialize --partition-range` accepts single-run assets only
    assert build_backfill_policy() == dg.BackfillPolicy.single_run()
    monkeypatch.setenv("CREDIT_SCORING_BACKFILL_RUN_DAYS", "3")
    assert build_backfill_policy() == dg.BackfillPolicy.multi_run(max_partitions_per_run=3)


def test_every_partitioned_asset_follows_the_one_backfill_policy():
    from credit_scoring.core.partitions import backfill_policy
    from credit_scoring.definitions import defs

    graph = defs.resolve_asset_graph()
    policies = {
        graph.get(key).backfill_policy
        for key in graph.materializable_asset_keys
        if graph.get(key).is_partitioned
    }
    assert policies == {backfill_policy}


def test_an_applications_csv_in_a_store_is_read_where_needed_not_checked_at_load(monkeypatch):
    # every machine of a cluster reads the same object; none needs a local copy
    monkeypatch.setenv("CREDIT_SCORING_APPLICATIONS", "s3://intake/daily/applications.csv")
    path = load_settings().applications_path
    assert path.protocol == "s3"
    assert str(path) == "s3://intake/daily/applications.csv"
    # a local path is still checked at load, naming the variable
    monkeypatch.setenv("CREDIT_SCORING_APPLICATIONS", "file:///no/such/applications.csv")
    with pytest.raises(SettingsError, match="CREDIT_SCORING_APPLICATIONS"):
        load_settings()


@pytest.mark.parametrize(
    ("location", "local"),
    [("/var/lake", True), ("file:///var/lake", True), ("s3://bucket/lake", False)],
)
def test_a_location_is_local_or_in_a_store(location, local):
    from credit_scoring.core.locations import is_local_url, upath

    assert is_local_url(location) is local
    assert (upath(location).protocol in ("", "file", "local")) is local


def test_the_fetch_attempt_cap_reaches_the_ledger_the_runs_use(monkeypatch):
    from credit_scoring.deployment import build_resources

    monkeypatch.delenv("CREDIT_SCORING_FETCH_ATTEMPTS", raising=False)
    assert build_resources()["ledger"].get().fetch_attempts == 5
    monkeypatch.setenv("CREDIT_SCORING_FETCH_ATTEMPTS", "2")
    assert build_resources()["ledger"].get().fetch_attempts == 2


def test_dbts_memory_limit_reaches_the_environment_dbt_runs_in(monkeypatch):
    from credit_scoring.analytics.dbt_project import dbt_environment

    window = {"min_date": "2026-10-05", "max_date": "2026-10-06"}
    monkeypatch.delenv("CREDIT_SCORING_DBT_MEMORY_LIMIT", raising=False)
    with dbt_environment(window):
        assert os.environ["CREDIT_SCORING_DBT_MEMORY_LIMIT"] == "512MB"
    monkeypatch.setenv("CREDIT_SCORING_DBT_MEMORY_LIMIT", "1.5GiB")
    with dbt_environment(window):
        assert os.environ["CREDIT_SCORING_DBT_MEMORY_LIMIT"] == "1.5GiB"


def test_the_api_knobs_reach_the_resources(monkeypatch):
    from credit_scoring.deployment import build_flinks_resource, build_taktile_resource

    for name in ("FLINKS_CONCURRENCY", "FLINKS_DAYS_OF_TRANSACTIONS", "TAKTILE_CONCURRENCY"):
        monkeypatch.delenv(name, raising=False)
    for name in ("TAKTILE_FLOW_VERSION", "TAKTILE_SANDBOX"):
        monkeypatch.delenv(name, raising=False)
    flinks, taktile = build_flinks_resource(), build_taktile_resource()
    assert (flinks.concurrency, flinks.days_of_transactions) == (16, "Days365")
    assert (taktile.concurrency, taktile.version, taktile.sandbox) == (8, "v1.0", False)

    monkeypatch.setenv("FLINKS_CONCURRENCY", "4")
    monkeypatch.setenv("FLINKS_DAYS_OF_TRANSACTIONS", "days90")
    monkeypatch.setenv("TAKTILE_CONCURRENCY", "2")
    monkeypatch.setenv("TAKTILE_FLOW_VERSION", "v2.3")
    monkeypatch.setenv("TAKTILE_SANDBOX", "TRUE")
    flinks, taktile = build_flinks_resource(), build_taktile_resource()
    assert (flinks.concurrency, flinks.days_of_transactions) == (4, "Days90")
    assert (taktile.concurrency, taktile.version, taktile.sandbox) == (2, "v2.3", True)
    assert taktile.client().path.endswith("/sandbox/decide")


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("FLINKS_CONCURRENCY", "0", "is not a positive number of calls"),
        ("TAKTILE_CONCURRENCY", "many", "is not a positive number of calls"),
        ("FLINKS_DAYS_OF_TRANSACTIONS", "Days30", "is not one of Days90, Days365"),
        ("TAKTILE_SANDBOX", "maybe", "is not one of true, false"),
    ],
)
def test_a_bad_api_knob_fails_at_load_naming_it(monkeypatch, variable, value, message):
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError, match=variable) as raised:
        load_endpoints()
    assert message in str(raised.value)


def test_arrow_allocates_with_jemalloc_unless_the_operator_chose_a_pool(monkeypatch):
    """Loading the code location makes Arrow return freed memory; an explicit choice stands."""
    import pyarrow as pa

    from credit_scoring.core.memory import ARROW_POOL_VAR, use_returning_allocator

    before = pa.default_memory_pool()
    try:
        pa.set_memory_pool(pa.system_memory_pool())
        monkeypatch.delenv(ARROW_POOL_VAR, raising=False)
        assert use_returning_allocator() == "jemalloc"
        pa.set_memory_pool(pa.system_memory_pool())
        monkeypatch.setenv(ARROW_POOL_VAR, "system")
        assert use_returning_allocator() == "system"
    finally:
        pa.set_memory_pool(before)


def test_freed_heap_pages_go_back_to_the_system_on_glibc():
    from credit_scoring.core.memory import release_free_heap

    assert release_free_heap() is (platform.libc_ver()[0] == "glibc")


def test_the_runner_pauses_the_collector_while_importing_and_freezes_what_it_built():
    import gc

    from devtools.runner import collector_paused

    assert gc.isenabled()
    gc.unfreeze()  # whatever this worker's earlier tests froze goes back to the collector
    try:
        with collector_paused():
            assert not gc.isenabled()
            imported = [{"module": "as an import builds them"}]
        assert gc.isenabled()
        assert imported
        assert gc.get_freeze_count() > 0
        with pytest.raises(RuntimeError), collector_paused():
            raise RuntimeError("an import failed")
        assert gc.isenabled(), "a failed import must not leave the collector off"
    finally:
        gc.unfreeze()
