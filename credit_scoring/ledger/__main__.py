"""Operator CLI for the ledger.

  python -m credit_scoring.ledger status [--partition D] [--applications] [--json]
  python -m credit_scoring.ledger reconcile --partition D [--json]
  python -m credit_scoring.ledger retry-errors --partition D [--application ID ...]

``reconcile`` exits 1 when the partition does not reconcile, so it can gate a job.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date

import pandas as pd

from credit_scoring.lake.storage import LakeStore
from credit_scoring.ledger.ledger import Ledger
from credit_scoring.reconcile import reconcile
from credit_scoring.settings import load_settings


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
    args = parser.parse_args(argv)

    settings = load_settings()
    ledger = Ledger(settings.ledger_url)
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


if __name__ == "__main__":
    sys.exit(main())
