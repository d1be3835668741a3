"""The benchmark's figures as a markdown table and a plot of time against size per stage."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: The run the performance targets were set against (the same machine, the same sizes).
BASELINE = Path(__file__).parent / "results" / "2026-11-25.json"

#: Stages in pipeline order, as the table and the plot name them.
STAGE_ORDER = (
    "fetch + bronze",
    "silver + ledger",
    "dbt features",
    "decide + store",
    "dbt monitoring",
    "checks",
)


def fresh_stem(folder: Path, name: str) -> Path:
    """``folder/name``, or ``name-2``, ``name-3``... when a run of the same day already wrote
    results under it (the stem is the date): a second run never replaces the first's files."""
    stem, n = folder / name, 1
    while list(folder.glob(f"{stem.name}.*")):
        n += 1
        stem = folder / f"{name}-{n}"
    return stem


def _fmt(value: float | int | None, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, int) or digits == 0:
        return f"{value:,.0f}"
    return f"{value:,.{digits}f}"


def markdown(figures: dict[str, Any]) -> str:
    """Every size's stages (time, throughput, peak RSS), then the comparisons."""
    lines = [
        f"# Benchmark {figures['date']} ({figures['machine']})",
        "",
        targets_table(figures),
        "",
        *[
            f"- {size['name']}: medians of {size.get('repeat', 1)} run(s); whole first runs "
            + ", ".join(f"{t:.1f}" for t in size["first_run"]["whole"].get("runs_seconds", []))
            + " s; re-runs "
            + ", ".join(f"{t:.1f}" for t in size["re_run"]["whole"].get("runs_seconds", []))
            + " s"
            for size in figures["sizes"]
        ],
        "",
        "| size | applications | transactions | stage | seconds | transactions/s | peak RSS MiB |",
        "|---|---:|---:|---|---:|---:|---:|",
    ]
    for size in figures["sizes"]:
        first = size["first_run"]
        for stage in (*STAGE_ORDER, "whole run"):
            row = first["stages"].get(stage) if stage != "whole run" else first["whole"]
            if not row:
                continue
            lines.append(
                f"| {size['name']} | {_fmt(size['applications'])} | "
                f"{_fmt(size['transactions'])} | {stage} | {_fmt(row['seconds'])} | "
                f"{_fmt(row.get('transactions_per_second'), 0)} | "
                f"{_fmt(row.get('peak_rss_mb'), 0)} |"
            )
    lines += [
        "",
        "| size | floor s | aiohttp floor s | fetch+bronze s | ratio | ratio (aiohttp) |"
        " dlt peer s | ingestion s | dlt/ingestion |"
        " re-run s | re-run/first | Flinks calls | Taktile calls |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for size in figures["sizes"]:
        first, rerun = size["first_run"], size["re_run"]
        fetch = first["stages"].get("fetch + bronze", {}).get("seconds")
        ingestion = sum(
            first["stages"].get(s, {}).get("seconds", 0.0)
            for s in ("fetch + bronze", "silver + ledger")
        )
        floor = (size.get("floor") or {}).get("seconds")
        fast = (size.get("floor_aiohttp") or {}).get("seconds")
        peer = (size.get("peer") or {}).get("seconds")
        lines.append(
            f"| {size['name']} | {_fmt(floor, 2)} | {_fmt(fast, 2)} | {_fmt(fetch, 2)} | "
            f"{_fmt(fetch / floor if fetch and floor else None, 2)} | "
            f"{_fmt(fetch / fast if fetch and fast else None, 2)} | {_fmt(peer, 1)} | "
            f"{_fmt(ingestion, 1)} | {_fmt(peer / ingestion if peer and ingestion else None, 2)} |"
            f" {_fmt(rerun['whole']['seconds'])} | "
            f"{_fmt(rerun['whole']['seconds'] / first['whole']['seconds'], 3)} | "
            f"{_fmt(rerun['flinks_calls'], 0)} | {_fmt(rerun['taktile_calls'], 0)} |"
        )
    backfill = figures.get("backfill")
    if backfill:
        lines += [
            "",
            f"Backfill of {_fmt(backfill['applications'])} applications "
            f"({_fmt(backfill['transactions'])} transactions) over {backfill['days']} days: "
            f"one single run {_fmt(backfill['single_run_seconds'])} s, "
            f"{backfill['days']} one-day runs {_fmt(backfill['separate_runs_seconds'])} s "
            f"(ratio {_fmt(backfill['separate_runs_seconds'] / backfill['single_run_seconds'], 1)}"
            "x).",
        ]
    scaling = figures.get("scaling")
    if scaling:
        lines += [
            "",
            f"Scaling, {scaling['from']} -> {scaling['to']} ({_fmt(scaling['data_ratio'], 2)}x "
            f"the transactions): {_fmt(scaling['time_ratio'], 2)}x the whole run's time.",
        ]
    return "\n".join(lines) + "\n"


def _largest(figures: dict[str, Any]) -> dict[str, Any]:
    return max(figures["sizes"], key=lambda size: size["transactions"])


def _stage_seconds(size: dict[str, Any], *stages: str) -> float:
    return sum(size["first_run"]["stages"].get(s, {}).get("seconds") or 0.0 for s in stages)


def _rerun_share(figures: dict[str, Any]) -> float:
    size = _largest(figures)
    return size["re_run"]["whole"]["seconds"] / size["first_run"]["whole"]["seconds"]


def _floor_ratio(figures: dict[str, Any], floor_key: str = "floor") -> float | None:
    size = _largest(figures)
    floor = (size.get(floor_key) or {}).get("seconds")
    fetch = _stage_seconds(size, "fetch + bronze")
    return fetch / floor if floor and fetch else None


def _peer_ratio(figures: dict[str, Any]) -> float | None:
    size = _largest(figures)
    peer = (size.get("peer") or {}).get("seconds")
    ingestion = _stage_seconds(size, "fetch + bronze", "silver + ledger")
    return peer / ingestion if peer and ingestion else None


def _scaled_rate(figures: dict[str, Any]) -> float | None:
    return (figures.get("scaled_stack") or {}).get("transactions_per_second")


@dataclass(frozen=True)
class Target:
    """One figure of the performance targets: how to read it from a run's figures, and its bound."""

    figure: str
    read: Callable[[dict[str, Any]], float | None]
    bound: float
    #: ``True``: the figure must reach the bound; ``False``: it must stay under it.
    at_least: bool
    digits: int = 0

    def met(self, value: float | None) -> bool | None:
        if value is None:
            return None
        return value >= self.bound if self.at_least else value <= self.bound


TARGETS = (
    Target(
        "whole graph, largest day, embedded (transactions/s)",
        lambda f: _largest(f)["first_run"]["whole"]["transactions_per_second"],
        50_000,
        at_least=True,
    ),
    Target(
        "same day on PostgreSQL + S3 (transactions/s)",
        _scaled_rate,
        25_000,
        at_least=True,
    ),
    Target(
        "peak RSS of the run's processes, largest day (MiB)",
        lambda f: _largest(f)["first_run"]["whole"]["peak_rss_mb"],
        1536,
        at_least=False,
    ),
    Target("re-run of a finished day: time / first run", _rerun_share, 0.05, False, 3),
    Target(
        "re-run: Flinks + Taktile calls",
        lambda f: _largest(f)["re_run"]["flinks_calls"] + _largest(f)["re_run"]["taktile_calls"],
        0,
        at_least=False,
    ),
    Target("fetch + bronze / raw-download floor", _floor_ratio, 1.3, False, 2),
    # the same bound against the fastest download of the two (httpx on aiohttp's pool): what
    # our fetch costs over the wire, the HTTP client's own overhead included
    Target(
        "fetch + bronze / raw-download floor on aiohttp's pool",
        lambda f: _floor_ratio(f, "floor_aiohttp"),
        1.3,
        False,
        2,
    ),
    Target("dlt's ingestion time / ours (fetch -> silver -> ledger)", _peer_ratio, 3, True, 2),
    Target(
        "4x the data: time ratio",
        lambda f: (f.get("scaling") or {}).get("time_ratio"),
        4.4,
        at_least=False,
        digits=2,
    ),
)


def targets_table(figures: dict[str, Any], baseline: dict[str, Any] | None = None) -> str:
    """Each target with the baseline run's figure, this run's and the bound, side by side."""
    if baseline is None and BASELINE.exists():
        baseline = json.loads(BASELINE.read_text())
    base_name = f"baseline ({baseline['date']})" if baseline else "baseline"
    lines = [
        f"| figure | {base_name} | this run | target | met |",
        "|---|---:|---:|---:|---|",
    ]
    for target in TARGETS:
        now = target.read(figures)
        before = target.read(baseline) if baseline else None
        bound = ("≥ " if target.at_least else "≤ ") + _fmt(target.bound, target.digits)
        verdict = {True: "yes", False: "**no**", None: "not measured"}[target.met(now)]
        lines.append(
            f"| {target.figure} | {_fmt(before, target.digits)} | {_fmt(now, target.digits)} | "
            f"{bound} | {verdict} |"
        )
    return "\n".join(lines)


def plot(figures: dict[str, Any], path: Path) -> Path:
    """Seconds against transactions, one line per stage and one for the whole first run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = sorted(figures["sizes"], key=lambda s: s["transactions"])
    x = [s["transactions"] for s in sizes]
    fig, ax = plt.subplots(figsize=(8, 5))
    for stage in STAGE_ORDER:
        y = [s["first_run"]["stages"].get(stage, {}).get("seconds") for s in sizes]
        if any(v is not None for v in y):
            ax.plot(x, [v or 0.0 for v in y], marker="o", label=stage)
    ax.plot(
        x, [s["first_run"]["whole"]["seconds"] for s in sizes], "k--", marker="s", label="whole run"
    )
    ax.plot(x, [s["re_run"]["whole"]["seconds"] for s in sizes], "k:", marker="x", label="re-run")
    ax.set_xlabel("transactions in the day")
    ax.set_ylabel("seconds")
    ax.set_title(f"Whole graph, one day, by stage ({figures['date']})")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
