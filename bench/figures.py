"""``make bench``: the whole graph at three sizes, against the download floor and a dlt peer.

    .venv/bin/python -m bench.figures [--sizes 125,625,2500] [--repeat 3] [--backfill-days 30]
        [--no-peer] [--no-scaled] [--smoke]

For each size (applications in one day, each with a year of history: about 800 transactions
per application, so 125/625/2,500 applications are about 100k/500k/2M transactions), against
the real mock server over HTTP (waitress, one process: its fault and request counters are
in-process state, 16 threads):

1. the floor: the same payloads downloaded with plain httpx at the pipeline's concurrency and
   thrown away (``bench.floor``), with httpx's own transport in the pipeline's split pools and
   with aiohttp's connection pool under httpx's API;
2. the whole graph for that day in one process (``python -m devtools.runner``) with the
   HTTP Taktile client: per stage the wall time (Dagster's step events), transactions per
   second and peak RSS (sampled every 100 ms over the process and its dbt children), and the
   same for the whole run;
3. the same day again, everything done: its time, and the Flinks and Taktile calls it made;
4. the peer: ingestion done with dlt (``bench.peer_dlt``), when dlt is installed.

Steps 1-4 are repeated ``--repeat`` times per size (each first run on a fresh state) and every
figure reported is the median of its runs; the runs' whole times are kept beside them, since
this machine is shared and noisy. Then the largest day as many times on the scaled stack
(ledger on a local PostgreSQL, lake on a local S3-compatible server, fresh database and bucket
each time; ``--no-scaled`` skips it), and the smallest size spread over ``--backfill-days`` days:
one single-run backfill against one run per day, same data. Writes
``bench/results/<date>.json``, ``<date>.md`` (the tables) and ``<date>.png`` (time against size
per stage); a later run of the same day writes ``<date>-2.*``, and so on. The markdown opens
with the performance targets: each figure of the baseline run (:data:`bench.report.BASELINE`),
this run's and its bound, side by side. ``--smoke`` runs a tiny size once with a 2-day
backfill, for the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import pandas as pd

from bench import report
from credit_scoring.core.settings import REPO_ROOT
from devtools.postgres import PostgresServer, start_postgres
from devtools.s3 import S3Server, start_s3
from mock_api.generator import GenerateConfig, generate
from mock_api.process import running_mock_server

DAY = date(2026, 9, 14)
#: The benchmarks' first partition: their generated days (up to a month before DAY) are in range.
START_DATE = "2025-01-01"
CUSTOMER_ID = "bench"
CONCURRENCY = 16
#: Dagster step -> the stage it is reported under; every other step is an asset check.
STAGES = {
    "applications": "fetch + bronze",
    "bronze__flinks_accounts_detail": "fetch + bronze",
    "silver": "silver + ledger",
    "dbt_features": "dbt features",
    "credit_decisions": "decide + store",
    "dbt_monitoring": "dbt monitoring",
}
FLINKS_ENDPOINTS = ("Authorize", "GetAccountsDetail", "GetAccountsDetailAsync")


def day_data(cache: Path, applications: int) -> Path:
    """Where the generated one-day data set of ``applications`` applications is cached."""
    return cache / f"day-{applications}"


def generate_day(out: Path, applications: int, days: int, start: date) -> int:
    summary = generate(
        GenerateConfig(
            applications=applications,
            start_date=start,
            days=days,
            seed=42,
            out=out,
            history_days=365,
        ),
        progress=False,
    )
    return int(summary.rows)


def runner_env(
    home: Path, base_url: str, data: Path, extra: dict[str, str] | None = None
) -> dict[str, str]:
    return {
        **os.environ,
        "CREDIT_SCORING_HOME": str(home),
        "DAGSTER_HOME": str(home / "dagster_home"),
        "FLINKS_BASE_URL": base_url,
        "FLINKS_CUSTOMER_ID": CUSTOMER_ID,
        "TAKTILE_BASE_URL": base_url,
        "CREDIT_SCORING_APPLICATIONS": str(data / "applications.csv"),
        "CREDIT_SCORING_START_DATE": START_DATE,
        **(extra or {}),
    }


def run_graph(
    home: Path,
    base_url: str,
    data: Path,
    start: str,
    end: str,
    extra_env: dict[str, str] | None = None,
) -> dict:
    """One whole-graph run in its own process: wall time, samples of its memory, step stats
    (``extra_env``: e.g. the ledger and lake URLs of the scaled stack)."""
    target = ["--partition", start] if start == end else ["--range", f"{start}...{end}"]
    home.mkdir(parents=True, exist_ok=True)
    rss_file = home / f"rss-{time.monotonic_ns()}.json"
    started = time.time()
    completed = subprocess.run(
        [sys.executable, "-m", "bench.peak_rss", str(rss_file), "devtools.runner", *target],
        env=runner_env(home, base_url, data, extra_env),
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    )
    elapsed = time.time() - started
    if completed.returncode != 0:
        raise RuntimeError(completed.stdout[-3000:] + completed.stderr[-3000:])
    rss = json.loads(rss_file.read_text())
    return {"seconds": elapsed, "rss": rss, "steps": step_windows(home)}


def step_windows(home: Path) -> list[tuple[str, float, float]]:
    """(step key, start, end) of every step of the latest run, from Dagster's event log."""
    with dg.DagsterInstance.from_config(str(home / "dagster_home")) as instance:
        run = instance.get_runs(limit=1)[0]
        stats = instance.get_run_step_stats(run.run_id)
    return [(s.step_key, s.start_time, s.end_time) for s in stats if s.start_time and s.end_time]


