"""Reading the applications source: parse, validate, and reject bad rows with a reason.

The source is operator-maintained (an export from the loan-origination system), so bad rows are
expected: each is rejected with the rule it broke, never crashed on and never silently dropped.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
from upath import UPath

REQUIRED_COLUMNS = ("application_id", "login_id", "applied_at", "requested_amount")
APPLICATION_COLUMNS = [
    "application_id",
    "login_id",
    "applied_at",
    "application_date",
    "partition_date",
    "requested_amount",
]
REJECT_COLUMNS = ["source_row", "application_id", "login_id", "applied_at", "rule", "message"]
#: The plausible range of a requested amount (CAD); outside it is a typo, not a loan.
MAX_REQUESTED_AMOUNT = 1_000_000.0
#: How far ahead of this machine's clock an ``applied_at`` may be (the source's clock may run a
#: little fast); beyond it the timestamp is a typo, and its day would never be a partition.
FUTURE_TOLERANCE = timedelta(minutes=5)


class ApplicationsSourceError(ValueError):
    """The applications file itself is unusable (missing, or missing required columns)."""


def read_applications_csv(path: Path | UPath) -> pd.DataFrame:
    """Read the raw CSV as strings, keeping the 1-based source row for every rejection.

    ``path`` is a local file or an object in a store (``UPath``, e.g. on S3)."""
    if not path.exists():
        raise ApplicationsSourceError(
            f"applications file {str(path)!r} does not exist: set CREDIT_SCORING_APPLICATIONS "
            "to the CSV listing application_id,login_id,applied_at,requested_amount"
        )
    with path.open("rb") as handle:
        raw = pd.read_csv(
            handle, dtype=str, keep_default_na=False, skipinitialspace=True, encoding="utf-8-sig"
        )
    missing = [column for column in REQUIRED_COLUMNS if column not in raw.columns]
    if missing:
        raise ApplicationsSourceError(
            f"applications file {str(path)!r} lacks column(s) {missing}; found {list(raw.columns)}"
        )
    raw = raw.loc[:, list(REQUIRED_COLUMNS)].copy()
    raw.insert(0, "source_row", range(2, len(raw) + 2))  # header is row 1
    return raw


def validate_applications(
    raw: pd.DataFrame, *, now: datetime | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split raw rows into valid applications and rejects (``rule`` + ``message``), set-based.

    Rules, checked in this order (a row gets the first it breaks): missing application id,
    missing login, unparseable ``applied_at``, ``applied_at`` in the future (later than
    ``now``, default the current time, by more than :data:`FUTURE_TOLERANCE`), non-numeric or
    out-of-range amount, and a duplicate application id (every copy after the first is
    rejected; the first one wins).
    """
    frame = raw.copy()
    for column in REQUIRED_COLUMNS:
        frame[column] = frame[column].astype(str).str.strip()
    applied_at = pd.to_datetime(frame["applied_at"], utc=True, errors="coerce", format="ISO8601")
    amount = pd.to_numeric(frame["requested_amount"], errors="coerce")

    rule = pd.Series(pd.NA, index=frame.index, dtype="object")
    message = pd.Series(pd.NA, index=frame.index, dtype="object")

    def flag(mask: pd.Series, name: str, text: pd.Series | str) -> None:
        new = mask & rule.isna()
        rule[new] = name
        message[new] = text[new] if isinstance(text, pd.Series) else text

    flag(frame["application_id"] == "", "missing_application_id", "application_id is empty")
    flag(frame["login_id"] == "", "missing_login_id", "login_id is empty: no bank data to fetch")
    flag(
        applied_at.isna(),
        "bad_applied_at",
        "applied_at " + frame["applied_at"].map(repr) + " is not an ISO 8601 timestamp",
    )
    current = pd.Timestamp(now or datetime.now(UTC))
    current = current.tz_localize(UTC) if current.tzinfo is None else current
    latest = current + FUTURE_TOLERANCE
    flag(
        applied_at.notna() & (applied_at > latest),
        "applied_at_in_future",
        "applied_at "
        + frame["applied_at"].map(repr)
        + f" is later than now ({current.tz_convert(UTC):%Y-%m-%d %H:%M} UTC)",
    )
    flag(
        amount.isna(),
        "non_numeric_amount",
        "requested_amount " + frame["requested_amount"].map(repr) + " is not a number",
    )
    flag(
        amount.notna() & ((amount <= 0) | (amount > MAX_REQUESTED_AMOUNT)),
        "implausible_amount",
        "requested_amount "
        + frame["requested_amount"].map(repr)
        + f" is outside (0, {MAX_REQUESTED_AMOUNT:,.0f}]",
    )
    candidate = rule.isna()
    duplicate = candidate & frame["application_id"].where(candidate).duplicated(keep="first")
    duplicate &= frame["application_id"] != ""
    flag(
        duplicate,
        "duplicate_application_id",
        "application_id " + frame["application_id"].map(repr) + " already appears earlier",
    )

    ok = rule.isna()
    valid = pd.DataFrame(
        {
            "application_id": frame.loc[ok, "application_id"],
            "login_id": frame.loc[ok, "login_id"],
            "applied_at": applied_at[ok],
            "application_date": applied_at[ok].dt.date,
            "partition_date": applied_at[ok].dt.strftime("%Y-%m-%d"),
            "requested_amount": amount[ok].astype("float64"),
        }
    ).reset_index(drop=True)
    rejects = frame.loc[~ok, ["source_row", "application_id", "login_id", "applied_at"]].assign(
        rule=rule[~ok].astype(str), message=message[~ok].astype(str)
    )
    return valid[APPLICATION_COLUMNS], rejects[REJECT_COLUMNS].reset_index(drop=True)


def in_window(applications: pd.DataFrame, start: date, end: date) -> pd.DataFrame:
    """Applications whose application date (UTC) is in ``[start, end)``."""
    dates = applications["application_date"]
    mask = (dates >= start) & (dates < end)
    return applications.loc[mask].reset_index(drop=True)
