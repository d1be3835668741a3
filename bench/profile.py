"""``make profile``: where a whole-graph run spends its time, sampled by py-spy.

    .venv/bin/python -m bench.profile [--applications 625] [--rate 50] [--out DIR] [--scaled]

Runs the whole graph for one generated day (the benchmark's data, cached in ``bench/data``)
against the mock server, on a fresh state, under ``py-spy record`` with its subprocesses (so
dbt is sampled too), then prints, largest first:

- the seconds of samples under each function of this code base, inclusive (a function's own
  time and everything it calls), and under each dbt process;
- the library functions with the most samples of their own (where the CPU actually is).

py-spy samples only threads that are running, so waiting on the network or on a subprocess
does not count: the figures are CPU seconds, next to the run's wall time. Writes the raw
samples (py-spy's ``raw`` format, which speedscope and flame-graph tools read) and the summary
under ``--out``.

``--scaled`` runs the day on the scaled stack instead (the ledger on a local PostgreSQL, the lake
on a local S3-compatible server, as ``make bench`` runs it) and samples the S3 server too: on
this machine it shares the two cores with the run, so its CPU is part of what the run waits
for. PostgreSQL is not Python; its CPU seconds (server and backends, from ``/proc``) are
reported beside.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from datetime import date
from pathlib import Path

from bench.figures import CONCURRENCY, DAY, day_data, generate_cached, runner_env
from credit_scoring.core.settings import REPO_ROOT
from mock_api.process import running_mock_server

PY_SPY = Path(sys.executable).with_name("py-spy")
#: py-spy frames look like ``function (path/to/file.py:123)``; the line is dropped to aggregate.
LINE_NUMBER = re.compile(r":\d+\)$")


#: The profiled run as the table names it: py-spy may record its command line as empty.
RUN = "python -m devtools.runner (the run)"


def _process_name(frame: str) -> str:
    """``process <pid>:"<command line>"``, cut to fit a table; the run's when py-spy left it out."""
    if frame.endswith(':""'):
        return f"{frame[:-2]}{RUN}"
    return frame[:140]


#: Where a frame is this code base's, for the inclusive table.
OURS = ("credit_scoring/", "devtools/")


def summarise(
    raw: str,
    rate: int,
    top: int = 30,
    ours_in: tuple[str, ...] = OURS,
    title: str = "This code base",
) -> str:
    """Inclusive seconds per function of this code base (frames whose file path contains one
    of ``ours_in``) and per process; top self times."""
    ours: Counter[str] = Counter()
    processes: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        samples = int(count)
        total += samples
        frames = [LINE_NUMBER.sub(")", frame) for frame in stack.split(";")]
        for frame in dict.fromkeys(frames):  # once per stack, however deep the recursion
            if frame.startswith("process "):
                processes[_process_name(frame)] += samples
            elif any(marker in frame for marker in ours_in):
                ours[frame] += samples
        own[frames[-1]] += samples

    def table(title: str, counter: Counter[str], limit: int) -> list[str]:
        rows = [f"| {n / rate:,.1f} | `{name}` |" for name, n in counter.most_common(limit)]
        return [f"### {title}", "", "| CPU s | where |", "|---:|---|", *rows, ""]

    return "\n".join(
        [
            f"{total / rate:,.1f} CPU seconds sampled at {rate}/s",
            "",
            *table("Processes (each includes its subprocesses)", processes, 10),
            *table(f"{title} (inclusive)", ours, top),
            *table("Own time (any library)", own, 20),
        ]
    )


