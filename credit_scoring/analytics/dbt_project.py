"""The dbt project handle, the environment dbt runs in, and its manifest before assets load.

``@dbt_assets`` reads ``manifest.json`` when the code location loads. Under ``dagster dev`` it
is regenerated here with the venv's dbt; ``make test``/``make demo`` run ``dbt parse`` first; and
a fresh checkout loaded any other way parses once here instead of failing with a missing file.

A run's application-date window reaches dbt as two environment variables
(:data:`WINDOW_ENV`), not as ``--vars``: dbt discards its saved parse whenever ``--vars``
change, and a full parse costs seconds per dbt step, whereas a changed environment variable
only re-parses the models that read it. ``dbt build --vars '{"min_date": ...}'`` by hand still
works (vars win over the environment).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path

from dagster_dbt import DbtProject

from credit_scoring.core.environment import environment_set
from credit_scoring.core.settings import (
    DBT_MEMORY_LIMIT_VAR,
    HOME_VAR,
    REPO_ROOT,
    load_settings,
)

DBT_PROJECT_DIR = REPO_ROOT / "dbt_analytics"
#: The dbt installed next to this interpreter, so an un-activated venv still finds it.
DBT_EXECUTABLE = str(Path(sys.executable).with_name("dbt"))

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


#: dbt's database (profiles.yml): Dagster's dbt computes in memory and publishes to the lake.
DATABASE_VAR = "CREDIT_SCORING_DBT_DATABASE"
#: The folder a dbt step exports its models' window to (macros/export_window.sql).
EXPORT_DIR_VAR = "CREDIT_SCORING_DBT_EXPORT_DIR"
#: The folder dbt's DuckDB spills to beyond its memory limit (macros/memory_bounds.sql).
SPILL_DIR_VAR = "CREDIT_SCORING_DBT_SPILL_DIR"
IN_MEMORY = ":memory:"


def dbt_env() -> dict[str, str]:
    """The environment dbt needs: CREDIT_SCORING_HOME as an absolute path (see profiles.yml),
    and an in-memory database (the same value at every step, so dbt keeps its saved parse)."""
    return {**os.environ, HOME_VAR: str(load_settings().home), DATABASE_VAR: IN_MEMORY}


#: dbt's own variable for the level of its log file (``dbt.log`` in the step's target folder).
LOG_LEVEL_FILE_VAR = "DBT_LOG_LEVEL_FILE"

#: The environment variables that carry a run's window ``[min_date, max_date)`` to dbt
#: (read by ``macros/partition_window.sql``).
WINDOW_ENV = {"min_date": "CREDIT_SCORING_DBT_MIN_DATE", "max_date": "CREDIT_SCORING_DBT_MAX_DATE"}


@contextlib.contextmanager
def dbt_environment(
    window: Mapping[str, str], export_dir: Path | None = None, spill_dir: Path | None = None
) -> Iterator[None]:
    """This process's environment as dbt needs it while dagster-dbt spawns it, then restored.

    dagster-dbt hands dbt this process's environment (it takes no other): the profile and the
    lake sources read ``CREDIT_SCORING_HOME``, which must be set and absolute (it defaults to
    ``.credit_scoring`` in the repository when unset), the window travels as
    :data:`WINDOW_ENV`, the folder for the models' exports as :data:`EXPORT_DIR_VAR`, and the
    folder DuckDB spills to beyond its memory limit (``CREDIT_SCORING_DBT_MEMORY_LIMIT``, checked
    with the other settings) as :data:`SPILL_DIR_VAR` (one per step: two DuckDB processes must
    never share one). Steps of one run process execute one at a time, so nothing else reads
    the environment meanwhile.

    The step's ``dbt.log`` keeps dbt's info lines (each node, its result, every error) unless
    ``DBT_LOG_LEVEL_FILE`` asks for more: at dbt's default, debug, it also logs every query and
    connection, which costs each step most of a second of CPU; the SQL run is in the step's
    target folder (``run/``) either way.
    """
    values = {
        **dbt_env(),
        **{WINDOW_ENV[name]: value for name, value in window.items()},
        LOG_LEVEL_FILE_VAR: os.environ.get(LOG_LEVEL_FILE_VAR, "info"),
        DBT_MEMORY_LIMIT_VAR: load_settings().dbt_memory_limit,
    }
    if export_dir is not None:
        values[EXPORT_DIR_VAR] = str(export_dir)
    if spill_dir is not None:
        values[SPILL_DIR_VAR] = str(spill_dir)
    with environment_set(values):
        yield


PARTIAL_PARSE = "partial_parse.msgpack"
#: The profile's target for a lake on S3-compatible storage (profiles.yml); the default target,
#: unnamed, reads a lake on disk.
S3_TARGET = "s3"


def dbt_state_dir() -> Path:
    """Where dbt's saved parse and each step's target folder (``runs/<run id>-<step>-<nonce>``:
    dbt.log, run_results.json, the compiled SQL) live: ``$CREDIT_SCORING_HOME/dbt``. Logs and
    caches only, nothing another machine needs; prune old ``runs/`` folders at will."""
    return load_settings().home / "dbt"


def packaged_parse(dbt_target: str | None, project: DbtProject = dbt_project) -> Path:
    """The parse ``make manifest`` (and the image's build) leaves for a profile target: the
    default target's beside the manifest, any other's in ``target/<name>/``."""
    target = Path(project.manifest_path).parent
    return target / PARTIAL_PARSE if dbt_target is None else target / dbt_target / PARTIAL_PARSE


def _saved_parse(dbt_target: str | None) -> Path:
    name = PARTIAL_PARSE if dbt_target is None else f"{dbt_target}-{PARTIAL_PARSE}"
    return dbt_state_dir() / name


def new_target_path(label: str, dbt_target: str | None = None) -> Path:
    """A fresh target folder for one dbt invocation, seeded with a parse for its profile target.

    dbt throws a saved parse away and parses the whole project again (seconds per step) when
    the ``--target`` differs from the one it was made for, so the seed is the parse the last
    step on this home saved for the same target (:func:`save_parse`), else the one packaged
    with the project for it (:func:`packaged_parse`). Neither depends on the home or the lake:
    the sources read the lake's root only when dbt runs (``macros/lake_root.sql``).
    """
    target = dbt_state_dir() / "runs" / f"{label}-{uuid.uuid4().hex[:8]}"
    target.mkdir(parents=True)
    for seed in (_saved_parse(dbt_target), packaged_parse(dbt_target)):
        with contextlib.suppress(FileNotFoundError):
            shutil.copyfile(seed, target / PARTIAL_PARSE)
            break
    return target


def save_parse(target: Path, dbt_target: str | None = None) -> None:
    """Keep this invocation's parse for the next step on this home with the same profile
    target (atomic: steps of concurrent runs may save at once; dbt itself checks that a saved
    parse still applies)."""
    parsed = target / PARTIAL_PARSE
    if not parsed.exists():
        return
    saved = _saved_parse(dbt_target)
    staged = saved.with_name(f".{saved.name}.{uuid.uuid4().hex}")
    shutil.copyfile(parsed, staged)
    os.replace(staged, saved)


def ensure_manifest(project: DbtProject = dbt_project) -> Path:
    """Parse the project if no manifest exists yet, or always under ``dagster dev``.

    ``DbtProject.prepare_if_dev`` would do the latter but looks for ``dbt`` on PATH, which an
    un-activated virtualenv does not provide; the venv's own dbt is used instead.
    """
    if os.environ.get("DAGSTER_IS_DEV_CLI") or not project.manifest_path.exists():
        parse_in_place(project)
    return project.manifest_path


#: What a parse leaves in the project's target folder for others to read, in the order it is
#: moved there: the manifest last, so that a reader who sees the new manifest sees its parse too.
PARSE_OUTPUTS = (PARTIAL_PARSE, "manifest.json")


def parse_in_place(project: DbtProject = dbt_project) -> None:
    """``dbt parse`` into a staging folder, then each output moved into ``target/`` atomically.

    Every process that loads the code location reads ``target/manifest.json``, and dbt writes
    it in place: a ``dagster dev`` starting while another process loads would hand that
    process half a manifest. The staging folder sits inside ``target/`` (one filesystem, so
    the move is atomic) and starts from the current saved parse, so only what changed is
    parsed again.
    """
    target = Path(project.manifest_path).parent
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".parse-", dir=target) as staging_dir:
        staging = Path(staging_dir)
        with contextlib.suppress(FileNotFoundError):
            shutil.copyfile(target / PARTIAL_PARSE, staging / PARTIAL_PARSE)
        subprocess.run(
            [
                DBT_EXECUTABLE,
                "parse",
                "--quiet",
                "--project-dir",
                str(project.project_dir),
                "--profiles-dir",
                str(project.profiles_dir),
                "--target-path",
                str(staging),
            ],
            check=True,
            env=dbt_env(),
            cwd=project.project_dir,
        )
        for name in PARSE_OUTPUTS:
            if (staging / name).exists():
                os.replace(staging / name, target / name)
