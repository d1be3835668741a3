"""The answers the pipeline should find: per-application figures computed from the rows written.

Each figure is computed from the clean transactions exactly as they are written to the
statements (injected malformed rows excluded), over the 90 days before the application date
``A``: the window ``A-90 ... A-1``. The generator knows what every transaction *is* (its kind),
so these numbers are independent of the description-matching rules the pipeline implements;
a mismatch points at the pipeline, not at the test data.

Definitions (all money in CAD, two decimals):

- ``monthly_employer_income``: payroll deposits on operating accounts in the window / 3.
- ``government_income_monthly``: government benefit deposits (CCB, GST/HST credit, EI) on
  operating accounts in the window / 3.
- ``nsf_fee_count_90d``: NSF / returned-item fee transactions in the window, any account.
- ``overdraft_fee_count_90d``: overdraft charges (``OVERDRAFT FEE``, ``OD INTEREST``) in the
  window, any account.
- ``days_negative_90d``: days of the window whose daily balance is below zero. The daily balance
  is the sum over operating accounts (export ``Account Type`` ``Operation``) of each account's
  end-of-day balance: the ``Balance`` of its chronologically last transaction on or before that
  day, or before its first transaction its opening balance (first ``Balance`` minus its signed
  amount).
- ``loan_payment_count_90d``: instalment-loan payments in the window.
- ``micro_lender_payment_count_90d``: payments (debits) to short-term lenders in the window.
- ``history_days``: ``A`` minus the earliest transaction date of the login, any account.
- ``transaction_count``: clean transactions of the login (hostile-text rows included).
- ``malformed_rows``: invalid rows injected for the login (they must end in the rejects).
- ``hostile_text_rows``: valid rows whose description is hostile text (they must reach silver).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mock_api.generator.events import CARD, CHEQUING, SAVINGS, SLOTS, Ledger
from mock_api.generator.profiles import PAY_FREQUENCY_NAMES, PROFILE_NAMES, Logins
from mock_api.generator.vocabulary import GOVERNMENT_KINDS, Kind

WINDOW_DAYS = 90
GROUND_TRUTH_COLUMNS = [
    "application_id",
    "login_id",
    "applied_at",
    "profile",
    "employer_name",
    "pay_frequency",
    "nominal_monthly_income",
    "monthly_employer_income",
    "government_income_monthly",
    "nsf_fee_count_90d",
    "overdraft_fee_count_90d",
    "days_negative_90d",
    "loan_payment_count_90d",
    "micro_lender_payment_count_90d",
    "history_days",
    "transaction_count",
    "malformed_rows",
    "hostile_text_rows",
]


def format_cents(cents: np.ndarray) -> list[str]:
    """Integer cents as ``-1234.56`` text (exact: no floating point involved)."""
    values = np.asarray(cents, dtype=np.int64)
    sign = np.where(values < 0, "-", "")
    magnitude = np.abs(values)
    return [
        f"{s}{whole}.{part:02d}"
        for s, whole, part in zip(sign, magnitude // 100, magnitude % 100, strict=True)
    ]


def _monthly(total_cents: np.ndarray) -> np.ndarray:
    """A 90-day total as a monthly figure (/ 3), rounded half up to the cent."""
    return (2 * total_cents + 3) // 6


def _days_negative(ledger: Ledger, logins: Logins) -> np.ndarray:
    """Count window days whose summed end-of-day operating balance is below zero."""
    n = logins.n
    account = ledger.account
    present = np.bincount(account, minlength=n * SLOTS) > 0
    key = account * (1 << 32) + ledger.day  # ledger is sorted by account, then day
    window = logins.app_day[:, None] - WINDOW_DAYS + np.arange(WINDOW_DAYS)[None, :]
    daily = np.zeros((n, WINDOW_DAYS), dtype=np.int64)
    for slot in (CHEQUING, SAVINGS):
        accounts = np.arange(n) * SLOTS + slot
        grid_key = accounts[:, None] * (1 << 32) + window
        last = np.searchsorted(key, grid_key, side="right") - 1
        safe = np.maximum(last, 0)
        seen = (last >= 0) & (account[safe] == accounts[:, None])
        end_of_day = np.where(seen, ledger.balance[safe], ledger.opening[accounts][:, None])
        daily += np.where(present[accounts][:, None], end_of_day, 0)
    return (daily < 0).sum(axis=1)


def compute_ground_truth(
    ledger: Ledger,
    logins: Logins,
    applications: pd.DataFrame,
    malformed_per_login: np.ndarray,
    hostile_per_login: np.ndarray,
) -> pd.DataFrame:
    """One row per application of the batch, in the batch's login order."""
    n = logins.n
    login = ledger.login
    app_day = logins.app_day[login]
    in_window = (ledger.day >= app_day - WINDOW_DAYS) & (ledger.day <= app_day - 1)
    operating = ledger.slot != CARD

    def total(mask: np.ndarray) -> np.ndarray:
        return np.bincount(login[mask], weights=ledger.amount[mask], minlength=n).astype(np.int64)

    def count(mask: np.ndarray) -> np.ndarray:
        return np.bincount(login[mask], minlength=n)

    kind = ledger.kind
    payroll = total(in_window & operating & (kind == Kind.PAYROLL))
    government = total(
        in_window & operating & np.isin(kind, np.array(GOVERNMENT_KINDS, dtype=np.int16))
    )
    earliest = np.full(n, np.iinfo(np.int64).max)
    np.minimum.at(earliest, login, ledger.day)

    return pd.DataFrame(
        {
            "application_id": applications["application_id"].to_numpy(),
            "login_id": applications["login_id"].to_numpy(),
            "applied_at": applications["applied_at"].dt.strftime("%Y-%m-%dT%H:%M:%SZ").to_numpy(),
            "profile": np.array(PROFILE_NAMES)[logins.profile],
            "employer_name": logins.employer_name,
            "pay_frequency": np.array(PAY_FREQUENCY_NAMES)[logins.pay_frequency],
            "nominal_monthly_income": format_cents(logins.nominal_monthly_cents),
            "monthly_employer_income": format_cents(_monthly(payroll)),
            "government_income_monthly": format_cents(_monthly(government)),
            "nsf_fee_count_90d": count(in_window & (kind == Kind.NSF_FEE)),
            "overdraft_fee_count_90d": count(in_window & (kind == Kind.OVERDRAFT_FEE)),
            "days_negative_90d": _days_negative(ledger, logins),
            "loan_payment_count_90d": count(in_window & (kind == Kind.LOAN_PAYMENT)),
            "micro_lender_payment_count_90d": count(
                in_window & (kind == Kind.MICRO_LENDER_PAYMENT)
            ),
            "history_days": logins.app_day - earliest,
            "transaction_count": count(np.ones(len(ledger), dtype=bool)),
            "malformed_rows": malformed_per_login,
            "hostile_text_rows": hostile_per_login,
        },
        columns=GROUND_TRUTH_COLUMNS,
    )