def process_cpu_seconds(pid: int) -> float:
    """CPU seconds of ``pid`` and of the children it has reaped (PostgreSQL's backends), plus
    those of its live descendants, from ``/proc``."""
    tick = os.sysconf("SC_CLK_TCK")

    def own(one: int) -> float:
        try:
            fields = Path(f"/proc/{one}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            return 0.0
        return sum(int(value) for value in fields[11:15]) / tick  # utime stime cutime cstime

    return own(pid) + sum(own(child) for child in descendants(pid))


def descendants(pid: int) -> list[int]:
    found, stack = [], [pid]
    while stack:
        for task in Path(f"/proc/{stack.pop()}/task").glob("*/children"):
            try:
                children = [int(child) for child in task.read_text().split()]
            except (OSError, ValueError):
                continue
            found += children
            stack += children
    return found


@contextlib.contextmanager
def scaled_stack(rate: int, raw_path: Path) -> Iterator[tuple[dict[str, str], dict[str, float]]]:
    """A fresh database and bucket on local servers: the run's variables, and (filled in on
    exit) the servers' CPU seconds over the run; the S3 server's samples go to ``raw_path``."""
    from bench.figures import fresh_stack
    from devtools.postgres import start_postgres
    from devtools.s3 import start_s3

    cpu: dict[str, float] = {}
    postgres = start_postgres()
    try:
        s3 = start_s3()
        try:
            environment = fresh_stack(postgres, s3)
            before = {"postgres": process_cpu_seconds(postgres.process.pid)}
            before["s3"] = process_cpu_seconds(s3.process.pid)
            spy = subprocess.Popen(
                [
                    *(str(PY_SPY), "record", "--pid", str(s3.process.pid), "--rate", str(rate)),
                    *("--format", "raw", "--output", str(raw_path), "--nonblocking"),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                yield environment, cpu
            finally:
                spy.send_signal(signal.SIGINT)  # py-spy writes its samples on interrupt
                spy.wait(timeout=60)
                cpu["postgres"] = process_cpu_seconds(postgres.process.pid) - before["postgres"]
                cpu["s3"] = process_cpu_seconds(s3.process.pid) - before["s3"]
        finally:
            s3.stop()
    finally:
        postgres.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--applications", type=int, default=625, help="applications in the day")
    parser.add_argument("--rate", type=int, default=50, help="samples per second")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "bench" / "results")
    parser.add_argument("--cache", type=Path, default=REPO_ROOT / "bench" / "data")
    parser.add_argument("--scaled", action="store_true", help="on PostgreSQL + S3 (local servers)")
    args = parser.parse_args(argv)
    if not PY_SPY.exists():
        print(f"py-spy is not installed at {PY_SPY}: run make setup", file=sys.stderr)
        return 2
    data = day_data(args.cache, args.applications)
    transactions = generate_cached(data, args.applications, 1, DAY)
    args.out.mkdir(parents=True, exist_ok=True)
    name = f"profile-{date.today().isoformat()}-{args.applications}"
    stem = args.out / (f"{name}-scaled" if args.scaled else name)
    raw_path = stem.with_suffix(".txt")
    s3_raw_path = stem.with_name(f"{stem.name}-s3.txt")
    with contextlib.ExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="profile-"))
        server = stack.enter_context(
            running_mock_server(data, args=("--threads", str(CONCURRENCY)))
        )
        extra, servers_cpu = (
            stack.enter_context(scaled_stack(args.rate, s3_raw_path)) if args.scaled else ({}, {})
        )
        started = time.perf_counter()
        completed = subprocess.run(
            [
                str(PY_SPY),
                "record",
                "--subprocesses",
                "--rate",
                str(args.rate),
                "--format",
                "raw",
                "--output",
                str(raw_path),
                "--",
                sys.executable,
                "-m",
                "devtools.runner",
                "--partition",
                DAY.isoformat(),
            ],
            env={**runner_env(Path(tmp) / "home", server.base_url, data), **extra},
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
        )
        wall = time.perf_counter() - started
        shutil.rmtree(Path(tmp) / "home", ignore_errors=True)
    if completed.returncode != 0:
        print(completed.stdout[-3000:] + completed.stderr[-3000:], file=sys.stderr)
        return completed.returncode
    stack_name = " on PostgreSQL + S3 (local servers)" if args.scaled else ""
    sections = [
        f"# Profile {date.today().isoformat()}: {args.applications} applications, "
        f"{transactions:,} transactions{stack_name}, {wall:.1f} s wall under py-spy\n",
        summarise(raw_path.read_text(), args.rate),
    ]
    if args.scaled:
        sections += [
            "## The servers\n",
            f"PostgreSQL (server and backends, from /proc): {servers_cpu['postgres']:.1f} CPU s; "
            f"the S3 server (moto): {servers_cpu['s3']:.1f} CPU s, sampled below.\n",
            summarise(
                s3_raw_path.read_text(), args.rate, 20, ("moto/", "werkzeug/"), "moto and werkzeug"
            ),
        ]
    summary = "\n".join(sections)
    stem.with_suffix(".md").write_text(summary + "\n")
    print(summary)
    print(f"written to {stem}.md and {raw_path.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
