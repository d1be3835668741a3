"""Generate mock bank data: ``python -m mock_api.generate --applications N ... --out DIR``.

Writes, under ``DIR``:

- ``statements/*.csv``: Flinks statement exports (one row per transaction), one file per
  application date (split every ``--logins-per-file`` applications);
- ``applications.csv``: ``application_id,login_id,applied_at,requested_amount``;
- ``ground_truth.csv``: per application, the profile and the features the pipeline should
  compute (definitions in :mod:`mock_api.generator.ground_truth`);
- ``malformed_rows.csv``: every injected row (invalid ones and valid hostile-text ones).

Same arguments, same bytes: everything is drawn from ``--seed``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from mock_api.generator import GenerateConfig, generate


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return number


def _fraction(value: str) -> float:
    number = float(value)
    if not 0 <= number < 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {value}")
    return number


def _seed(value: str) -> int:
    number = int(value)
    if number < 0:
        raise argparse.ArgumentTypeError(f"must be non-negative, got {value}")
    return number


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m mock_api.generate",
        description="Generate synthetic Flinks statement exports, applications and ground truth.",
    )
    parser.add_argument("--applications", type=_positive, required=True, help="how many")
    parser.add_argument(
        "--start-date", type=date.fromisoformat, required=True, help="first application date"
    )
    parser.add_argument(
        "--days", type=_positive, required=True, help="spread applications over this many days"
    )
    parser.add_argument("--seed", type=_seed, required=True, help="random seed")
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument(
        "--history-days",
        type=_positive,
        default=365,
        help="days of bank history before each application (thin files have less)",
    )
    parser.add_argument(
        "--malformed-fraction",
        type=_fraction,
        default=0.0,
        help="add about this fraction x rows of malformed rows (default 0)",
    )
    parser.add_argument(
        "--logins-per-file",
        type=_positive,
        default=1000,
        help="split a day's statements into files of at most this many logins",
    )
    parser.add_argument(
        "--workers", type=_positive, default=None, help="worker processes (default: CPU count)"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    config = GenerateConfig(
        applications=args.applications,
        start_date=args.start_date,
        days=args.days,
        seed=args.seed,
        out=args.out,
        history_days=args.history_days,
        malformed_fraction=args.malformed_fraction,
        logins_per_file=args.logins_per_file,
        workers=args.workers,
    )
    summary = generate(config, progress=not args.quiet)
    if not args.quiet:
        print(
            f"generate: wrote {summary.applications} applications, {summary.rows:,} statement "
            f"rows ({summary.injected_rows} malformed) in {summary.statement_files} file(s) "
            f"under {config.out} in {summary.seconds:.1f}s",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
