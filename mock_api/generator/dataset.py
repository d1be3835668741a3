"""Generate a whole data set: applications, statement exports, ground truth, injected rows.

Work is cut into files (one per application date, split when a day has many applications)
and each file into batches of a few hundred logins. Every batch draws from its own random
stream keyed by ``(seed, file, batch)``, so output is byte-identical for the same arguments
whatever the number of worker processes, and files can be generated in parallel.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import date
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import pandas as pd

from mock_api import export_format
from mock_api.generator.applications import (
    APPLICATION_COLUMNS,
    applications_csv_frame,
    plan_applications,
)
from mock_api.generator.events import SLOTS, Ledger, simulate
from mock_api.generator.ground_truth import (
    GROUND_TRUTH_COLUMNS,
    compute_ground_truth,
    format_cents,
)
from mock_api.generator.malformed import HOSTILE_KIND, MALFORMED_COLUMNS, Injection, inject
from mock_api.generator.profiles import Logins, build_logins
from mock_api.generator.vocabulary import INSTITUTIONS, WORDS, Kind
from mock_api.generator.writer import csv_line, description_block, render_rows, text_matrix

#: Logins simulated together: large enough to amortise numpy call overhead, small enough to
#: keep a batch's byte matrices to a few hundred megabytes.
BATCH_LOGINS = 250
#: Random sub-stream for batches (applications use stream 0).
BATCHES_STREAM = 1
REQUEST_STATUS = "Completed"
HEADER = csv_line(export_format.COLUMNS).encode("utf-8")
_ACCOUNT_TYPES = ("Operation", "Operation", "Credit")


@dataclass(frozen=True)
class GenerateConfig:
    """The generator's arguments (see ``python -m mock_api.generate --help``)."""

    applications: int
    start_date: date
    days: int
    seed: int
    out: Path
    history_days: int = 365
    malformed_fraction: float = 0.0
    logins_per_file: int = 1000
    workers: int | None = None


@dataclass(frozen=True)
class _FileTask:
    index: int
    path: Path
    applications: pd.DataFrame
    seed: int
    history_days: int
    malformed_fraction: float


@dataclass(frozen=True)
class _FileResult:
    index: int
    logins: int
    rows: int
    injected: int
    ground_truth: pd.DataFrame
    malformed: pd.DataFrame


@dataclass(frozen=True)
class GenerateSummary:
    """What a run wrote."""

    applications: int
    statement_files: int
    rows: int
    injected_rows: int
    seconds: float


def _account_prefixes(
    logins: Logins, applications: pd.DataFrame, ledger: Ledger, days_detected: np.ndarray
) -> np.ndarray:
    """The 15 leading columns of every account's rows, rendered once per account."""
    accounts = logins.n * SLOTS
    count = np.bincount(ledger.account, minlength=accounts)
    last_row = np.cumsum(count) - 1  # the ledger is sorted by account, oldest first
    latest = format_cents(np.where(count > 0, ledger.balance[np.maximum(last_row, 0)], 0))
    requested_at = applications["applied_at"].dt.strftime(export_format.REQUEST_DATETIME_FORMAT)
    texts = []
    for account in range(accounts):
        if count[account] == 0:
            texts.append("")
            continue
        i, slot = divmod(account, SLOTS)
        fields = [
            logins.username[i],
            logins.email[i],
            logins.address[i],
            INSTITUTIONS[logins.institution[i]].name,
            logins.employer_name[i],
            applications["login_id"].iat[i],
            applications["request_id"].iat[i],
            requested_at.iat[i],
            REQUEST_STATUS,
            str(days_detected[i]),
            "",
            logins.account_names[i, slot],
            logins.account_numbers[i, slot],
            _ACCOUNT_TYPES[slot],
            latest[account],
        ]
        texts.append(csv_line(fields)[:-1] + ",")
    return text_matrix(texts)


