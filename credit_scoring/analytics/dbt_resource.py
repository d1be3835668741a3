"""dagster-dbt's CLI resource, minus one ``dbt --version`` process and one in-process dbt
adapter per dbt step.

``DbtCliResource`` learns the dbt version by running ``dbt --version`` in a subprocess the
first time each step invokes dbt (the resource is built per step): a second or two of Python
start-up and dbt imports per step, twice per run, measured at 3.2 s of CPU per 500k-transaction
run. When the executable is this environment's own ``dbt`` its version is simply the installed
``dbt-core`` distribution's; any other executable is still asked.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from importlib.metadata import version as installed_version
from pathlib import Path

from dagster_dbt import DbtCliResource
from packaging import version

from credit_scoring.analytics.dbt_project import DBT_EXECUTABLE


class CreditScoringDbtCliResource(DbtCliResource):
    """``DbtCliResource`` that reads this environment's dbt version instead of running dbt."""

    @cached_property
    def _cli_version(self) -> version.Version:
        if Path(self.dbt_executable) == Path(DBT_EXECUTABLE):
            return version.parse(installed_version("dbt-core"))
        return super()._cli_version

    def _initialize_dbt_core_adapter(self, args: Sequence[str]) -> None:  # type: ignore[override]
        """No dbt adapter inside the run process.

        dagster-dbt builds one before every dbt step (importing and configuring dbt-core in the
        run process: seconds of CPU per step) only to fetch column metadata and row counts,
        which these assets never ask for; the dbt subprocess has its own adapter.
        """
        return None
