"""The dbt assets in the graph: the exact dbt arguments, and one connected lineage."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
from datetime import datetime
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pytest
from dagster_dbt import DbtProject

from credit_scoring.analytics import dbt_reuse
from credit_scoring.analytics.dbt_assets import dbt_vars
from credit_scoring.analytics.dbt_project import (
    DBT_EXECUTABLE,
    DBT_PROJECT_DIR,
    PARTIAL_PARSE,
    S3_TARGET,
    WINDOW_ENV,
    dbt_environment,
    ensure_manifest,
    new_target_path,
    packaged_parse,
    parse_in_place,
    save_parse,
)
from credit_scoring.analytics.dbt_reuse import DbtReuse, in_build_order, sources_of
from credit_scoring.lake.storage import LakeStore
from credit_scoring.lake.tables import DBT_MODEL_TABLES, table_for


def window(start: str, end: str) -> dg.TimeWindow:
    return dg.TimeWindow(datetime.fromisoformat(start), datetime.fromisoformat(end))


def test_one_day_builds_that_day_only():
    assert dbt_vars(window("2026-10-05T00:00:00+00:00", "2026-10-06T00:00:00+00:00")) == {
        "min_date": "2026-10-05",
        "max_date": "2026-10-06",
    }


def test_the_window_is_in_dbts_environment_only_while_dagster_dbt_starts_it(monkeypatch):
    monkeypatch.setenv(WINDOW_ENV["max_date"], "left by someone")
    monkeypatch.delenv(WINDOW_ENV["min_date"], raising=False)
    with dbt_environment({"min_date": "2026-10-05", "max_date": "2026-10-06"}):
        assert os.environ[WINDOW_ENV["min_date"]] == "2026-10-05"
        assert os.environ[WINDOW_ENV["max_date"]] == "2026-10-06"
        assert Path(os.environ["CREDIT_SCORING_HOME"]).is_absolute()
        assert os.environ["DBT_LOG_LEVEL_FILE"] == "info"  # not every query and connection
    assert WINDOW_ENV["min_date"] not in os.environ
    # an operator who wants dbt's debug log asks for it
    monkeypatch.setenv("DBT_LOG_LEVEL_FILE", "debug")
    with dbt_environment({"min_date": "2026-10-05", "max_date": "2026-10-06"}):
        assert os.environ["DBT_LOG_LEVEL_FILE"] == "debug"
    assert os.environ[WINDOW_ENV["max_date"]] == "left by someone"


def test_each_dbt_step_starts_from_the_parse_the_last_one_saved_on_this_home():
    first = new_target_path("run-a")
    assert (first / PARTIAL_PARSE).read_bytes() == packaged_parse(None).read_bytes()
    (first / PARTIAL_PARSE).write_bytes(b"parsed for this home")
    save_parse(first)
    second = new_target_path("run-b")
    assert second != first
    assert (second / PARTIAL_PARSE).read_bytes() == b"parsed for this home"


def test_a_step_on_s3_starts_from_the_parse_made_for_its_own_profile_target():
    """dbt parses the whole project again when the --target differs from its saved parse's:
    a new home on an S3 lake starts from the s3 target's packaged parse, and the parses saved
    for the two targets never replace each other."""
    assert packaged_parse(S3_TARGET).exists(), "make manifest parses for the s3 target too"
    assert packaged_parse(S3_TARGET).read_bytes() != packaged_parse(None).read_bytes()
    first = new_target_path("run-a", S3_TARGET)
    assert (first / PARTIAL_PARSE).read_bytes() == packaged_parse(S3_TARGET).read_bytes()
    (first / PARTIAL_PARSE).write_bytes(b"parsed for s3")
    save_parse(first, S3_TARGET)
    assert (new_target_path("run-b", S3_TARGET) / PARTIAL_PARSE).read_bytes() == b"parsed for s3"
    on_disk = new_target_path("run-c")
    assert (on_disk / PARTIAL_PARSE).read_bytes() == packaged_parse(None).read_bytes()


@pytest.mark.parametrize("dbt_target", [None, S3_TARGET])
def test_a_packaged_parse_holds_on_any_home_lake_and_window(tmp_path, dbt_target):
    """The parse ``make manifest`` packaged for a target is used whole by a step on another
    home, with another lake URL and window: dbt re-parses no file (the lake's root reaches the
    sources only when dbt runs)."""
    target = tmp_path / "target"
    target.mkdir()
    shutil.copyfile(packaged_parse(dbt_target), target / PARTIAL_PARSE)
    environment = {
        **os.environ,
        "CREDIT_SCORING_HOME": str(tmp_path / "another-home"),
        "CREDIT_SCORING_LAKE_URL": "s3://another-bucket/lake" if dbt_target else "",
        "CREDIT_SCORING_DBT_DATABASE": ":memory:",
        WINDOW_ENV["min_date"]: "2026-10-05",
        WINDOW_ENV["max_date"]: "2026-10-06",
    }
    arguments = ["--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)]
    arguments += ["--target-path", str(target), "--log-path", str(tmp_path)]
    if dbt_target:
        arguments += ["--target", dbt_target]
    subprocess.run([DBT_EXECUTABLE, "parse", "--quiet", *arguments], env=environment, check=True)
    performance = json.loads((target / "perf_info.json").read_text())
    assert performance["is_partial_parse_enabled"]
    assert performance["parsed_path_count"] == 0, "a file was parsed again"


def test_a_backfill_range_is_one_window():
    assert dbt_vars(window("2026-09-01T00:00:00+00:00", "2026-10-01T00:00:00+00:00")) == {
        "min_date": "2026-09-01",
        "max_date": "2026-10-01",
    }


def test_lineage_runs_from_applications_to_decision_monitoring():
    from credit_scoring.definitions import defs

    graph = defs.resolve_asset_graph()
    path = [
        "applications",
        "bronze/flinks_accounts_detail",
        "silver/transactions",
        "stg_silver__transactions",
        "int_transactions_categorized",
        "applicant_features",
        "scoring/credit_decisions",
        "decision_monitoring",
    ]
    for parent, child in itertools.pairwise(path):
        assert (
            dg.AssetKey.from_user_string(parent)
            in graph.get(dg.AssetKey.from_user_string(child)).parent_keys
        ), f"{parent} -> {child}"


def test_every_asset_has_a_group_kinds_and_owners():
    from credit_scoring.definitions import defs

    graph = defs.resolve_asset_graph()
    groups = set()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        if not node.is_materializable:
            continue
        groups.add(node.group_name)
        assert node.kinds, key
        assert node.owners, key
    assert groups == {"ingestion", "silver", "analytics", "decisioning"}


def test_the_dbt_resource_knows_its_version_without_running_dbt(monkeypatch, tmp_path):
    """This environment's dbt is not started just to print its version (once per dbt step)."""
    from importlib.metadata import version

    import dagster_dbt.core.resource as dbt_resource

    from credit_scoring.analytics.dbt_project import DBT_EXECUTABLE, dbt_project
    from credit_scoring.analytics.dbt_resource import CreditScoringDbtCliResource

    def no_subprocess(*args, **kwargs):
        raise AssertionError(f"dbt was started: {args}")

    monkeypatch.setattr(dbt_resource, "check_output", no_subprocess)
    ours = CreditScoringDbtCliResource(project_dir=dbt_project, dbt_executable=DBT_EXECUTABLE)
    assert str(ours._cli_version) == version("dbt-core")

    elsewhere = tmp_path / "dbt"
    elsewhere.write_text("#!/bin/sh\necho 1.11.16\n")
    elsewhere.chmod(0o755)
    other = CreditScoringDbtCliResource(project_dir=dbt_project, dbt_executable=str(elsewhere))
    with pytest.raises(AssertionError, match="dbt was started"):
        _ = other._cli_version


