"""Configuration fails early with the variable's name; the code location loads."""

from __future__ import annotations

from datetime import date

import dagster as dg
import pytest

from credit_scoring.settings import SettingsError, load_settings


def test_definitions_are_loadable():
    from credit_scoring.definitions import defs

    dg.Definitions.validate_loadable(defs)
    assert defs.resolve_asset_graph().get_all_asset_keys() >= {dg.AssetKey("applications")}
    assert "flinks" in defs.resources


def test_defaults_point_at_the_repository_and_the_local_mock(monkeypatch):
    for name in ("CREDIT_SCORING_HOME", "CREDIT_SCORING_START_DATE", "FLINKS_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings()
    assert settings.home.name == ".credit_scoring"
    assert settings.start_date.isoformat() == "2020-01-01"
    assert settings.flinks_base_url.startswith("http://127.0.0.1:")
    assert settings.applications_path.name == "applications.csv"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("CREDIT_SCORING_START_DATE", "2020-13-01"),
        ("CREDIT_SCORING_START_DATE", "2999-01-01"),
        ("FLINKS_BASE_URL", "flinks.example.com"),
    ],
)
def test_invalid_values_fail_with_the_variable_name(monkeypatch, variable, value):
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError, match=variable):
        load_settings()


def test_relative_home_is_made_absolute(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CREDIT_SCORING_HOME", "state")
    assert load_settings().home == tmp_path / "state"


def test_flinks_resource_reads_secrets_through_envvar(monkeypatch):
    monkeypatch.setenv("FLINKS_API_KEY", "k-123")
    from credit_scoring.resources.bindings import build_flinks_resource

    resource = build_flinks_resource()
    # the configured value is an EnvVar reference, so Dagster never stores the secret itself
    assert isinstance(resource._get_non_default_public_field_values().get("api_key"), dg.EnvVar)


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("CREDIT_SCORING_LEDGER_URL", "ledger.sqlite", "is not a SQLAlchemy URL"),
        ("CREDIT_SCORING_LEDGER_URL", "mysql://u:secret@db/ledger", "sqlite or postgresql"),
        ("FLINKS_CUSTOMER_ID", "acme/prod", "is not a customer id"),
        ("CREDIT_SCORING_APPLICATIONS", "/no/such/applications.csv", "does not exist"),
        ("CREDIT_SCORING_EXECUTOR", "kubernetes", "is not an executor"),
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
    from credit_scoring.runner import check_partitions

    with pytest.raises(ValueError, match=message):
        check_partitions(first, last, date(2020, 1, 1), date(2026, 11, 25))
    check_partitions("2020-01-01", "2026-11-25", date(2020, 1, 1), date(2026, 11, 25))
