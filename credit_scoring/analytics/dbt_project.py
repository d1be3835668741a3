"""The dbt project handle, and making sure its manifest exists before assets are built.

``@dbt_assets`` reads ``manifest.json`` when the code location loads. Under ``dagster dev`` it
is regenerated here with the venv's dbt; ``make test``/``make demo`` run ``dbt parse`` first; and
a fresh checkout loaded any other way parses once here instead of failing with a missing file.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from dagster_dbt import DbtProject

from credit_scoring.core.settings import HOME_VAR, REPO_ROOT, load_settings

DBT_PROJECT_DIR = REPO_ROOT / "dbt_analytics"
#: The dbt installed next to this interpreter, so an un-activated venv still finds it.
DBT_EXECUTABLE = str(Path(sys.executable).with_name("dbt"))

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


def dbt_env() -> dict[str, str]:
    """The environment dbt needs: CREDIT_SCORING_HOME as an absolute path (see profiles.yml)."""
    return {**os.environ, HOME_VAR: str(load_settings().home)}


def export_dbt_environment() -> None:
    """Make this process's environment what dbt needs before dagster-dbt spawns it.

    dagster-dbt hands dbt this process's environment; the profile and the lake sources read
    ``CREDIT_SCORING_HOME``, which must therefore be set and absolute (it defaults to
    ``.credit_scoring`` in the repository when unset).
    """
    os.environ.update(dbt_env())


def ensure_manifest(project: DbtProject = dbt_project) -> Path:
    """Parse the project if no manifest exists yet, or always under ``dagster dev``.

    ``DbtProject.prepare_if_dev`` would do the latter but looks for ``dbt`` on PATH, which an
    un-activated virtualenv does not provide; the venv's own dbt is used instead.
    """
    if os.environ.get("DAGSTER_IS_DEV_CLI") or not project.manifest_path.exists():
        subprocess.run(
            [
                DBT_EXECUTABLE,
                "parse",
                "--quiet",
                "--project-dir",
                str(project.project_dir),
                "--profiles-dir",
                str(project.profiles_dir),
            ],
            check=True,
            env=dbt_env(),
            cwd=project.project_dir,
        )
    return project.manifest_path
