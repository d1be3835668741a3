"""``make bench-scaled``: one generated day through the whole graph, embedded against the scaled
stack, side by side in one run.

    .venv/bin/python -m bench.scaled_stack [--applications 1000] [--repeat 3]

The embedded default keeps the SQLite ledger and the Parquet lake under the state directory;
the scaled stack puts the ledger on PostgreSQL (a throwaway local server, :mod:`devtools.postgres`)
and the lake on an S3-compatible server (moto, :mod:`devtools.s3`), reached as a deployment
reaches them: ``CREDIT_SCORING_LEDGER_URL``, ``CREDIT_SCORING_LAKE_URL`` and the ``AWS_*``
variables. Both run the same day of the same generated data against the same mock server; each
repeat runs both on fresh state (a new home, a new database, a new bucket), alternating which
goes first, so the machine's noise falls on both. Medians, each run's time and the per-stage
medians go to ``bench/results/scaled-stack-<date>.md``.

Both servers are local processes on this machine: the figures show what the scaled stack's
drivers and protocols cost (COPY and round trips to PostgreSQL, S3 requests through s3fs), not
a network's latency.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from datetime import date
from pathlib import Path

from bench.figures import (
    CONCURRENCY,
    DAY,
    STAGES,
    day_data,
    fresh_stack,
    generate_cached,
    run_graph,
    stage_figures,
)
from credit_scoring.core.settings import REPO_ROOT
from devtools.postgres import start_postgres
from devtools.s3 import start_s3
from mock_api.process import running_mock_server

RESULTS = Path(__file__).parent / "results"
MODES = ("embedded", "PostgreSQL + S3")


def table(runs: dict[str, list[dict]], transactions: int) -> str:
    """The markdown table: whole run, then each stage, medians per mode."""
    seen = {stage for mode in runs.values() for run in mode for stage in run["stages"]}
    in_order = [*dict.fromkeys(STAGES.values()), "checks"]
    stages = [stage for stage in in_order if stage in seen]
    header = f"| | {' | '.join(MODES)} | ratio |\n|---|" + "---:|" * (len(MODES) + 1) + "\n"

    def median(mode: str, stage: str | None) -> float:
        values = [
            (run["whole"] if stage is None else run["stages"].get(stage, {})).get("seconds", 0.0)
            for run in runs[mode]
        ]
        return statistics.median(values)

    lines = []
    for stage in [None, *stages]:
        embedded, scaled = (median(mode, stage) for mode in MODES)
        ratio = f"{scaled / embedded:.2f}" if embedded else "—"
        label = "**whole run** (s)" if stage is None else f"{stage} (s)"
        lines.append(f"| {label} | {embedded:.1f} | {scaled:.1f} | {ratio} |")
    whole = {mode: [run["whole"]["seconds"] for run in runs[mode]] for mode in MODES}
    every = "; ".join(f"{mode}: {', '.join(f'{s:.1f}' for s in whole[mode])} s" for mode in MODES)
    rate = statistics.median(whole[MODES[0]])
    return (
        header
        + "\n".join(lines)
        + f"\n\nEvery run's whole time — {every}. {transactions:,} transactions "
        f"({transactions / rate:,.0f}/s embedded).\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--applications", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cache", type=Path, default=REPO_ROOT / "bench" / "data")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    data = day_data(args.cache, args.applications)
    transactions = generate_cached(data, args.applications, 1, DAY)
    print(f"{args.applications} applications, {transactions:,} transactions", flush=True)
    runs: dict[str, list[dict]] = {mode: [] for mode in MODES}
    postgres, s3 = start_postgres(), start_s3()
    try:
        with (
            running_mock_server(data, args=("--threads", str(CONCURRENCY))) as server,
            tempfile.TemporaryDirectory(prefix="bench-scaled-") as scratch,
        ):
            for attempt in range(args.repeat):
                order = MODES if attempt % 2 == 0 else MODES[::-1]
                for mode in order:
                    home = Path(scratch) / f"{attempt}-{mode.split()[0].lower()}"
                    extra = None if mode == "embedded" else fresh_stack(postgres, s3)
                    run = run_graph(
                        home, server.base_url, data, DAY.isoformat(), DAY.isoformat(), extra
                    )
                    runs[mode].append(stage_figures(run, transactions))
                    tag = f"[{attempt + 1}/{args.repeat}] {mode}"
                    print(f"{tag}: {run['seconds']:.1f} s", flush=True)
    finally:
        s3.stop()
        postgres.stop()

    args.out.mkdir(parents=True, exist_ok=True)
    today = date.today().isoformat()
    path = args.out / f"scaled-stack-{today}.md"
    path.write_text(
        f"# One day through the whole graph: embedded against PostgreSQL + S3 ({today})\n\n"
        f"{args.applications} applications, one generated day, the whole graph in one run "
        f"(`python -m devtools.runner`), medians of {args.repeat} runs per mode, alternating "
        "which goes first. PostgreSQL and the S3-compatible server (moto) run on this "
        "machine.\n\n" + table(runs, transactions),
        encoding="utf-8",
    )
    print(path.read_text(encoding="utf-8"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
