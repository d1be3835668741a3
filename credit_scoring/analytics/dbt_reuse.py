"""A dbt step's build of a window, reused while nothing it was built from has changed.

Re-running a finished day would otherwise start dbt and rebuild every model of the window
from the same lake rows (10 s for a day of 2M transactions). A build depends on the lake
files of its sources for the window's days, the dbt project's files, the window and what the
run selected; once a build and all its tests have passed, the step keeps a digest of those
beside what it published (:mod:`credit_scoring.lake.reuse`). The next time the digest is the
same and the published files are still the ones that build wrote, the step reports the
selected models as materialised and their tests' results as that build had them, naming the
build they come from, and does not start dbt.

Any write to a source partition of the window (new silver rows, a new decision), any change of
a model, macro, seed, test or the project's YAML, and any change to a published file rebuild.
A failed build is never kept (dbt fails the step on an error-severity test).
"""

from __future__ import annotations

import graphlib
import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import dagster as dg

from credit_scoring.analytics.dbt_project import DBT_PROJECT_DIR
from credit_scoring.lake.reuse import Memo, Recalled, digest, file_stamps
from credit_scoring.lake.storage import LakeStore
from credit_scoring.lake.tables import DBT_MODEL_TABLES, table_for

#: Changed whenever how a build's inputs are described changes.
LOGIC_VERSION = 1
#: Everything of the project a build's result depends on.
PROJECT_PARTS = ("models", "macros", "seeds", "tests", "dbt_project.yml", "profiles.yml")


def project_digest() -> str:
    """A digest of every file of the project a build reads (a few dozen small files)."""
    files = []
    for part in PROJECT_PARTS:
        path = DBT_PROJECT_DIR / part
        files += sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    hasher = hashlib.sha256()
    for path in files:
        hasher.update(str(path.relative_to(DBT_PROJECT_DIR)).encode() + b"\0")
        hasher.update(path.read_bytes() + b"\0")
    return hasher.hexdigest()


def sources_of(step: dg.AssetsDefinition) -> list[str]:
    """The lake tables a dbt step's models read: the step's upstream assets, each a lake table
    under its own path (``silver/transactions``)."""
    own = set(step.keys)
    upstream = {dep.asset_key for spec in step.specs for dep in spec.deps} - own
    return sorted("/".join(key.path) for key in upstream)


def in_build_order(step: dg.AssetsDefinition, keys: set[dg.AssetKey]) -> list[dg.AssetKey]:
    """``keys`` of the step, each after the step's models it reads (Dagster requires a
    multi-asset's materialisations in that order)."""
    needs = {
        spec.key: {dep.asset_key for dep in spec.deps} & keys
        for spec in step.specs
        if spec.key in keys
    }
    return list(graphlib.TopologicalSorter(needs).static_order())


def selection_of(context: dg.AssetExecutionContext) -> dict[str, list[str]]:
    """What the run asked this step for: its models and their tests."""
    return {
        "assets": sorted(key.to_user_string() for key in context.selected_asset_keys),
        "checks": sorted(
            check_label(key.asset_key, key.name) for key in context.selected_asset_check_keys
        ),
    }


def _published_stamps(store: LakeStore, paths: list[str], days: list[str]) -> dict[str, Any]:
    return file_stamps(store, [DBT_MODEL_TABLES[path] for path in paths], days)


@dataclass
class DbtReuse:
    """The reuse decision of one dbt step over one window (inputs described at creation)."""

    store: LakeStore
    step: str
    window: Mapping[str, str]
    days: list[str]
    selection: dict[str, list[str]]
    sources: list[str]
    inputs: str = field(init=False)

    def __post_init__(self) -> None:
        sources = [table_for(name) for name in self.sources]
        self.inputs = digest(
            {
                "logic": LOGIC_VERSION,
                "step": self.step,
                "window": dict(self.window),
                "selection": self.selection,
                "project": project_digest(),
                "lake": str(self.store.root),
                "sources": file_stamps(self.store, sources, self.days),
            }
        )

    @property
    def memo(self) -> Memo:
        key = f"{self.window['min_date']}_{self.window['max_date']}"
        return Memo(self.store, f"dbt_{self.step}", key)

    def recall(self) -> Recalled | None:
        """The kept build of exactly these inputs whose published files are still its own."""
        recalled = self.memo.recall(self.inputs)
        if recalled is None:
            return None
        published = recalled.result.get("published", {})
        current = _published_stamps(self.store, sorted(published), self.days)
        if current != recalled.result.get("files"):
            return None
        if set(self.selection["checks"]) - set(recalled.result.get("checks", {})):
            return None
        return recalled

    def keep(self, published_rows: Mapping[str, int], events: list[Any]) -> None:
        """Keep the build that just succeeded: what it published, with those files' stamps,
        and its tests' results (a warning is kept as a warning)."""
        paths = sorted(published_rows)
        checks = {
            check_label(event.asset_key, event.check_name): {
                "passed": event.passed,
                "severity": event.severity.value,
            }
            for event in events
            if isinstance(event, dg.AssetCheckResult)
        }
        self.memo.keep(
            self.inputs,
            {
                "published": dict(published_rows),
                "files": _published_stamps(self.store, paths, self.days),
                "checks": checks,
            },
        )


def check_label(asset_key: dg.AssetKey | None, name: str) -> str:
    return f"{asset_key.to_user_string() if asset_key else ''}:{name}"


def reused_results(
    context: dg.AssetExecutionContext, recalled: Recalled
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    """The selected models as materialised and their tests' results, by the kept build, each
    model before those that read it and followed by its tests."""
    rows = recalled.result.get("published", {})
    kept = recalled.result.get("checks", {})
    note = {"reused_from": recalled.computed_at, "dbt": "not run: inputs unchanged"}
    checks_of: dict[dg.AssetKey, list[dg.AssetCheckKey]] = {}
    for check in context.selected_asset_check_keys:
        checks_of.setdefault(check.asset_key, []).append(check)
    for key in in_build_order(context.assets_def, set(context.selected_asset_keys)):
        metadata: dict[str, Any] = dict(note)
        if key.path[-1] in rows:
            metadata["dagster/row_count"] = rows[key.path[-1]]
        yield dg.MaterializeResult(asset_key=key, metadata=metadata)
        for check in sorted(checks_of.get(key, []), key=lambda c: c.name):
            result = kept[check_label(check.asset_key, check.name)]
            yield dg.AssetCheckResult(
                asset_key=check.asset_key,
                check_name=check.name,
                passed=result["passed"],
                severity=dg.AssetCheckSeverity(result["severity"]),
                metadata=note,
            )
