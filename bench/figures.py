"""Measure the pipeline on generated data: fetch throughput, each stage of one run, a re-run,
and the dbt step of a 30-day single-run backfill.

    .venv/bin/python -m bench.figures [--applications 1000] [--out bench/results]

Steps (each against the real mock server over HTTP, waitress with 16 threads):

1. generate one application day of N applications with a year of history each;
2. fetch every login with the Flinks client (concurrency 16) and throw the payloads away;
3. run the whole graph for that day in one process (``python -m credit_scoring.runner``), with
   the HTTP Taktile client against the mock: wall time, peak RSS, and each stage's time from
   Dagster's own step events;
4. run it again (everything done: nothing may be fetched or decided);
5. spread the same number of applications over 30 days and time one single-run backfill of the
   ingestion and dbt feature steps.

Writes ``<out>/figures-<date>.json`` and prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import pandas as pd

from credit_scoring.resources.flinks import FlinksResource
from credit_scoring.settings import REPO_ROOT
from mock_api.generator import GenerateConfig, generate
from mock_api.process import running_mock_server

DAY = date(2026, 9, 14)
STAGES = {
    "applications": "applications",
    "bronze__flinks_accounts_detail": "fetch + bronze",
    "silver": "silver + ledger",
    "dbt_features": "dbt features",
    "credit_decisions": "decide + store",
    "dbt_monitoring": "dbt monitoring",
}


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


def fetch_floor(base_url: str, data: Path) -> dict:
    logins = list(pd.read_csv(data / "applications.csv")["login_id"])
    flinks = FlinksResource(base_url=base_url, customer_id="bench", concurrency=16)
    started = time.perf_counter()
    results = flinks.fetch_many(logins)
    elapsed = time.perf_counter() - started
    transactions = sum(
        len(account.get("Transactions") or [])
        for result in results
        for account in result.parsed().get("Accounts", [])
    )
    return {
        "logins": len(logins),
        "failed": sum(not r.ok for r in results),
        "transactions": transactions,
        "seconds": round(elapsed, 2),
        "transactions_per_second": round(transactions / elapsed),
        "applications_per_second": round(len(logins) / elapsed, 1),
    }


def run_graph(
    home: Path, base_url: str, data: Path, start: str, end: str, groups: list[str] | None = None
) -> dict:
    env = {
        **os.environ,
        "CREDIT_SCORING_HOME": str(home),
        "DAGSTER_HOME": str(home / "dagster_home"),
        "FLINKS_BASE_URL": base_url,
        "TAKTILE_BASE_URL": base_url,
        "CREDIT_SCORING_APPLICATIONS": str(data / "applications.csv"),
    }
    target = ["--partition", start] if start == end else ["--range", f"{start}...{end}"]
    selection = [arg for group in groups or () for arg in ("--select", group)]
    rss_file = home.parent / f"rss-{time.monotonic_ns()}.json"
    started = time.perf_counter()
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.peak_rss",
            str(rss_file),
            "credit_scoring.runner",
            *target,
            *selection,
        ],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - started
    if completed.returncode != 0:
        raise RuntimeError(completed.stdout[-3000:] + completed.stderr[-3000:])
    rss = json.loads(rss_file.read_text())
    return {
        "seconds": round(elapsed, 2),
        "peak_rss_mb": rss["self_mb"],
        "peak_rss_dbt_mb": rss["children_mb"],
        "stages": stage_seconds(home),
        "throughput": throughput(home),
    }


def stage_seconds(home: Path) -> dict[str, float]:
    """Each step's duration in the latest run, from Dagster's event log."""
    os.environ["DAGSTER_HOME"] = str(home / "dagster_home")
    with dg.DagsterInstance.get() as instance:
        run = instance.get_runs(limit=1)[0]
        stats = instance.get_run_step_stats(run.run_id)
    return {
        STAGES.get(s.step_key, s.step_key): round(s.end_time - s.start_time, 2)
        for s in stats
        if s.end_time and s.start_time and s.step_key in STAGES
    }


def throughput(home: Path) -> dict[str, float]:
    """What the run itself reported: fetch and decide rates from its materialisation metadata."""
    os.environ["DAGSTER_HOME"] = str(home / "dagster_home")
    wanted = {
        ("bronze", "flinks_accounts_detail"): "applications_per_second",
        ("scoring", "credit_decisions"): "decisions_per_second",
    }
    found: dict[str, float] = {}
    with dg.DagsterInstance.get() as instance:
        run_id = instance.get_runs(limit=1)[0].run_id
        for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION):
            materialization = record.asset_materialization
            field = wanted.get(tuple(materialization.asset_key.path))
            if field and field in materialization.metadata:
                found[f"{'/'.join(materialization.asset_key.path)} {field}"] = (
                    materialization.metadata[field].value
                )
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--applications", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "bench" / "results")
    args = parser.parse_args(argv)
    figures: dict = {"applications": args.applications, "machine": os.uname().nodename}
    with tempfile.TemporaryDirectory(prefix="bench-") as scratch:
        root = Path(scratch)
        day_data, month_data = root / "day", root / "month"
        figures["transactions_generated"] = generate_day(day_data, args.applications, 1, DAY)
        with running_mock_server(day_data, args=("--threads", "16")) as server:
            figures["fetch_floor"] = fetch_floor(server.base_url, day_data)
            server.reset_stats()
            figures["first_run"] = run_graph(
                root / "home", server.base_url, day_data, DAY.isoformat(), DAY.isoformat()
            )
            figures["first_run"]["mock"] = server.stats()
            server.reset_stats()
            figures["re_run"] = run_graph(
                root / "home", server.base_url, day_data, DAY.isoformat(), DAY.isoformat()
            )
            figures["re_run"]["mock_requests"] = server.stats()["requests"]
        start = DAY - timedelta(days=29)
        generate_day(month_data, args.applications, 30, start)
        with running_mock_server(month_data, args=("--threads", "16")) as server:
            figures["backfill_30_days"] = run_graph(
                root / "month_home",
                server.base_url,
                month_data,
                start.isoformat(),
                DAY.isoformat(),
                groups=["ingestion", "silver", "analytics"],
            )
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"figures-{date.today().isoformat()}.json"
    path.write_text(json.dumps(figures, indent=2, default=str), encoding="utf-8")
    print(json.dumps(figures, indent=2, default=str))
    print(f"\nwritten to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