def stage_figures(run: dict, transactions: int) -> dict:
    """Per stage and for the whole run: seconds, transactions/s and peak RSS (process + dbt)."""
    samples = run["rss"]["samples"]

    def peak(windows: list[tuple[float, float]]) -> float | None:
        inside = [own + kids for t, own, kids in samples if any(a <= t <= b for a, b in windows)]
        return max(inside) if inside else None

    grouped: dict[str, list[tuple[float, float]]] = {}
    for key, begin, end in run["steps"]:
        grouped.setdefault(STAGES.get(key, "checks"), []).append((begin, end))
    stages = {}
    for stage, windows in grouped.items():
        seconds = sum(end - begin for begin, end in windows)
        stages[stage] = {
            "seconds": round(seconds, 2),
            "transactions_per_second": round(transactions / seconds) if seconds else None,
            "peak_rss_mb": peak(windows),
        }
    whole_peak = max((own + kids for _, own, kids in samples), default=None)
    return {
        "stages": stages,
        "whole": {
            "seconds": round(run["seconds"], 2),
            "transactions_per_second": round(transactions / run["seconds"]),
            "peak_rss_mb": whole_peak,
            "ru_maxrss_self_mb": run["rss"]["self_mb"],
            "ru_maxrss_children_mb": run["rss"]["children_mb"],
        },
    }


def optional_peer(base_url: str, data: Path, workdir: Path) -> dict | None:
    """The dlt peer's figures, or None (with the reason printed) when dlt is not installed."""
    try:
        from bench.peer_dlt import run_dlt_peer
    except ImportError as exc:
        print(f"dlt peer skipped: {exc}", file=sys.stderr)
        return None
    return run_dlt_peer(
        base_url, CUSTOMER_ID, data / "applications.csv", workdir, concurrency=CONCURRENCY
    )


def median_figures(runs: list[dict]) -> dict:
    """Per stage and for the whole run, the median over ``runs`` of each figure.

    Each figure is its own median (the stage times of one run do not add up to another's), and
    every run's whole time is kept under ``runs_seconds``.
    """

    def med(values: list) -> float | None:
        present = [v for v in values if v is not None]
        return statistics.median(present) if present else None

    stages = {}
    for stage in {name for run in runs for name in run["stages"]}:
        rows = [run["stages"][stage] for run in runs if stage in run["stages"]]
        stages[stage] = {key: med([row[key] for row in rows]) for key in rows[0]}
    whole = {key: med([run["whole"][key] for run in runs]) for key in runs[0]["whole"]}
    whole["runs_seconds"] = [run["whole"]["seconds"] for run in runs]
    return {"stages": stages, "whole": whole}


