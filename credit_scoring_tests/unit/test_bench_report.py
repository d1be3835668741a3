"""The benchmark's targets table: each figure read from a run, beside the baseline and its bound."""

from bench.report import fresh_stem, targets_table


def run_figures(
    *, rate: int, peak: float, rerun: float, calls: int, floor: float | None, fast: float = 4.0
) -> dict:
    """The figures of a run with one size, as ``bench.figures`` writes them (``fast``: the floor
    on aiohttp's pool)."""
    return {
        "date": "2026-01-01",
        "sizes": [
            {
                "transactions": 2_000_000,
                "floor": {"seconds": floor} if floor else None,
                "floor_aiohttp": {"seconds": fast},
                "first_run": {
                    "whole": {
                        "seconds": 100.0,
                        "transactions_per_second": rate,
                        "peak_rss_mb": peak,
                    },
                    "stages": {
                        "fetch + bronze": {"seconds": 12.0},
                        "silver + ledger": {"seconds": 8.0},
                    },
                },
                "re_run": {"whole": {"seconds": rerun}, "flinks_calls": calls, "taktile_calls": 0},
                "peer": {"seconds": 70.0},
            }
        ],
        "scaling": {"time_ratio": 3.5},
    }


def row(table: str, figure: str) -> list[str]:
    line = next(line for line in table.splitlines() if line.startswith(f"| {figure}"))
    return [cell.strip() for cell in line.strip("|").split("|")]


def test_each_target_is_judged_in_its_own_direction_beside_the_baseline():
    baseline = run_figures(rate=13_000, peak=5_000.0, rerun=33.0, calls=0, floor=8.0)
    now = run_figures(rate=60_000, peak=2_000.0, rerun=4.0, calls=3, floor=None)

    table = targets_table(now, baseline)

    assert table.splitlines()[0] == "| figure | baseline (2026-01-01) | this run | target | met |"
    # at least: 60,000 reaches 50,000
    assert row(table, "whole graph")[1:] == ["13,000", "60,000", "≥ 50,000", "yes"]
    # at most: 2,000 MiB is over 1,536
    assert row(table, "peak RSS")[1:] == ["5,000", "2,000", "≤ 1,536", "**no**"]
    assert row(table, "re-run of a finished day")[1:] == ["0.330", "0.040", "≤ 0.050", "yes"]
    assert row(table, "re-run: Flinks")[2:] == ["3", "≤ 0", "**no**"]
    # a figure the run did not measure is said so, never judged
    assert row(table, "fetch + bronze / raw-download floor |")[1:] == [
        "1.50",
        "-",
        "≤ 1.30",
        "not measured",
    ]
    # the same bound against the faster client's floor: 12 s of fetch over 4 s
    assert row(table, "fetch + bronze / raw-download floor on aiohttp")[1:] == [
        "3.00",
        "3.00",
        "≤ 1.30",
        "**no**",
    ]
    assert row(table, "same day on PostgreSQL")[2:] == ["-", "≥ 25,000", "not measured"]
    assert row(table, "dlt's ingestion")[2:] == ["3.50", "≥ 3", "yes"]
    assert row(table, "4x the data")[2:] == ["3.50", "≤ 4.40", "yes"]


def test_a_second_run_of_the_day_keeps_the_first_runs_results(tmp_path):
    first = fresh_stem(tmp_path, "2026-12-01")
    assert first == tmp_path / "2026-12-01"
    first.with_suffix(".json").write_text("{}")
    second = fresh_stem(tmp_path, "2026-12-01")
    assert second == tmp_path / "2026-12-01-2"
    second.with_suffix(".md").write_text("")
    assert fresh_stem(tmp_path, "2026-12-01") == tmp_path / "2026-12-01-3"
    assert fresh_stem(tmp_path, "2026-12-02") == tmp_path / "2026-12-02"
