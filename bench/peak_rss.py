"""Run a module as ``python -m`` would, sampling its memory (and its children's) over time.

    python -m bench.peak_rss OUT.json MODULE [ARGS...]

A background thread reads the resident set of this process and of every descendant (dbt runs
as a subprocess) from ``/proc`` every 100 ms, with wall-clock timestamps, so the benchmark can
attribute a peak to each Dagster step by its start and end times. ``ru_maxrss`` (the kernel's
own high-water marks) is recorded too: it cannot miss a spike between two samples. All in MiB.
"""

from __future__ import annotations

import json
import os
import resource
import runpy
import sys
import threading
import time
from pathlib import Path

PAGE_MB = os.sysconf("SC_PAGE_SIZE") / 2**20
INTERVAL_SECONDS = 0.1


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            found += [int(child) for child in task.read_text().split()]
        except (OSError, ValueError):
            continue
    return found


def _rss_mb(pid: int) -> float:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_MB
    except (OSError, IndexError, ValueError):
        return 0.0


def sample_tree(root: int) -> tuple[float, float]:
    """(RSS of ``root``, RSS of all its descendants) in MiB, right now."""
    own = _rss_mb(root)
    descendants, stack = 0.0, _children(root)
    while stack:
        pid = stack.pop()
        descendants += _rss_mb(pid)
        stack += _children(pid)
    return own, descendants


class Sampler(threading.Thread):
    """Samples this process tree until stopped; ``samples`` is [(unix time, own, children)]."""

    def __init__(self) -> None:
        super().__init__(daemon=True, name="rss-sampler")
        self.samples: list[tuple[float, float, float]] = []
        self._done = threading.Event()

    def run(self) -> None:
        pid = os.getpid()
        while not self._done.is_set():
            own, children = sample_tree(pid)
            self.samples.append((time.time(), round(own, 1), round(children, 1)))
            self._done.wait(INTERVAL_SECONDS)

    def stop(self) -> None:
        self._done.set()
        self.join(timeout=2)


def main() -> None:
    out, module, *args = sys.argv[1:]
    sys.argv = [module, *args]
    sampler = Sampler()
    sampler.start()
    code = 0
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    finally:
        sampler.stop()
    with open(out, "w", encoding="utf-8") as handle:
        json.dump(
            {
                "self_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
                "children_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024),
                "samples": sampler.samples,
            },
            handle,
        )
    sys.exit(code)


if __name__ == "__main__":
    main()