def test_dbt_reads_an_s3_lake_through_s3fs_and_a_local_lake_without_it(monkeypatch):
    """The `s3` target is the `local` one plus s3fs (uncached listings); the deployment picks
    it from the lake's URL, so a local lake never pays for importing s3fs and botocore."""
    import yaml

    from credit_scoring.analytics.dbt_project import DBT_PROJECT_DIR
    from credit_scoring.core.settings import LAKE_URL_VAR
    from credit_scoring.deployment import build_resources

    profile = yaml.safe_load((DBT_PROJECT_DIR / "profiles.yml").read_text())["dbt_analytics"]
    local, s3 = profile["outputs"]["local"], profile["outputs"]["s3"]
    assert profile["target"] == "local"
    assert "filesystems" not in local
    assert {key: value for key, value in s3.items() if key != "filesystems"} == local
    assert s3["filesystems"] == [{"fs": "s3", "use_listings_cache": False}]

    monkeypatch.delenv(LAKE_URL_VAR, raising=False)
    assert build_resources()["dbt"].target is None  # the profile's default: local
    monkeypatch.setenv(LAKE_URL_VAR, "s3://lake/credit-scoring")
    assert build_resources()["dbt"].target == "s3"


def test_published_models_report_their_rows_and_columns_and_nothing_else_changes():
    import pyarrow as pa

    from credit_scoring.analytics.dbt_assets import with_published_metadata
    from credit_scoring.analytics.publish import Published

    schema = pa.schema([("application_id", pa.string()), ("income_90d", pa.float64())])
    features = dg.Output(None, "applicant_features", metadata={"unique_id": "model.x.features"})
    staging = dg.Output(None, "stg", metadata={"unique_id": "model.x.stg_silver__accounts"})
    check = dg.AssetCheckResult(passed=True, check_name="not_null", asset_key="features")

    enriched = with_published_metadata(
        [features, staging, check], {"features": Published(rows=42, schema=schema)}
    )

    assert enriched[0].metadata["unique_id"].value == "model.x.features"
    assert enriched[0].metadata["dagster/row_count"].value == 42
    columns = enriched[0].metadata["dagster/column_schema"].schema.columns
    assert [(c.name, c.type) for c in columns] == [
        ("application_id", "string"),
        ("income_90d", "double"),
    ]
    assert enriched[1:] == [staging, check]


