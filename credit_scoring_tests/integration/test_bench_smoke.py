"""``make bench`` at a tiny size: every figure the benchmark reports is produced, end to end.

The timings themselves are not asserted (they belong to the benchmark, on a quiet machine);
what is asserted is what must hold at any size: the floor downloads every login, each stage is
measured with its memory, a re-run of a finished day calls neither API, the day also runs on
PostgreSQL + S3, and the tables (the targets first) and the plot are written.
"""

from __future__ import annotations

import json

import pytest

from bench.figures import main

pytestmark = [pytest.mark.integration, pytest.mark.slow]


# five whole-graph runs: a hang guard well above what they take on two busy cores
@pytest.mark.timeout(1500)
def test_the_benchmark_runs_end_to_end_at_a_tiny_size(tmp_path):
    out = tmp_path / "results"
    code = main(["--smoke", "--no-peer", "--out", str(out), "--cache", str(tmp_path / "data")])

    assert code == 0
    figures = json.loads(next(out.glob("*.json")).read_text())
    (size,) = figures["sizes"]
    assert size["floor"]["logins"] == size["applications"] == 6
    stages = size["first_run"]["stages"]
    for stage in ("fetch + bronze", "silver + ledger", "dbt features", "decide + store"):
        assert stages[stage]["seconds"] > 0, stage
        assert stages[stage]["peak_rss_mb"] > 0, stage
    assert size["first_run"]["mock"]["decisions"] == 6
    assert (size["re_run"]["flinks_calls"], size["re_run"]["taktile_calls"]) == (0, 0)
    assert figures["backfill"]["days"] == 2
    scaled = figures["scaled_stack"]
    assert scaled["transactions"] == size["transactions"]
    assert scaled["transactions_per_second"] > 0
    table = next(out.glob("*.md")).read_text()
    assert "| whole run |" in table
    # the targets, each with the baseline's figure, this run's and its bound
    assert "| re-run: Flinks + Taktile calls | 0 | 0 | ≤ 0 | yes |" in table
    scaled_row = next(line for line in table.splitlines() if "PostgreSQL + S3 (tr" in line)
    assert f"| {scaled['transactions_per_second']:,} |" in scaled_row
    assert next(out.glob("*.png")).stat().st_size > 0
