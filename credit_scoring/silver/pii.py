"""PII minimisation for silver: nothing that identifies a person leaves bronze in clear.

Holder name, email, phone and address are dropped. When a join key across applications is
needed (the same person applying twice), ``holder_key`` is a keyed hash (HMAC-SHA256) of the
normalised name and email with ``CREDIT_SCORING_PII_KEY``; without that key it stays empty, so a
hash that could be brute-forced from public names is never produced. Account numbers keep
their last four digits only.
"""

from __future__ import annotations

import hashlib
import hmac
import os

import pandas as pd

PII_KEY_VAR = "CREDIT_SCORING_PII_KEY"


def mask_account_number(numbers: pd.Series) -> pd.Series:
    """``1234567890`` -> ``****7890`` (only the last four digits survive).

    A number of four digits or fewer keeps none: its "last four" would be the whole number.
    """
    digits = numbers.astype("string").str.replace(r"\D", "", regex=True)
    length = digits.fillna("").str.len()
    last4 = digits.str.slice(-4).where(length > 4, "")
    masked = "****" + last4
    return masked.where(length > 0, None)


def holder_keys(names: pd.Series, emails: pd.Series) -> pd.Series:
    """Keyed hash of the holder, or empty when no key is configured."""
    key = os.environ.get(PII_KEY_VAR, "").encode()
    if not key:
        return pd.Series(None, index=names.index, dtype="object")
    normalised = (
        names.fillna("").astype(str).str.strip().str.lower()
        + "\x1f"
        + emails.fillna("").astype(str).str.strip().str.lower()
    )
    # one HMAC per account (a handful per application), not per transaction
    return normalised.map(lambda text: hmac.new(key, text.encode(), hashlib.sha256).hexdigest())