def test_a_dev_parse_replaces_the_manifest_whole_and_never_rewrites_it_under_a_reader(tmp_path):
    """``dagster dev`` parses on every load while other processes load the same project: a
    reader holding the old manifest keeps all of it, and the new one arrives complete."""
    project_dir = tmp_path / "dbt_analytics"
    shutil.copytree(
        DBT_PROJECT_DIR, project_dir, ignore=shutil.ignore_patterns("logs", "run", "compiled")
    )
    project = DbtProject(project_dir=project_dir, profiles_dir=project_dir)
    manifest = Path(project.manifest_path)
    assert manifest.exists(), "make test parses the project before the tests run"
    before = manifest.read_bytes()

    with manifest.open("rb") as held_by_a_loading_process:
        parse_in_place(project)
        assert held_by_a_loading_process.read() == before

    assert json.loads(manifest.read_bytes())["nodes"], "the new manifest is whole"
    assert (manifest.parent / PARTIAL_PARSE).exists()
    assert not list(manifest.parent.glob(".parse-*")), "the staging folder is gone"


def test_each_dbt_step_is_stamped_by_the_lake_tables_its_models_read():
    """Every source of the project is a lake table some step's build is stamped by; the
    features do not wait for the decisions they come before."""
    from credit_scoring.analytics.dbt_assets import dbt_features, dbt_monitoring

    manifest = json.loads(ensure_manifest().read_text())
    folders = {"lake": "", "silver": "silver/", "scoring": "scoring/"}
    sources = {
        folders[source["source_name"]] + source["name"] for source in manifest["sources"].values()
    }
    features, monitoring = sources_of(dbt_features), sources_of(dbt_monitoring)
    assert set(features) | set(monitoring) == sources
    assert features == ["applications", "silver/accounts", "silver/transactions"]
    assert monitoring == ["scoring/credit_decisions", "scoring/decision_status"]
    assert all(table_for(name) for name in sources)


