"""Transaction validation rules, expressed as a pandera schema and mapped to quarantine rows.

pandera evaluates every rule set-based over the whole batch and reports each failing row
against the named check; each failing row is then given the first rule it breaks (in the order
below) and a message that quotes the offending value, so an analyst can read the rejects table
without opening the raw payload.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pandera.pandas as pa

#: Largest single transaction accepted (CAD); above it is a feed error, not a purchase.
MAX_AMOUNT = 10_000_000.0
#: Earliest posting date accepted; anything older is a parsing accident (e.g. 0001-01-01).
MIN_DATE = pd.Timestamp("1990-01-01")
_ISO_DATE = r"^\d{4}-\d{2}-\d{2}(?:[T ][0-9:.+\-Z]*)?$"
#: A decimal number as text, exponent allowed: what a number too large for a float looks like.
_DECIMAL = r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$"


@dataclass(frozen=True)
class Rule:
    """A named rule: ``broken(frame)`` is True where a row breaks it."""

    name: str
    broken: Callable[[pd.DataFrame], pd.Series]
    message: Callable[[pd.DataFrame], pd.Series]


def _q(series: pd.Series) -> pd.Series:
    """Quote raw values for messages (None -> missing)."""
    return series.map(lambda v: "missing" if v is None or v is pd.NA else repr(v)).astype(str)


RULES: tuple[Rule, ...] = (
    Rule(
        "missing_id",
        lambda f: f["transaction_id"].isna() | (f["transaction_id"].str.strip() == ""),
        lambda f: pd.Series("transaction has no Id", index=f.index),
    ),
    Rule(
        "unparseable_date",
        lambda f: ~f["date_well_formed"],
        lambda f: "Date " + _q(f["date_raw"]) + " is not a YYYY-MM-DD date",
    ),
    Rule(
        "impossible_date",
        lambda f: f["date_well_formed"] & (f["posted_ts"].isna() | (f["posted_ts"] < MIN_DATE)),
        lambda f: (
            "Date "
            + _q(f["date_raw"])
            + " does not exist on the calendar or is before "
            + MIN_DATE.date().isoformat()
        ),
    ),
    Rule(
        "date_after_pull",
        lambda f: f["posted_ts"].notna() & (f["posted_ts"] > f["pull_day"]),
        lambda f: (
            "Date "
            + _q(f["date_raw"])
            + " is after the data was pulled ("
            + f["pull_day"].dt.strftime("%Y-%m-%d")
            + ")"
        ),
    ),
    Rule(
        "non_numeric_amount",
        lambda f: (
            (f["debit_present"] & f["debit_num"].isna())
            | (f["credit_present"] & f["credit_num"].isna())
        ),
        lambda f: (
            "Debit " + _q(f["debit_raw"]) + " / Credit " + _q(f["credit_raw"]) + " is not a number"
        ),
    ),
    Rule(
        "both_debit_and_credit",
        lambda f: f["debit_present"] & f["credit_present"],
        lambda f: (
            "both Debit " + _q(f["debit_raw"]) + " and Credit " + _q(f["credit_raw"]) + " are set"
        ),
    ),
    Rule(
        "neither_debit_nor_credit",
        lambda f: ~f["debit_present"] & ~f["credit_present"],
        lambda f: pd.Series("neither Debit nor Credit is set", index=f.index),
    ),
    Rule(
        "negative_amount",
        lambda f: (f["debit_num"] < 0) | (f["credit_num"] < 0),
        lambda f: (
            "Debit "
            + _q(f["debit_raw"])
            + " / Credit "
            + _q(f["credit_raw"])
            + " is negative (the side carries the sign)"
        ),
    ),
    Rule(
        "implausible_amount",
        lambda f: (
            (f["debit_num"].abs() > MAX_AMOUNT)
            | (f["credit_num"].abs() > MAX_AMOUNT)
            | ~np.isfinite(f["debit_num"].fillna(0))
            | ~np.isfinite(f["credit_num"].fillna(0))
        ),
        lambda f: (
            "amount "
            + _q(f["debit_raw"].fillna(f["credit_raw"]))
            + f" is beyond the plausible {MAX_AMOUNT:,.0f}"
        ),
    ),
    Rule(
        "unparseable_balance",
        lambda f: f["balance_num"].isna() | ~np.isfinite(f["balance_num"].fillna(0)),
        lambda f: "Balance " + _q(f["balance_raw"]) + " is not a finite number",
    ),
    Rule(
        "duplicate_id_conflict",
        lambda f: f["id_conflict"],
        lambda f: (
            "Id "
            + _q(f["transaction_id"])
            + " appears with different content; every copy is quarantined"
        ),
    ),
)

RULE_NAMES = tuple(rule.name for rule in RULES)
RULE_COLUMNS = [
    "transaction_id",
    "date_raw",
    "date_well_formed",
    "posted_ts",
    "pull_day",
    "debit_raw",
    "credit_raw",
    "debit_present",
    "credit_present",
    "debit_num",
    "credit_num",
    "balance_raw",
    "balance_num",
    "id_conflict",
]

SCHEMA = pa.DataFrameSchema(
    checks=[
        pa.Check(
            lambda f, r=rule: ~r.broken(f).fillna(False).astype(bool),
            name=rule.name,
            ignore_na=False,
        )
        for rule in RULES
    ],
    name="silver_transaction_candidates",
)


def to_number(text: pd.Series) -> pd.Series:
    """Parse numbers; a well-formed number beyond float range becomes +/-inf, not NaN.

    pandas gives NaN for ``"1e999"`` or a 400-digit integer, which would read as "not a
    number"; as infinity the row is rejected for what it is, an implausible amount.
    """
    numbers = pd.to_numeric(text, errors="coerce").astype("float64")
    # only text that failed to parse is looked at again (almost never any): matching the
    # pattern against every value cost more than the parse itself
    unparsed = (numbers.isna() & text.notna()).to_numpy(dtype=bool)
    overflow = np.zeros(len(text), dtype=bool)
    if unparsed.any():
        matched = text[unparsed].str.match(_DECIMAL).fillna(False)
        overflow[unparsed] = matched.to_numpy(dtype=bool)
    if overflow.any():
        negative = text.str.startswith("-").fillna(False).astype(bool)
        numbers[overflow] = np.where(negative[overflow], -np.inf, np.inf)
    return numbers


def prepare(raw: pd.DataFrame) -> pd.DataFrame:
    """Parse raw strings into the typed helper columns the rules read (set-based)."""
    frame = raw.copy(deep=False)  # new columns only: the raw values are never written
    date_text = frame["date_raw"].astype("string").str.strip()
    frame["date_well_formed"] = date_text.str.match(_ISO_DATE).fillna(False).astype(bool)
    frame["posted_ts"] = pd.to_datetime(
        date_text.str.slice(0, 10), format="%Y-%m-%d", errors="coerce"
    )
    frame["pull_day"] = pd.to_datetime(frame["pulled_at"]).dt.normalize()
    for side in ("debit", "credit"):
        text = frame[f"{side}_raw"].astype("string").str.strip()
        frame[f"{side}_present"] = (text.notna() & (text != "")).astype(bool)
        frame[f"{side}_num"] = to_number(text.where(frame[f"{side}_present"]))
    balance_text = frame["balance_raw"].astype("string").str.strip()
    frame["balance_num"] = to_number(balance_text)
    # the same Id twice in one application with different content cannot be resolved; only
    # repeated ids are grouped (a few rows, where grouping them all took 8.7 s for 2M)
    key = ["application_id", "transaction_id"]
    repeated = frame["transaction_id"].notna() & frame.duplicated(key, keep=False)
    variants = frame.loc[repeated].groupby(key)["content_hash"].transform("nunique")
    frame["id_conflict"] = False
    frame.loc[variants.index, "id_conflict"] = (variants > 1).to_numpy()
    return frame


def assign_rules(frame: pd.DataFrame) -> pd.Series:
    """The first broken rule per row (``<NA>`` where the row is valid), via pandera."""
    rule = pd.Series(pd.NA, index=frame.index, dtype="object")
    if frame.empty:
        return rule
    try:
        # only the columns the rules read: pandera reports a failing row once per column
        SCHEMA.validate(frame.loc[:, RULE_COLUMNS], lazy=True)
    except pa.errors.SchemaErrors as errors:
        cases = errors.failure_cases
        cases = cases.loc[cases["check"].isin(RULE_NAMES) & cases["index"].notna()]
        priority = {name: i for i, name in enumerate(RULE_NAMES)}
        cases = cases.assign(priority=cases["check"].map(priority)).sort_values("priority")
        first = cases.drop_duplicates("index", keep="first")
        rule.loc[first["index"].astype(frame.index.dtype).to_numpy()] = first["check"].to_numpy()
    return rule


def messages(frame: pd.DataFrame, rule: pd.Series) -> pd.Series:
    """A human message per rejected row, quoting the offending values."""
    out = pd.Series(pd.NA, index=frame.index, dtype="object")
    for item in RULES:
        mask = rule == item.name
        if mask.any():
            out.loc[mask] = item.message(frame.loc[mask]).astype(str)
    return out