def measure_size(
    name: str, applications: int, cache: Path, scratch: Path, peer: bool, repeat: int = 1
) -> dict:
    """``repeat`` times: the floor, a first run on a fresh home, its re-run, the peer; medians."""
    data = day_data(cache, applications)
    transactions = generate_cached(data, applications, 1, DAY)
    logins = list(pd.read_csv(data / "applications.csv")["login_id"])
    figures: dict = {
        "name": name,
        "applications": applications,
        "transactions": transactions,
        "repeat": repeat,
    }
    print(f"[{name}] {applications} applications, {transactions:,} transactions", flush=True)
    floors, fast_floors, firsts, reruns, peers, mocks, calls = [], [], [], [], [], [], []
    with running_mock_server(data, args=("--threads", str(CONCURRENCY))) as server:
        from bench.floor import download_floor

        for attempt in range(repeat):
            tag = f"[{name} {attempt + 1}/{repeat}]"
            floors.append(download_floor(server.base_url, CUSTOMER_ID, logins, CONCURRENCY))
            fast_floors.append(
                download_floor(
                    server.base_url, CUSTOMER_ID, logins, CONCURRENCY, transport="aiohttp"
                )
            )
            print(
                f"{tag} floor {floors[-1]['seconds']:.2f} s "
                f"(on aiohttp's pool {fast_floors[-1]['seconds']:.2f} s)",
                flush=True,
            )
            home = scratch / f"home-{applications}-{attempt}"
            server.reset_stats()
            first = run_graph(home, server.base_url, data, DAY.isoformat(), DAY.isoformat())
            firsts.append(stage_figures(first, transactions))
            mocks.append(server.stats())
            print(f"{tag} first run {first['seconds']:.1f} s", flush=True)
            server.reset_stats()
            again = run_graph(home, server.base_url, data, DAY.isoformat(), DAY.isoformat())
            requests = server.stats()["requests"]
            reruns.append(stage_figures(again, transactions))
            calls.append(
                (
                    sum(requests.get(e, 0) for e in FLINKS_ENDPOINTS),
                    requests.get("decide", 0),
                )
            )
            print(f"{tag} re-run {again['seconds']:.1f} s", flush=True)
            if peer:
                result = optional_peer(
                    server.base_url, data, scratch / f"dlt-{applications}-{attempt}"
                )
                if result is not None:
                    peers.append(result)
            shutil.rmtree(home, ignore_errors=True)
    for key, runs in (("floor", floors), ("floor_aiohttp", fast_floors)):
        figures[key] = {
            **runs[0],
            "seconds": statistics.median(f["seconds"] for f in runs),
            "runs_seconds": [f["seconds"] for f in runs],
        }
    figures["first_run"] = {**median_figures(firsts), "mock": mocks[-1]}
    figures["re_run"] = {
        **median_figures(reruns),
        "flinks_calls": max(c[0] for c in calls),
        "taktile_calls": max(c[1] for c in calls),
    }
    if peers:
        figures["peer"] = {
            **peers[0],
            "seconds": statistics.median(p["seconds"] for p in peers),
            "runs_seconds": [p["seconds"] for p in peers],
        }
    return figures


def fresh_stack(postgres: PostgresServer, s3: S3Server) -> dict[str, str]:
    """The variables of a run on a new database and a new bucket of the running servers."""
    return {
        **s3.environment(),
        "CREDIT_SCORING_LEDGER_URL": postgres.url(postgres.create_database()),
        "CREDIT_SCORING_LAKE_URL": f"s3://{s3.create_bucket()}/lake",
    }


def measure_scaled_day(data: Path, transactions: int, scratch: Path, repeat: int) -> dict:
    """``make bench``'s scaled-stack figure: the day's first run on PostgreSQL + S3, fresh
    state each time; the median run's seconds and transactions/s, and every run's time."""
    seconds = []
    postgres, s3 = start_postgres(), start_s3()
    try:
        with running_mock_server(data, args=("--threads", str(CONCURRENCY))) as server:
            for attempt in range(repeat):
                run = run_graph(
                    scratch / f"scaled-{attempt}",
                    server.base_url,
                    data,
                    DAY.isoformat(),
                    DAY.isoformat(),
                    fresh_stack(postgres, s3),
                )
                seconds.append(run["seconds"])
                print(f"[scaled stack {attempt + 1}/{repeat}] {run['seconds']:.1f} s", flush=True)
    finally:
        s3.stop()
        postgres.stop()
    median = statistics.median(seconds)
    return {
        "transactions": transactions,
        "seconds": round(median, 2),
        "transactions_per_second": round(transactions / median),
        "runs_seconds": [round(value, 2) for value in seconds],
    }