def test_a_passing_build_is_reused_until_a_source_the_project_or_a_published_file_changes(
    tmp_path, monkeypatch
):
    store = LakeStore(tmp_path / "lake")
    day, window = "2026-10-05", {"min_date": "2026-10-05", "max_date": "2026-10-06"}
    silver = table_for("silver/transactions")
    features = DBT_MODEL_TABLES["applicant_features"]
    store.write_arrow(silver, day, silver.schema.empty_table())
    store.write_arrow(features, day, pa.table({"application_id": ["A"]}))
    selection = {"assets": ["applicant_features"], "checks": ["applicant_features:not_null"]}
    sources = ["silver/transactions"]
    # a build whose test warned: the warning is what a reuse reports again
    events = [
        dg.AssetCheckResult(
            asset_key=dg.AssetKey("applicant_features"),
            check_name="not_null",
            passed=False,
            severity=dg.AssetCheckSeverity.WARN,
        )
    ]

    def reuse(**changes) -> DbtReuse:
        arguments = {"window": window, "selection": selection} | changes
        return DbtReuse(store, "dbt_features", days=[day], sources=sources, **arguments)

    def keep() -> None:
        reuse().keep({"applicant_features": 1}, events)

    assert reuse().recall() is None  # never built
    keep()
    recalled = reuse().recall()
    assert recalled is not None
    assert recalled.result["published"] == {"applicant_features": 1}
    assert recalled.result["checks"] == {
        "applicant_features:not_null": {"passed": False, "severity": "WARN"}
    }

    # another window, or another selection, is another build
    assert reuse(window={"min_date": day, "max_date": "2026-10-07"}).recall() is None
    assert reuse(selection={"assets": ["applicant_features"], "checks": []}).recall() is None

    # a model of the project changed
    with monkeypatch.context() as patched:
        patched.setattr(dbt_reuse, "project_digest", lambda: "a changed project")
        assert reuse().recall() is None
    assert reuse().recall() is not None

    # the day re-ingested: silver's file rewritten, even with the same rows
    store.write_arrow(silver, day, silver.schema.empty_table())
    assert reuse().recall() is None
    keep()
    assert reuse().recall() is not None

    # a published file replaced behind the build's back
    store.write_arrow(features, day, pa.table({"application_id": ["B"]}))
    assert reuse().recall() is None


def test_the_project_digest_follows_the_projects_files_and_nothing_else(tmp_path, monkeypatch):
    copy = tmp_path / "dbt_analytics"
    shutil.copytree(DBT_PROJECT_DIR, copy, ignore=shutil.ignore_patterns("target", "logs"))
    monkeypatch.setattr(dbt_reuse, "DBT_PROJECT_DIR", copy)
    before = dbt_reuse.project_digest()

    (copy / "target").mkdir()
    (copy / "target" / "manifest.json").write_text("{}")
    assert dbt_reuse.project_digest() == before

    model = copy / "models" / "marts" / "applicant_features.sql"
    model.write_text(model.read_text() + "\n-- a changed model\n")
    assert dbt_reuse.project_digest() != before


def test_reused_models_are_reported_each_after_the_models_it_reads():
    from credit_scoring.analytics.dbt_assets import dbt_features

    keys = set(dbt_features.keys)
    order = in_build_order(dbt_features, keys)
    assert sorted(order) == sorted(keys)
    position = {key: index for index, key in enumerate(order)}
    read = [(dep.asset_key, spec.key) for spec in dbt_features.specs for dep in spec.deps]
    inside = [(upstream, key) for upstream, key in read if upstream in keys]
    assert inside, "the features step has models reading one another"
    assert all(position[upstream] < position[key] for upstream, key in inside)
