"""``make profile``: where a whole-graph run spends its time, sampled by py-spy.

    .venv/bin/python -m bench.profile [--applications 625] [--rate 50] [--out DIR]

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
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
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


def summarise(raw: str, rate: int, top: int = 30) -> str:
    """Inclusive seconds per function of this code base and per process; top self times."""
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
            elif "credit_scoring/" in frame or "devtools/" in frame:
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
            *table("This code base (inclusive)", ours, top),
            *table("Own time (any library)", own, 20),
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--applications", type=int, default=625, help="applications in the day")
    parser.add_argument("--rate", type=int, default=50, help="samples per second")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "bench" / "results")
    parser.add_argument("--cache", type=Path, default=REPO_ROOT / "bench" / "data")
    args = parser.parse_args(argv)
    if not PY_SPY.exists():
        print(f"py-spy is not installed at {PY_SPY}: run make setup", file=sys.stderr)
        return 2
    data = day_data(args.cache, args.applications)
    transactions = generate_cached(data, args.applications, 1, DAY)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"profile-{date.today().isoformat()}-{args.applications}"
    raw_path = stem.with_suffix(".txt")
    with (
        tempfile.TemporaryDirectory(prefix="profile-") as tmp,
        running_mock_server(data, args=("--threads", str(CONCURRENCY))) as server,
    ):
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
            env=runner_env(Path(tmp) / "home", server.base_url, data),
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
        )
        wall = time.perf_counter() - started
        shutil.rmtree(Path(tmp) / "home", ignore_errors=True)
    if completed.returncode != 0:
        print(completed.stdout[-3000:] + completed.stderr[-3000:], file=sys.stderr)
        return completed.returncode
    summary = (
        f"# Profile {date.today().isoformat()}: {args.applications} applications, "
        f"{transactions:,} transactions, {wall:.1f} s wall under py-spy\n\n"
        + summarise(raw_path.read_text(), args.rate)
    )
    stem.with_suffix(".md").write_text(summary + "\n")
    print(summary)
    print(f"written to {stem}.md and {raw_path.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
