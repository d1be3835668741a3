"""Run a module as ``python -m`` would, then record its peak memory (and its children's).

    python -m bench.peak_rss OUT.json MODULE [ARGS...]

``ru_maxrss`` of this process is the pipeline's own peak resident set; that of its children is
the largest of the subprocesses it waited for (dbt). Both in MiB.
"""

from __future__ import annotations

import json
import resource
import runpy
import sys


def main() -> None:
    out, module, *args = sys.argv[1:]
    sys.argv = [module, *args]
    code = 0
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    with open(out, "w", encoding="utf-8") as handle:
        json.dump(
            {
                "self_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
                "children_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024),
            },
            handle,
        )
    sys.exit(code)


if __name__ == "__main__":
    main()
