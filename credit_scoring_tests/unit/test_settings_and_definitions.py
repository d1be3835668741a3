"""Configuration fails early with the variable's name; the code location loads."""

from __future__ import annotations

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