def measure_backfill(applications: int, days: int, cache: Path, scratch: Path) -> dict:
    """The same data as one single-run backfill, then as one run per day (fresh state each)."""
    start = DAY - timedelta(days=days - 1)
    data = cache / f"month-{applications}-{days}"
    transactions = generate_cached(data, applications, days, start)
    with running_mock_server(data, args=("--threads", str(CONCURRENCY))) as server:
        single = run_graph(
            scratch / "backfill-single", server.base_url, data, start.isoformat(), DAY.isoformat()
        )
        home = scratch / "backfill-separate"
        separate = 0.0
        for offset in range(days):
            day = (start + timedelta(days=offset)).isoformat()
            separate += run_graph(home, server.base_url, data, day, day)["seconds"]
    return {
        "applications": applications,
        "transactions": transactions,
        "days": days,
        "single_run_seconds": round(single["seconds"], 2),
        "separate_runs_seconds": round(separate, 2),
    }


def generate_cached(out: Path, applications: int, days: int, start: date) -> int:
    """Generate once per configuration (bench/data is kept between runs, ignored by git)."""
    marker = out / "transactions.txt"
    if marker.exists():
        return int(marker.read_text())
    transactions = generate_day(out, applications, days, start)
    marker.write_text(str(transactions))
    return transactions


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="125,625,2500", help="applications per size")
    parser.add_argument(
        "--backfill-days", type=int, default=30, help="0 skips the backfill comparison"
    )
    parser.add_argument("--no-peer", action="store_true", help="skip the dlt peer")
    parser.add_argument(
        "--no-scaled", action="store_true", help="skip the largest day on PostgreSQL + S3"
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs per size; the figures are their medians"
    )
    parser.add_argument("--smoke", action="store_true", help="a tiny size, for the tests")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "bench" / "results")
    parser.add_argument("--cache", type=Path, default=REPO_ROOT / "bench" / "data")
    args = parser.parse_args(argv)
    sizes = [6] if args.smoke else [int(n) for n in args.sizes.split(",")]
    backfill_days = 2 if args.smoke else args.backfill_days
    names = {125: "100k", 625: "500k", 2500: "2M"}
    today = date.today().isoformat()
    figures: dict = {"date": today, "machine": f"{os.uname().nodename}, {os.cpu_count()} cores"}
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        scratch = Path(tmp)
        figures["sizes"] = [
            measure_size(
                names.get(n, f"{n} apps"),
                n,
                args.cache,
                scratch,
                not args.no_peer,
                1 if args.smoke else args.repeat,
            )
            for n in sizes
        ]
        if not args.no_scaled:
            largest = max(figures["sizes"], key=lambda size: size["transactions"])
            figures["scaled_stack"] = measure_scaled_day(
                day_data(args.cache, largest["applications"]),
                largest["transactions"],
                scratch,
                largest["repeat"],
            )
        if backfill_days > 0:
            figures["backfill"] = measure_backfill(min(sizes), backfill_days, args.cache, scratch)
    ordered = sorted(figures["sizes"], key=lambda s: s["transactions"])
    if len(ordered) >= 2:
        low, high = ordered[-2], ordered[-1]
        figures["scaling"] = {
            "from": low["name"],
            "to": high["name"],
            "data_ratio": high["transactions"] / low["transactions"],
            "time_ratio": high["first_run"]["whole"]["seconds"]
            / low["first_run"]["whole"]["seconds"],
        }
    args.out.mkdir(parents=True, exist_ok=True)
    stem = report.fresh_stem(args.out, today)
    stem.with_suffix(".json").write_text(json.dumps(figures, indent=2, default=str))
    table = report.markdown(figures)
    stem.with_suffix(".md").write_text(table)
    report.plot(figures, stem.with_suffix(".png"))
    print(table)
    print(f"written to {stem}.json, .md and .png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
