"""Run the asset graph for a day or a range of days in this process (demo, benchmarks, tests).

Operators use the UI or ``dagster asset materialize``; this is the same graph executed as one
run by ``dagster.execute_job``, the call a launched run makes, through the code location's own
executor (in-process by default) and recorded in ``DAGSTER_HOME``. So the demo and the
benchmarks measure exactly what an operator runs, minus the CLI's start-up cost. (Not
``execute_in_process``: it keeps every step's output in memory until the run ends, for tests to
read back, which a launched run never does; on a 2M-transaction day that held gigabytes.)

    python -m devtools.runner --partition 2026-10-05
    python -m devtools.runner --range 2026-10-05...2026-10-07 [--select GROUP ...]

A bad partition key (not a date, before ``CREDIT_SCORING_START_DATE``, after today in UTC), a
bad setting or a missing endpoint exits with status 2 and one line saying what to fix, before
Dagster is loaded.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

from credit_scoring.core.settings import (
    START_DATE_VAR,
    SettingsError,
    load_endpoints,
    load_settings,
)

if TYPE_CHECKING:
    import dagster as dg


def _day(value: str) -> str:
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date: use YYYY-MM-DD") from None


def parse_range(value: str) -> tuple[str, str]:
    """``A...B`` (the CLI's own spelling) -> (A, B), validated and ordered."""
    start, sep, end = value.partition("...")
    if not sep:
        raise argparse.ArgumentTypeError(
            f"range {value!r}: use START...END, e.g. 2026-10-05...2026-10-07"
        )
    first, last = _day(start), _day(end)
    if first > last:
        raise argparse.ArgumentTypeError(f"range {value!r} ends before it starts")
    return first, last


def check_partitions(first: str, last: str, start_date: date, today: date) -> None:
    """Refuse days outside the partitions: ``start_date`` .. ``today`` (UTC), inclusive.

    Dagster would refuse them too, but only after loading the code location and with a
    message about partition keys that does not say which setting or day to change.
    """
    if date.fromisoformat(first) < start_date:
        raise ValueError(
            f"partition {first} is before the first partition, {start_date.isoformat()} "
            f"({START_DATE_VAR})"
        )
    if date.fromisoformat(last) > today:
        raise ValueError(
            f"partition {last} is in the future: the last partition is today, "
            f"{today.isoformat()} (UTC)"
        )


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while the code location is imported, then
    freeze what the import built out of later collections.

    Importing dagster, dagster-dbt, dbt's modules, pandas and the code location allocates
    about 530,000 objects that live as long as the process, and the collector
    walked them again and again as they piled up (0.6-0.7 s of the import's 2.5 s). Frozen,
    they are not walked by the run's own full collections either (until silver's slices
    unfreeze them): a re-run of a finished 2M-transaction day took 6.5 s instead of 7.3
    (medians of five, alternated), and the first run spent 1.4 s in collections instead of 2.3.
    A launched run (``dagster api execute_run``) imports the code location its own way.
    """
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()


def whole_graph_job() -> dg.JobDefinition:
    """The job the schedule, the sensor and backfills run: every asset and check of the graph."""
    from credit_scoring.automation.jobs import daily_scoring_job
    from credit_scoring.definitions import defs

    return defs.resolve_job_def(daily_scoring_job.name)


def run(
    start: str,
    end: str | None = None,
    *,
    groups: list[str] | None = None,
    run_config: dict | None = None,
    instance: dg.DagsterInstance | None = None,
    raise_on_error: bool = True,
) -> dg.JobExecutionResult:
    """Materialise the graph (or some asset groups) for the days ``start``..``end`` in one run."""
    import dagster as dg

    from devtools.instance import local_instance

    selection = None
    if groups:
        from credit_scoring.definitions import defs

        selection = dg.AssetSelection.groups(*groups).resolve(defs.resolve_asset_graph())
    if end is None or end == start:
        tags = {"dagster/partition": start}
    else:
        tags = {
            "dagster/asset_partition_range_start": start,
            "dagster/asset_partition_range_end": end,
        }
    owned = instance is None
    instance = instance or local_instance()
    try:
        return dg.execute_job(
            dg.reconstructable(whole_graph_job),
            instance,
            run_config=run_config,
            tags=tags,
            raise_on_error=raise_on_error,
            asset_selection=list(selection) if selection else None,
        )
    finally:
        if owned:
            instance.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devtools.runner",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--partition", type=_day)
    target.add_argument("--range", type=parse_range, dest="days")
    parser.add_argument(
        "--select",
        action="append",
        metavar="GROUP",
        help="asset group(s) to run (default: the whole graph)",
    )
    args = parser.parse_args(argv)
    start, end = (args.partition, args.partition) if args.partition else args.days
    try:
        settings = load_settings()
        load_endpoints()
        check_partitions(start, end, settings.start_date, datetime.now(UTC).date())
    except ValueError as exc:  # a SettingsError, or a day outside the partitions
        parser.error(str(exc))
    try:
        with collector_paused():
            import credit_scoring.definitions  # noqa: F401  (the import this pause is for)
        result = run(start, end, groups=args.select, raise_on_error=False)
    except SettingsError as exc:  # a setting read while the code location loads
        parser.error(str(exc))
    return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(main())