def _listing(
    injection: Injection, ledger: Ledger, logins: Logins, applications: pd.DataFrame
) -> pd.DataFrame:
    """``malformed_rows.csv`` entries for a batch: invalid rows, then hostile-text rows."""
    invalid = injection.rows
    anchors = np.array([row.anchor for row in invalid], dtype=np.int64)
    hostile = injection.hostile_rows
    login = np.concatenate([ledger.login[anchors], ledger.login[hostile]]).astype(np.int64)
    slot = np.concatenate([ledger.slot[anchors], ledger.slot[hostile]]).astype(np.int64)
    amount = ledger.amount[hostile]
    hostile_dates = [
        str(d) for d in np.datetime_as_string(ledger.day[hostile].astype("datetime64[D]"))
    ]
    return pd.DataFrame(
        {
            "application_id": applications["application_id"].to_numpy()[login],
            "login_id": applications["login_id"].to_numpy()[login],
            "account_number": logins.account_numbers[login, slot],
            "date": [row.date for row in invalid] + hostile_dates,
            "description": [row.description for row in invalid] + list(injection.hostile_texts),
            "withdrawals": [row.withdrawals for row in invalid]
            + [v if a < 0 else "" for v, a in zip(format_cents(-amount), amount, strict=True)],
            "deposits": [row.deposits for row in invalid]
            + [v if a > 0 else "" for v, a in zip(format_cents(amount), amount, strict=True)],
            "balance": [row.balance for row in invalid] + format_cents(ledger.balance[hostile]),
            "kind": [row.kind for row in invalid] + [HOSTILE_KIND] * len(hostile),
        },
        columns=MALFORMED_COLUMNS,
    )


def _batch(
    applications: pd.DataFrame, rng: np.random.Generator, history_days: int, fraction: float
) -> tuple[bytes, pd.DataFrame, pd.DataFrame, int]:
    """Simulate, inject and render one batch of logins."""
    app_day = applications["applied_at"].to_numpy().astype("datetime64[D]").astype(np.int64)
    logins = build_logins(rng, applications["profile"].to_numpy(), app_day, history_days)
    ledger = simulate(logins, rng)
    injection = inject(ledger, logins.app_day, fraction, rng)

    desc = ledger.desc.copy()
    hostile = injection.hostile_rows
    desc[hostile] = len(WORDS.vocabulary) + np.arange(len(hostile), dtype=np.int32)
    extra = text_matrix(
        [
            description_block(text, Kind(int(kind)))
            for text, kind in zip(injection.hostile_texts, ledger.kind[hostile], strict=True)
        ]
    )

    earliest = np.full(logins.n, np.iinfo(np.int64).max)
    np.minimum.at(earliest, ledger.login, ledger.day)
    days_detected = logins.app_day - earliest
    prefixes = _account_prefixes(logins, applications, ledger, days_detected)

    invalid = injection.rows
    anchors = np.array([row.anchor for row in invalid], dtype=np.int64)
    raw_suffixes = [
        csv_line(
            [row.date, row.description, row.category, row.subcategory,
             row.withdrawals, row.deposits, row.balance]
        )
        for row in invalid
    ]  # fmt: skip
    account = np.concatenate([ledger.account, ledger.account[anchors]])
    day = np.concatenate([ledger.day, [row.position_day for row in invalid]]).astype(np.int64)
    seq = np.concatenate([ledger.seq, ledger.seq[anchors] + 3])
    order = np.lexsort((-seq, -day, account))  # each account newest first
    data = render_rows(
        prefixes=prefixes,
        row_prefix=ledger.account,
        day=ledger.day,
        desc=desc,
        amount=ledger.amount,
        balance=ledger.balance,
        extra_descriptions=extra,
        raw_suffixes=raw_suffixes,
        raw_prefix=ledger.account[anchors],
        order=order,
    )

    malformed_per_login = np.bincount(ledger.login[anchors], minlength=logins.n)
    hostile_per_login = np.bincount(ledger.login[hostile], minlength=logins.n)
    truth = compute_ground_truth(
        ledger, logins, applications, malformed_per_login, hostile_per_login
    )
    listing = _listing(injection, ledger, logins, applications)
    # list injected rows in the order they appear in the file
    position = np.empty(len(order), dtype=np.int64)
    position[order] = np.arange(len(order))
    listing["_position"] = np.concatenate(
        [position[len(ledger) + np.arange(len(invalid))], position[hostile]]
    )
    listing = listing.sort_values("_position", kind="stable").drop(columns="_position")
    return data, truth, listing, len(ledger) + len(invalid)


