"""A day's passing reconciliation, reused while nothing it compares has changed.

Reconciling re-reads the day's bronze responses and unnests every transaction again: about
10 s for a day of 2M transactions, most of what re-running a finished day costs. What it
compares is the day's three lake files (bronze, silver, the quarantine), the ledger's
transactions of the day and its fetch leases. Their stamps are cheap to take (each file's size
and modification time, or an object store's ETag; two aggregate queries on the ledger), so the
check stores the stamps beside its passing report and, while they are unchanged, reports that
result again instead of recomputing it. Any write to one of the files, any transaction
registered or lost, any fetch lease that moves, or a new :data:`LOGIC_VERSION` makes the next
check recompute.

Only passing reports are kept: a failing day is always proven again, with its examples, and
``ledger reconcile`` (an operator asking) always recomputes.

The memo is one small JSON file per day under the lake root (:mod:`credit_scoring.lake.reuse`),
shared by every machine of a deployment.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from credit_scoring.lake.reuse import Memo, digest, file_stamps
from credit_scoring.lake.storage import LakeStore
from credit_scoring.lake.tables import table_for
from credit_scoring.ledger import Ledger
from credit_scoring.silver.reconciliation import CopyCounts, KeyCounts, Reconciliation, reconcile

#: Changed whenever what :func:`reconcile` compares, or how, changes: older memos then no
#: longer match.
LOGIC_VERSION = 1
COMPARED_TABLES = (
    "bronze/flinks_accounts_detail",
    "silver/transactions",
    "silver/rejected_transactions",
)


def inputs_digest(store: LakeStore, ledger: Ledger, day: str) -> str:
    """One digest of everything the reconciliation of ``day`` reads."""
    tables = [table_for(name) for name in COMPARED_TABLES]
    return digest(
        {
            "logic": LOGIC_VERSION,
            "files": file_stamps(store, tables, [day]),
            "ledger": ledger.day_stamp(day),
        }
    )


def from_dict(figures: dict[str, Any]) -> Reconciliation:
    """A report back from :meth:`Reconciliation.as_dict`."""
    return Reconciliation(
        partition=figures["partition"],
        applications_in_silver=figures["applications_in_silver"],
        applications_awaiting_silver=figures["applications_awaiting_silver"],
        copies=CopyCounts(*(figures[name] for name in CopyCounts._fields)),
        silver_rows=figures["silver_rows"],
        rejected_rows=figures["rejected_rows"],
        ledger_rows=figures["ledger_rows"],
        keys=KeyCounts(*(figures[name] for name in KeyCounts._fields)),
        examples=list(figures["examples"]),
    )


class Checked(NamedTuple):
    """A day's reconciliation, and when it was computed if that was not now."""

    report: Reconciliation
    #: the time of the earlier check whose passing report this is; None: computed now
    reused_from: str | None


def reconcile_or_reuse(store: LakeStore, ledger: Ledger, day: str) -> Checked:
    """``day``'s reconciliation: the kept passing report when its inputs are still exactly
    today's, else computed now (and kept when it passes).

    The digest is taken before reconciling: if an input changes meanwhile, the kept digest is
    already out of date and the next check recomputes.
    """
    inputs = inputs_digest(store, ledger, day)
    memo = Memo(store, "bronze_silver_reconciliation", day)
    recalled = memo.recall(inputs)
    if recalled is not None:
        report = from_dict(recalled.result)
        if report.ok:
            return Checked(report, recalled.computed_at)
    report = reconcile(store, ledger, day)
    if report.ok:
        memo.keep(inputs, report.as_dict())
    return Checked(report, None)
