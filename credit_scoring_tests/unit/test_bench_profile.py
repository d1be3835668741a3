"""The profile summary: py-spy's raw stacks folded into CPU seconds per function."""

from bench.profile import summarise

RAW = "\n".join(
    [
        'process 1:"python -m devtools.runner";run (devtools/runner.py:10);'
        "silver (credit_scoring/silver/silver_assets.py:60);df (duckdb/_relation.py:5) 150",
        'process 1:"python -m devtools.runner";run (devtools/runner.py:10);'
        "silver (credit_scoring/silver/silver_assets.py:61);strip (pandas/strings.py:9) 50",
        'process 1:"python -m devtools.runner";process 2:"dbt build";main (dbt/cli/main.py:3) 100',
        'process 3:"";run (devtools/runner.py:10) 50',
        "",
        "not a stack line",
    ]
)


def test_samples_become_inclusive_cpu_seconds_per_function_and_process():
    summary = summarise(RAW, rate=50)

    assert summary.startswith("7.0 CPU seconds sampled at 50/s")
    assert '| 6.0 | `process 1:"python -m devtools.runner"` |' in summary
    assert '| 2.0 | `process 2:"dbt build"` |' in summary
    # two lines of one function are one entry; the caller includes its callees
    assert "| 4.0 | `silver (credit_scoring/silver/silver_assets.py)` |" in summary
    assert "| 5.0 | `run (devtools/runner.py)` |" in summary
    # a process py-spy recorded without its command line is named as the run
    assert "| 1.0 | `process 3:python -m devtools.runner (the run)` |" in summary
    # own time is where the stack ends, whatever the library
    assert "| 3.0 | `df (duckdb/_relation.py)` |" in summary
    assert "| 1.0 | `strip (pandas/strings.py)` |" in summary
