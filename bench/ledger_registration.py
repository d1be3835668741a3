"""``make bench-ledger``: one large day's life in the ledger (registered, registered again,
claimed for a decision, scored), SQLite against PostgreSQL, in one run.

    .venv/bin/python -m bench.ledger_registration [--applications 1000] [--per-application 800]
        [--repeat 3] [--postgres-url URL]

Registration is what silver's IO manager does for every day it lands: every transaction
inserted PENDING (insert-or-ignore), every application's row, applications marked SILVERED.
Each repeat registers the day on a new, empty ledger (first registration: every row new), then
again (re-run: every row already there), then claims every application for a decision and
marks them all scored: the decide step's ledger work. SQLite is a file in a temporary directory;
PostgreSQL is ``--postgres-url`` when given, else a throwaway local server
(:mod:`devtools.postgres`; ``make postgres`` installs the server programs). Medians of the
repeats, and every repeat's time, go to ``bench/results/ledger-registration-<date>.md``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import NamedTuple

import pandas as pd

from credit_scoring.ledger import Ledger
from credit_scoring.ledger.engine import dispose_engines
from devtools.postgres import start_postgres

RESULTS = Path(__file__).parent / "results"
DAY = "2026-09-14"


def day_of(applications: int, per_application: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The day's transaction keys and applications, as silver hands them to the ledger."""
    app_ids = pd.Series([f"APP-{i:06d}" for i in range(applications)])
    repeated = app_ids.repeat(per_application).reset_index(drop=True)
    sequence = pd.Series(range(len(repeated))).astype(str)
    transactions = pd.DataFrame(
        {"application_id": repeated, "transaction_id": "tx-" + sequence, "partition_date": DAY}
    )
    return transactions, pd.DataFrame({"application_id": app_ids, "partition_date": DAY})


class Run(NamedTuple):
    """Seconds of one repeat's steps."""

    first: float
    again: float
    claim: float
    close: float


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def life_of_a_day(ledger: Ledger, frames: tuple[pd.DataFrame, pd.DataFrame]) -> Run:
    """Seconds of each step of the day's ledger work, on ``ledger`` (empty, at head)."""
    first = timed(lambda: ledger.register_transactions(*frames))
    again = timed(lambda: ledger.register_transactions(*frames))
    claimed: list[tuple[str, list[str]]] = []
    claim = timed(lambda: claimed.append(ledger.claim_for_decision([DAY])))
    token, won = claimed[0]
    assert len(won) == len(frames[1]), f"claimed {len(won)} of {len(frames[1])} applications"
    decisions = pd.DataFrame({"application_id": won, "decision_id": [f"d-{a}" for a in won]})
    close = timed(lambda: ledger.mark_scored(decisions, token=token))
    return Run(first, again, claim, close)


def measure(
    new_url: Callable[[], str], frames: tuple[pd.DataFrame, pd.DataFrame], repeat: int
) -> list[Run]:
    """Each repeat's steps, each repeat on a new ledger."""
    runs = []
    for _ in range(repeat):
        runs.append(life_of_a_day(Ledger(new_url()), frames))  # created at head before timing
        dispose_engines()
    return runs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--applications", type=int, default=1000)
    parser.add_argument("--per-application", type=int, default=800)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--postgres-url", help="an existing PostgreSQL database to use")
    args = parser.parse_args(argv)
    frames = day_of(args.applications, args.per_application)
    total = len(frames[0])
    print(f"{total:,} transactions of {args.applications:,} applications, {args.repeat} repeats")

    results: dict[str, list[Run]] = {}
    with tempfile.TemporaryDirectory(prefix="ledger-bench-") as scratch:
        counter = iter(range(1_000_000))
        results["SQLite (file, WAL)"] = measure(
            lambda: f"sqlite:///{scratch}/ledger-{next(counter)}.sqlite", frames, args.repeat
        )
        print("SQLite done")
        server = None if args.postgres_url else start_postgres()
        try:
            if args.postgres_url:
                results["PostgreSQL (given)"] = measure(
                    lambda: args.postgres_url, frames, 1
                )  # an existing database cannot be emptied between repeats
            else:
                results["PostgreSQL 15 (local, COPY)"] = measure(
                    lambda: server.url(server.create_database()), frames, args.repeat
                )
        finally:
            if server is not None:
                server.stop()
    print("PostgreSQL done")

    lines = [
        f"# The ledger through one day, {date.today().isoformat()}",
        "",
        f"{total:,} transactions ({args.applications:,} applications x "
        f"{args.per_application}) registered on an empty ledger, then again; then every "
        "application claimed for a decision and marked scored. Medians of "
        f"{args.repeat} repeats (`python -m bench.ledger_registration`); runs list each "
        "repeat's first/again/claim/close.",
        "",
        "| ledger | first registration (s) | transactions/s | again, all present (s) "
        "| claim (s) | close (s) | whole day (s) | runs |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for name, runs in results.items():
        first, again, claim, close = (statistics.median(step) for step in zip(*runs, strict=True))
        whole = statistics.median(sum(run) for run in runs)
        every = ", ".join("/".join(f"{step:.1f}" for step in run) for run in runs)
        lines.append(
            f"| {name} | {first:.1f} | {total / first:,.0f} | {again:.1f} | {claim:.1f} "
            f"| {close:.1f} | {whole:.1f} | {every} |"
        )
    table = "\n".join(lines) + "\n"
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"ledger-registration-{date.today().isoformat()}.md"
    out.write_text(table)
    print(table)
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
