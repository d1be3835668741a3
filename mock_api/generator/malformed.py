"""Rows that a real feed sends and a pipeline must survive: invalid ones and hostile text.

Invalid rows are *added* next to real transactions (never replacing one), each breaking exactly
one validation rule, so the clean data and its ground truth stay exact and every injected row
must end in the rejects with a known reason. The kinds are named after the silver validation
rules they exercise.

Hostile-text rows are the opposite: ordinary purchases whose description is swapped for text
that tends to break naive code (quotes, SQL, templates, formulas, emoji, a line break). They
are valid and must reach silver unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mock_api.generator.dates import iso_dates
from mock_api.generator.events import Ledger
from mock_api.generator.vocabulary import (
    CATEGORIES,
    HOSTILE_DESCRIPTIONS,
    NEUTRAL_KINDS,
    WORDS,
    Kind,
)

INVALID_KINDS = (
    "unparseable_date",
    "impossible_date",
    "date_after_pull",
    "non_numeric_amount",
    "both_debit_and_credit",
    "neither_debit_nor_credit",
    "negative_amount",
    "implausible_amount",
    "unparseable_balance",
)
HOSTILE_KIND = "hostile_text_valid"
MALFORMED_KINDS = (*INVALID_KINDS, HOSTILE_KIND)
MALFORMED_COLUMNS = [
    "application_id",
    "login_id",
    "account_number",
    "date",
    "description",
    "withdrawals",
    "deposits",
    "balance",
    "kind",
]

UNPARSEABLE_DATES = ("yesterday", "N/A", "{d}/{m}/{y}", "{y}.{m}.{d}")
IMPOSSIBLE_DATES = ("{y}-02-30", "{y}-02-31", "{y}-04-31", "{y}-13-01", "{y}-00-10")
NON_NUMERIC_AMOUNTS = ("{w},{c}x", "{w}.{c}.00", "{w} dollars", "1O{c}.00")
IMPLAUSIBLE_AMOUNT = "99999999999.99"
UNPARSEABLE_BALANCES = ("n/a", "#VALUE!", "--", "abc")


@dataclass(frozen=True)
class InjectedRow:
    """An injected row: where it sits (ledger row it is filed next to) and what it says."""

    anchor: int
    position_day: int
    date: str
    description: str
    category: str
    subcategory: str
    withdrawals: str
    deposits: str
    balance: str
    kind: str


@dataclass(frozen=True)
class Injection:
    """What was injected into one batch."""

    rows: list[InjectedRow]  # invalid rows, added to the statements
    hostile_rows: np.ndarray  # ledger rows whose description became hostile text
    hostile_texts: list[str]


def _money(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"


def _count(rng: np.random.Generator, expected: float) -> int:
    """Stochastic rounding, so small batches still inject their share on average."""
    whole = int(expected)
    return whole + int(rng.random() < expected - whole)


def inject(
    ledger: Ledger, app_day: np.ndarray, fraction: float, rng: np.random.Generator
) -> Injection:
    """Choose hostile-text rows and build invalid rows for about ``fraction`` x rows."""
    if fraction <= 0 or len(ledger) == 0:
        return Injection(rows=[], hostile_rows=np.zeros(0, dtype=np.int64), hostile_texts=[])
    total = _count(rng, fraction * len(ledger))
    kinds = rng.permutation(np.resize(rng.permutation(len(MALFORMED_KINDS)), total))
    hostile_count = int((kinds == len(MALFORMED_KINDS) - 1).sum())
    neutral = np.flatnonzero(np.isin(ledger.kind, np.array(NEUTRAL_KINDS, dtype=np.int16)))
    hostile_rows = np.sort(
        rng.choice(neutral, size=min(hostile_count, len(neutral)), replace=False)
    )
    hostile_texts = [
        HOSTILE_DESCRIPTIONS[i]
        for i in rng.integers(0, len(HOSTILE_DESCRIPTIONS), size=len(hostile_rows))
    ]

    invalid_kinds = kinds[kinds < len(INVALID_KINDS)]
    anchors = rng.choice(len(ledger), size=min(len(invalid_kinds), len(ledger)), replace=False)
    dates = iso_dates(ledger.day[anchors])
    rows = [
        _invalid_row(ledger, int(anchor), INVALID_KINDS[kind_index], str(date), app_day, rng)
        for anchor, kind_index, date in zip(anchors, invalid_kinds, dates, strict=False)
    ]
    return Injection(rows=rows, hostile_rows=hostile_rows, hostile_texts=hostile_texts)


def _invalid_row(
    ledger: Ledger,
    anchor: int,
    kind: str,
    date: str,
    app_day: np.ndarray,
    rng: np.random.Generator,
) -> InjectedRow:
    """A copy of a real transaction with exactly one thing wrong with it."""
    description = WORDS.vocabulary.texts[ledger.desc[anchor]]
    category, subcategory = CATEGORIES[Kind(int(ledger.kind[anchor]))]
    amount = int(ledger.amount[anchor])
    withdrawals = _money(-amount) if amount < 0 else ""
    deposits = _money(amount) if amount > 0 else ""
    balance = _money(int(ledger.balance[anchor]))
    position_day = int(ledger.day[anchor])
    y, m, d = date.split("-")

    def pick(options: tuple[str, ...]) -> str:
        return options[int(rng.integers(len(options)))]

    def set_amount(text: str) -> tuple[str, str]:
        return (text, "") if withdrawals else ("", text)

    whole, cents = abs(amount) // 100, abs(amount) % 100
    if kind == "unparseable_date":
        date = pick(UNPARSEABLE_DATES).format(y=y, m=m, d=d)
    elif kind == "impossible_date":
        date = pick(IMPOSSIBLE_DATES).format(y=y)
    elif kind == "date_after_pull":
        position_day = int(app_day[ledger.login[anchor]]) + int(rng.integers(1, 31))
        date = str(iso_dates(np.array([position_day]))[0])
    elif kind == "non_numeric_amount":
        withdrawals, deposits = set_amount(
            pick(NON_NUMERIC_AMOUNTS).format(w=whole, c=f"{cents:02d}")
        )
    elif kind == "both_debit_and_credit":
        withdrawals, deposits = withdrawals or _money(abs(amount)), deposits or _money(abs(amount))
    elif kind == "neither_debit_nor_credit":
        withdrawals, deposits = "", ""
    elif kind == "negative_amount":
        withdrawals, deposits = set_amount("-" + _money(abs(amount)))
    elif kind == "implausible_amount":
        withdrawals, deposits = set_amount(IMPLAUSIBLE_AMOUNT)
    elif kind == "unparseable_balance":
        balance = pick(UNPARSEABLE_BALANCES)
    return InjectedRow(
        anchor=anchor,
        position_day=position_day,
        date=date,
        description=description,
        category=category,
        subcategory=subcategory,
        withdrawals=withdrawals,
        deposits=deposits,
        balance=balance,
        kind=kind,
    )
