"""The Flinks statement-export CSV format: the one contract shared by the generator and the mock.

One row per transaction. Rows of one account are listed newest first, as the export lists
them; within a day the first listed row is the last posted, which is what makes the
end-of-day balance well defined downstream.

Values as written by the export:

- ``Request Date/Time``: ``YYYY-MM-DD HH:MM:SS`` in UTC, when the data was pulled (for generated
  data: the application's ``applied_at``). Day windows are relative to it, not to the wall clock.
- ``Date``: ``YYYY-MM-DD`` posting date.
- ``Withdrawals`` / ``Deposits``: positive decimals with a ``.`` separator, exactly one of them set,
  the other empty. ``Balance`` is the account balance after the transaction.
- ``Account Type``: the Flinks category in its export spelling (``Operation``, ``Credit``,
  ``Product``, ``Other``); see :data:`ACCOUNT_TYPE_TO_CATEGORY`.
- ``Account Name``: the account title (``Chequing``, ``Savings``, ``Visa``...); the Flinks
  ``Type`` is derived from it by :func:`account_type_from_name`.
- ``Account Balance``: the account's current balance, repeated on every row of the account.
- ``Category`` / ``Subcategory``: the export's own enrichment; informative only, never trusted.

The export carries no transaction id: the mock derives a stable one (see ``mock_api.store``).
"""

from __future__ import annotations

COLUMNS: tuple[str, ...] = (
    "Username",
    "Email",
    "Address",
    "Financial Institution",
    "Employer Name",
    "Login ID",
    "Request ID",
    "Request Date/Time",
    "Request Status",
    "Days Detected",
    "Tag",
    "Account Name",
    "Account Number",
    "Account Type",
    "Account Balance",
    "Date",
    "Description",
    "Category",
    "Subcategory",
    "Withdrawals",
    "Deposits",
    "Balance",
)

DATE_FORMAT = "%Y-%m-%d"
REQUEST_DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"

#: Export ``Account Type`` -> Flinks ``Category``.
ACCOUNT_TYPE_TO_CATEGORY: dict[str, str] = {
    "Operation": "Operations",
    "Credit": "Credits",
    "Product": "Products",
    "Other": "Other",
}

#: Keywords in ``Account Name`` -> Flinks ``Type``; first match wins, checked in order.
_TYPE_KEYWORDS: tuple[tuple[str, str], ...] = (
    ("line of credit", "LineOfCredit"),
    ("marge", "LineOfCredit"),
    ("mortgage", "Mortgage"),
    ("hypoth", "Mortgage"),
    ("loan", "Loan"),
    ("pret", "Loan"),
    ("visa", "CreditCard"),
    ("mastercard", "CreditCard"),
    ("amex", "CreditCard"),
    ("credit card", "CreditCard"),
    ("saving", "Savings"),
    ("epargne", "Savings"),
    ("tfsa", "Savings"),
    ("chequing", "Chequing"),
    ("checking", "Chequing"),
    ("cheque", "Chequing"),
)


def account_category(export_account_type: str) -> str:
    """Map the export's ``Account Type`` to a Flinks ``Category`` (unknown ones pass through)."""
    value = (export_account_type or "").strip()
    return ACCOUNT_TYPE_TO_CATEGORY.get(value, value or "Other")


def account_type_from_name(account_name: str) -> str:
    """Derive the Flinks ``Type`` from the account title, as Flinks does from the bank's wording."""
    lowered = (account_name or "").lower()
    for keyword, account_type in _TYPE_KEYWORDS:
        if keyword in lowered:
            return account_type
    return "Other"
