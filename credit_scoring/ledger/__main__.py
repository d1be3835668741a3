"""Operator CLI for the ledger (also installed as ``credit-scoring-ledger``).

  python -m credit_scoring.ledger status [--partition D | --from D --to D] [--status S]
                                         [--applications] [--json]
  python -m credit_scoring.ledger show APPLICATION_ID [--json]
  python -m credit_scoring.ledger reconcile --partition D [--json]
  python -m credit_scoring.ledger retry-errors --partition D [--application ID ...] [--json]
  python -m credit_scoring.ledger requeue-stuck [--older-than 30m] [--application ID ...] [--json]
  python -m credit_scoring.ledger locks [--json]
  python -m credit_scoring.ledger unlock PARTITION [--json]
  python -m credit_scoring.ledger upgrade [--json]

Exit status: 0 when the command did what it says; 1 when its answer is no (``reconcile``: the
partition does not reconcile; ``show``: no such application; ``requeue-stuck`` with
``--application``: a named claim is live, or none of them is SENT; ``unlock``: no such lock, or
its holder is alive); 2 for a bad argument or setting, or a ledger that needs ``upgrade``; 3
when the ledger's database or the lake cannot be reached. Errors are one line naming the value.
``--json`` prints one JSON document for scripts.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from datetime import date, timedelta
from typing import Any

import pandas as pd
import sqlalchemy as sa

from credit_scoring.core.settings import Settings, SettingsError, load_settings
from credit_scoring.ledger import STALE_SENT_AFTER, Ledger, LedgerSchemaError
from credit_scoring.ledger.engine import open_engine
from credit_scoring.ledger.queries import ApplicationStory, Days
from credit_scoring.ledger.schema import STATUSES
from credit_scoring.ledger.upgrades import describe, upgrade

DURATION = re.compile(r"^(\d+)([smhd])$")
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def _partition(value: str) -> str:
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"partition {value!r} is not a date: use YYYY-MM-DD"
        ) from None


def _duration(value: str) -> timedelta:
    match = DURATION.match(value.strip())
    if not match:
        raise argparse.ArgumentTypeError(
            f"duration {value!r} is not understood: use a number and s, m, h or d (e.g. 30m)"
        )
    return timedelta(**{UNITS[match.group(2)]: int(match.group(1))})


def _print_frame(frame: pd.DataFrame, as_json: bool) -> None:
    if as_json:
        print(frame.to_json(orient="records", date_format="iso"))
    elif frame.empty:
        print("(no rows)")
    else:
        print(frame.to_markdown(index=False))


def _print_json(document: Any) -> None:
    print(json.dumps(document, indent=2, default=str))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m credit_scoring.ledger",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    status = commands.add_parser("status", help="counts per status (and per application)")
    status.add_argument("--partition", type=_partition, action="append")
    status.add_argument("--from", dest="since", type=_partition, help="first day (inclusive)")
    status.add_argument("--to", dest="until", type=_partition, help="last day (inclusive)")
    status.add_argument("--status", choices=STATUSES, action="append", help="only these")
    status.add_argument("--applications", action="store_true", help="one row per application")
    status.add_argument("--json", action="store_true")
    show = commands.add_parser("show", help="one application's whole story")
    show.add_argument("application_id")
    show.add_argument("--json", action="store_true")
    rec = commands.add_parser("reconcile", help="bronze vs silver + rejects, silver vs ledger")
    rec.add_argument("--partition", type=_partition, required=True, action="append")
    rec.add_argument("--json", action="store_true")
    retry = commands.add_parser("retry-errors", help="ERROR -> PENDING for decision errors")
    retry.add_argument("--partition", type=_partition, required=True, action="append")
    retry.add_argument("--application", action="append")
    retry.add_argument("--json", action="store_true")
    requeue = commands.add_parser(
        "requeue-stuck", help="SENT -> PENDING for claims whose holder is gone"
    )
    requeue.add_argument(
        "--older-than",
        type=_duration,
        default=STALE_SENT_AFTER,
        help="age after which a claim held on another host counts as abandoned (default 30m)",
    )
    requeue.add_argument("--application", action="append")
    requeue.add_argument("--json", action="store_true")
    locks = commands.add_parser("locks", help="the lake partition locks held now")
    locks.add_argument("--json", action="store_true")
    unlock = commands.add_parser("unlock", help="release a lake lock whose holder is gone")
    unlock.add_argument("partition", help="a lock's name (table/day) or a day (YYYY-MM-DD)")
    unlock.add_argument("--json", action="store_true")
    upgrade_command = commands.add_parser(
        "upgrade", help="migrate the ledger database to this code's schema"
    )
    upgrade_command.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.command == "status" and args.partition and (args.since or args.until):
        parser.error("status: give --partition, or --from/--to, not both")
    if args.command == "status" and args.since and args.until and args.since > args.until:
        parser.error(f"status: --from {args.since} is after --to {args.until}")

    try:
        settings = load_settings()
        if args.command == "upgrade":
            return _upgrade(settings.ledger_url, as_json=args.json)
        ledger = Ledger(settings.ledger_url)
        return COMMANDS[args.command.replace("-", "_")](args, settings, ledger)
    except (SettingsError, LedgerSchemaError) as exc:
        parser.exit(2, f"{parser.prog}: error: {exc}\n")
    except (sa.exc.SQLAlchemyError, OSError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        parser.exit(3, f"{parser.prog}: error: the ledger or the lake is unreachable: {reason}\n")


def _status(args: argparse.Namespace, settings: Settings, ledger: Ledger) -> int:
    days = Days(
        tuple(args.partition) if args.partition else None, since=args.since, until=args.until
    )
    if args.applications:
        frame = ledger.application_statuses(days, statuses=args.status)
    else:
        frame = ledger.status_counts(days, statuses=args.status)
    _print_frame(frame, args.json)
    return 0


def _show(args: argparse.Namespace, settings: Settings, ledger: Ledger) -> int:
    from credit_scoring.ledger.story import render_story, story_document

    story = ledger.application_story(args.application_id)
    if story is None:
        print(
            f"application {args.application_id!r} is not in the ledger {describe(ledger.engine)}",
            file=sys.stderr,
        )
        return 1
    decision = stored_decision(settings.lake_root, story)
    if args.json:
        _print_json(story_document(story, decision))
    else:
        print(render_story(args.application_id, story, decision))
    return 0


def stored_decision(lake_root: str, story: ApplicationStory) -> dict[str, Any] | None:
    """The application's decision as stored in the lake (its day's file), if any."""
    from credit_scoring.lake.storage import LakeStore
    from credit_scoring.lake.tables import TABLES

    day = story.application.get("partition_date")
    if not day:
        return None
    decisions = LakeStore(lake_root).read(TABLES["scoring/credit_decisions"], [day])
    mine = decisions[decisions["application_id"] == story.application["application_id"]]
    if mine.empty:
        return None
    return {k: (None if pd.isna(v) else v) for k, v in mine.iloc[-1].to_dict().items()}


def _retry_errors(args: argparse.Namespace, settings: Settings, ledger: Ledger) -> int:
    count = ledger.retry_errors(args.partition, args.application)
    if args.json:
        _print_json({"reopened_rows": count})
    else:
        print(f"{count} ledger row(s) returned from ERROR to PENDING")
    return 0


def _requeue_stuck(args: argparse.Namespace, settings: Settings, ledger: Ledger) -> int:
    result = ledger.requeue_stuck(older_than=args.older_than, application_ids=args.application)
    if args.json:
        _print_json({"requeued": result.requeued, "live": result.live})
    else:
        print(f"{len(result.requeued)} claim(s) whose holder is gone returned to PENDING")
        _print_frame(pd.DataFrame(result.requeued), as_json=False)
        if result.live:
            print(f"{len(result.live)} live claim(s) left as they are:")
            _print_frame(pd.DataFrame(result.live), as_json=False)
    if args.application and not (result.requeued or result.live):
        print(f"none of {args.application} is SENT in the ledger {describe(ledger.engine)}")
        return 1
    return 1 if args.application and result.live else 0


def _locks(args: argparse.Namespace, settings: Settings, ledger: Ledger) -> int:
    from credit_scoring.lake.locks import held_locks

    _print_frame(pd.DataFrame([vars(lock) for lock in held_locks(ledger.engine)]), args.json)
    return 0


def _unlock(args: argparse.Namespace, settings: Settings, ledger: Ledger) -> int:
    from credit_scoring.lake.locks import release_dead_locks

    released, refused = release_dead_locks(ledger.engine, args.partition)
    if args.json:
        _print_json(
            {"released": [vars(x) for x in released], "refused": [vars(x) for x in refused]}
        )
    else:
        for lock in released:
            print(f"released {lock.name} (held by {lock.owner}, gone)")
        for lock in refused:
            print(
                f"refused {lock.name}: held by {lock.owner}, alive (its lease runs to "
                f"{lock.expires_at} and is renewed while it writes)"
            )
        if not released and not refused:
            print(f"no lake lock named {args.partition!r} or of that day is held")
    return 0 if released and not refused else 1


def _reconcile(args: argparse.Namespace, settings: Settings, ledger: Ledger) -> int:
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


COMMANDS = {
    "status": _status,
    "show": _show,
    "reconcile": _reconcile,
    "retry_errors": _retry_errors,
    "requeue_stuck": _requeue_stuck,
    "locks": _locks,
    "unlock": _unlock,
}


def _upgrade(url: str, *, as_json: bool = False) -> int:
    engine = open_engine(url)
    result = upgrade(engine)
    where = describe(engine)
    if as_json:
        _print_json(
            {
                "ledger": where,
                "before": result.before,
                "after": result.after,
                "baseline_stamped": result.baseline_stamped,
            }
        )
    elif result.before == result.after:
        print(f"ledger {where} is already at revision {result.after}")
    else:
        before = result.before or "none"
        if result.baseline_stamped:
            before = "from before migrations (stamped at the baseline revision)"
        print(f"ledger {where} upgraded: {before} -> revision {result.after}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