def _write_file(task: _FileTask) -> _FileResult:
    """Generate one statement file, batch by batch, appending as it goes."""
    truths, listings = [], []
    rows = 0
    apps = task.applications
    with open(task.path, "wb") as handle:
        handle.write(HEADER)
        for batch, start in enumerate(range(0, len(apps), BATCH_LOGINS)):
            rng = np.random.default_rng([task.seed, BATCHES_STREAM, task.index, batch])
            chunk = apps.iloc[start : start + BATCH_LOGINS]
            data, truth, listing, count = _batch(
                chunk, rng, task.history_days, task.malformed_fraction
            )
            handle.write(data)
            truths.append(truth)
            listings.append(listing)
            rows += count
    malformed = pd.concat(listings, ignore_index=True)
    invalid = int((malformed["kind"] != HOSTILE_KIND).sum())
    return _FileResult(
        index=task.index,
        logins=len(apps),
        rows=rows,
        injected=invalid,
        ground_truth=pd.concat(truths, ignore_index=True),
        malformed=malformed,
    )


def _file_tasks(config: GenerateConfig, frame: pd.DataFrame, statements: Path) -> list[_FileTask]:
    tasks = []
    for _, day_apps in frame.groupby("day_offset", sort=True):
        day_label = day_apps["applied_at"].iat[0].strftime("%Y-%m-%d")
        parts = range(0, len(day_apps), config.logins_per_file)
        for part, start in enumerate(parts, start=1):
            tasks.append(
                _FileTask(
                    index=len(tasks),
                    path=statements / f"statements_{day_label}_{part:03d}.csv",
                    applications=day_apps.iloc[start : start + config.logins_per_file],
                    seed=config.seed,
                    history_days=config.history_days,
                    malformed_fraction=config.malformed_fraction,
                )
            )
    return tasks


def _progress_reporter(total: int, enabled: bool) -> Callable[[int, int], None]:
    started = time.perf_counter()
    state = {"next_decile": 1}

    def report(done: int, rows: int) -> None:
        if not enabled:
            return
        decile = done * 10 // total
        if decile < state["next_decile"]:
            return
        state["next_decile"] = decile + 1
        elapsed = time.perf_counter() - started
        print(
            f"generate: {done}/{total} applications ({done * 100 // total}%), "
            f"{rows:,} rows, {elapsed:.1f}s",
            file=sys.stderr,
            flush=True,
        )

    return report


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    frame.to_csv(path, index=False, lineterminator="\n", encoding="utf-8")


def generate(config: GenerateConfig, progress: bool = True) -> GenerateSummary:
    """Write the data set described by ``config`` into ``config.out``.

    Existing ``statements/*.csv`` files in the output directory are removed first, so a
    re-run with fewer days never leaves stale statements behind.
    """
    if config.history_days < 1:
        raise ValueError("--history-days must be at least 1")
    if not 0 <= config.malformed_fraction < 1:
        raise ValueError("--malformed-fraction must be in [0, 1)")
    started = time.perf_counter()
    plan = plan_applications(config.applications, config.start_date, config.days, config.seed)
    statements = config.out / "statements"
    statements.mkdir(parents=True, exist_ok=True)
    for stale in statements.glob("*.csv"):
        stale.unlink()

    tasks = _file_tasks(config, plan.frame, statements)
    workers = config.workers or min(os.cpu_count() or 1, 4)
    workers = max(1, min(workers, len(tasks)))
    report = _progress_reporter(len(plan), progress)
    results: list[_FileResult | None] = [None] * len(tasks)
    done = rows = 0
    if workers == 1:
        for task in tasks:
            result = _write_file(task)
            results[result.index] = result
            done, rows = done + result.logins, rows + result.rows
            report(done, rows)
    else:
        with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("fork")) as pool:
            for future in as_completed([pool.submit(_write_file, task) for task in tasks]):
                result = future.result()
                results[result.index] = result
                done, rows = done + result.logins, rows + result.rows
                report(done, rows)

    finished = [result for result in results if result is not None]
    _write_csv(applications_csv_frame(plan)[APPLICATION_COLUMNS], config.out / "applications.csv")
    truth = pd.concat([result.ground_truth for result in finished], ignore_index=True)
    _write_csv(truth[GROUND_TRUTH_COLUMNS], config.out / "ground_truth.csv")
    malformed = pd.concat([result.malformed for result in finished], ignore_index=True)
    _write_csv(malformed[MALFORMED_COLUMNS], config.out / "malformed_rows.csv")
    return GenerateSummary(
        applications=len(plan),
        statement_files=len(tasks),
        rows=rows,
        injected_rows=sum(result.injected for result in finished),
        seconds=time.perf_counter() - started,
    )
