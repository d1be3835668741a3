"""Operator CLI for the ledger.

  python -m credit_scoring.ledger status [--partition D] [--applications] [--json]
  python -m credit_scoring.ledger reconcile --partition D [--json]
  python -m credit_scoring.ledger retry-errors --partition D [--application ID ...]
  python -m credit_scoring.ledger upgrade

``reconcile`` exits 1 when the partition does not reconcile, so it can gate a job. ``upgrade``
migrates the ledger database to the schema this code needs (Alembic), in place; a ledger that
needs it is refused by every other command with exit status 2 and a line saying so.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date

import pandas as pd

from credit_scoring.core.settings import SettingsError, load_settings
from credit_scoring.ledger import Ledger, LedgerSchemaError
from credit_scoring.ledger.engine import open_engine
from credit_scoring.ledger.upgrades import describe, upgrade


def _partition(value: str) -> str:
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"partition {value!r} is not a date: use YYYY-MM-DD"
        ) from None


def _print_frame(frame: pd.DataFrame, as_json: bool) -> None:
    if as_json:
        print(frame.to_json(orient="records", date_format="iso"))
    elif frame.empty:
        print("(no rows)")
    else:
        print(frame.to_markdown(index=False))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m credit_scoring.ledger",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    status = commands.add_parser("status", help="counts per status (and per application)")
    status.add_argument("--partition", type=_partition, action="append")
    status.add_argument("--applications", action="store_true", help="one row per application")
    status.add_argument("--json", action="store_true")
    rec = commands.add_parser("reconcile", help="bronze vs silver + rejects, silver vs ledger")
    rec.add_argument("--partition", type=_partition, required=True, action="append")
    rec.add_argument("--json", action="store_true")
    retry = commands.add_parser("retry-errors", help="ERROR -> PENDING for decision errors")
    retry.add_argument("--partition", type=_partition, required=True, action="append")
    retry.add_argument("--application", action="append")
    commands.add_parser("upgrade", help="migrate the ledger database to this code's schema")
    args = parser.parse_args(argv)

    try:
        settings = load_settings()
        if args.command == "upgrade":
            return _upgrade(settings.ledger_url)
        ledger = Ledger(settings.ledger_url)
    except (SettingsError, LedgerSchemaError) as exc:
        parser.exit(2, f"{parser.prog}: error: {exc}\n")
    if args.command == "status":
        if args.applications:
            frame = ledger.application_statuses(args.partition)
        else:
            frame = ledger.status_counts(args.partition)
        _print_frame(frame, args.json)
        return 0
    if args.command == "retry-errors":
        count = ledger.retry_errors(args.partition, args.application)
        print(f"{count} ledger row(s) returned from ERROR to PENDING")
        return 0
    # the reconciliation reads the lake and flattens bronze: imported only for this command
    from credit_scoring.lake.storage import LakeStore
    from credit_scoring.silver.reconciliation import reconcile

    store = LakeStore(settings.lake_root)
    reports = [reconcile(store, ledger, day) for day in args.partition]
    if args.json:
        print(json.dumps([r.as_dict() for r in reports], indent=2))
    else:
        for report in reports:
            verdict = "OK" if report.ok else "MISMATCH"
            body = {k: v for k, v in report.as_dict().items() if k not in ("examples", "ok")}
            print(f"partition {report.partition}: {verdict}")
            print(pd.DataFrame([body]).T.rename(columns={0: "count"}).to_markdown())
            for line in report.examples:
                print(f"  {line}")
    return 0 if all(r.ok for r in reports) else 1


def _upgrade(url: str) -> int:
    engine = open_engine(url)
    result = upgrade(engine)
    where = describe(engine)
    if result.before == result.after:
        print(f"ledger {where} is already at revision {result.after}")
    else:
        before = result.before or "none"
        if result.baseline_stamped:
            before = "from before migrations (stamped at the baseline revision)"
        print(f"ledger {where} upgraded: {before} -> revision {result.after}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
