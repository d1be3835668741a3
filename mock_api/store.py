"""Statement-export CSVs loaded once and indexed in memory, served as Flinks accounts.

Every ``statements/*.csv`` under the data directory is read as text (nothing is coerced by the
reader), then parsed and indexed set-based with pandas/numpy. Per request the store only slices
precomputed arrays by a date window and builds JSON-ready dicts, so a login with 100,000
transactions or a thousand small logins in parallel cost no parsing at request time.

The mock must serve bad data as the bank sent it, because catching it is the pipeline's job:

- a value it cannot parse (amount, balance, date) is served as the raw string, with a warning in
  the log at load time;
- a row with both or neither of Withdrawals/Deposits is passed on as it is;
- descriptions are served verbatim, whatever they contain.

Transaction ids
    The export has none, so each transaction gets a UUIDv5 in :data:`NAMESPACE` whose name is
    built from the login id, account number, date, description, withdrawals, deposits and balance
    (exactly as exported) plus the occurrence index among otherwise-identical rows of the account
    in file order (see :func:`transaction_id`). Same files, same ids after a restart; two identical
    purchases on the same day are two transactions with two ids.

Windows
    ``Days90``/``Days365`` are relative to the login's ``Request Date/Time`` (the pull), not the
    wall clock. They bound how far back history goes; rows dated after the pull are still listed,
    as a bank lists post-dated entries, so that the pipeline can reject them rather than never
    seeing them. Rows whose date cannot be parsed are served in every window, so nothing is
    hidden silently.

Rows that do not fit the header
    A row with fewer fields than the header is served with the missing trailing values empty
    (a row cut before its Balance is served with ``Balance: null``). A row with more fields
    (typically an unquoted comma in a description, which shifts every later value one column
    right) cannot be read column by column: its surplus fields are appended to Balance, so the
    row is served with a Balance that is not a number and the pipeline quarantines it, instead
    of it being served with shifted values or dropped (logged at load time).

Payloads served verbatim
    A response the export cannot express (a missing or mistyped field, ``"Accounts": null``,
    duplicate transaction ids, a truncated body) is given as a file: when
    ``<data-dir>/payloads/<LoginId>.json`` exists, GetAccountsDetail (and its Async poll) for
    that login answers the file's bytes unchanged with status 200, whatever window was asked.
    The login need not appear in any statement export. ``transactions_served`` counts the
    elements of the payload's ``Accounts[*].Transactions`` arrays (0 if it is not valid JSON).
"""

from __future__ import annotations

import hashlib
import logging
import re
import uuid
import warnings
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd

from mock_api.export_format import (
    COLUMNS,
    DATE_FORMAT,
    REQUEST_DATETIME_FORMAT,
    account_category,
    account_type_from_name,
)

logger = logging.getLogger(__name__)

#: Namespace of every id the mock derives. Changing it changes every id ever served.
NAMESPACE = uuid.UUID("5d0c8f5e-4f3a-5b6e-9a1d-7c2e3f4b5a69")

#: Optional export column; when absent (the usual case) accounts are in Canadian dollars.
CURRENCY_COLUMN = "Currency"
DEFAULT_CURRENCY = "CAD"

#: Columns the store needs; the export's own enrichment (Category, Tag...) is never served.
_USED_COLUMNS: tuple[str, ...] = (
    "Username",
    "Email",
    "Address",
    "Financial Institution",
    "Login ID",
    "Request ID",
    "Request Date/Time",
    "Account Name",
    "Account Number",
    "Account Type",
    "Account Balance",
    "Date",
    "Description",
    "Withdrawals",
    "Deposits",
    "Balance",
)

#: Fields of a transaction id, in order (see :func:`transaction_id`).
_ID_FIELDS: tuple[str, ...] = (
    "Login ID",
    "Account Number",
    "Date",
    "Description",
    "Withdrawals",
    "Deposits",
    "Balance",
)

#: Served transaction columns, as the store keeps them (one array each, in serving order).
_SERVED: tuple[str, ...] = ("Id", "Date", "Description", "Debit", "Credit", "Balance")

_AMOUNT = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)"
_ISO_DATE = r"\d{4}-\d{2}-\d{2}"
#: "civic, City, PROV POSTAL"; the civic part may itself contain commas.
_ADDRESS = re.compile(
    r"^\s*(?P<civic>.+),\s*(?P<city>[^,]+?)\s*,\s*(?P<province>[A-Za-z]{2})"
    r"(?:\s+(?P<postal>[A-Za-z]\d[A-Za-z]\s?\d[A-Za-z]\d))?\s*$"
)
#: How many individual warnings to log per kind of bad value before only counting them.
_WARNINGS_PER_KIND = 20


class StoreError(Exception):
    """The data directory cannot be served (no statements, or a file is not an export)."""


class NoStatementsError(StoreError):
    """The data directory holds no ``statements/*.csv`` (and no ``payloads/*.json``)."""


#: Sub-directory of the data directory holding responses served verbatim, one per login.
PAYLOADS_DIR = "payloads"


@dataclass(frozen=True)
class Payload:
    """A GetAccountsDetail body served byte for byte for one login."""

    body: bytes
    #: Elements of ``Accounts[*].Transactions`` arrays; 0 when the body is not usable JSON.
    transaction_count: int


@dataclass(frozen=True)
class Window:
    """Inclusive range of posting days (days since 1970-01-01); ``None`` leaves a side open."""

    first_day: int | None = None
    last_day: int | None = None

    @classmethod
    def between(cls, date_from: str | None, date_to: str | None) -> Window:
        """The window of two optional ``YYYY-MM-DD`` strings (already validated)."""
        return cls(
            first_day=None if date_from is None else day_number(date_from),
            last_day=None if date_to is None else day_number(date_to),
        )


@dataclass(frozen=True)
class Account:
    """One account of a login: its JSON fields and where its transactions sit in the store."""

    id: str
    number: str
    fields: dict[str, Any]
    #: Rows ``start:dated_end`` have a parsed date, newest first; ``dated_end:end`` do not.
    start: int
    dated_end: int
    end: int

    @property
    def transaction_count(self) -> int:
        return self.end - self.start


@dataclass(frozen=True)
class Login:
    """One login's most recent pull: holder, institution, and accounts."""

    id: str
    username: str
    institution: str
    institution_id: int
    last_refresh: str
    #: The pull date as a day number; day windows count back from it. ``None`` if unknown.
    pull_day: int | None
    accounts: tuple[Account, ...]
    login_fields: dict[str, Any] = field(repr=False)

    @property
    def transaction_count(self) -> int:
        return sum(account.transaction_count for account in self.accounts)

    def days_window(self, days: int) -> Window:
        """The last ``days`` days up to the pull (and anything post-dated after it)."""
        if self.pull_day is None:
            return Window()
        return Window(first_day=self.pull_day - days, last_day=None)


class Store:
    """All logins of the data directory, indexed for serving; immutable once built."""

    def __init__(
        self,
        logins: dict[str, Login],
        columns: dict[str, np.ndarray],
        negative_days: np.ndarray,
        files: Sequence[Path],
        payloads: dict[str, Payload] | None = None,
    ) -> None:
        self._payloads = dict(payloads or {})
        # a login known only by its payload still authorizes, with no accounts of its own
        logins = {**{login_id: _payload_login(login_id) for login_id in self._payloads}, **logins}
        self._logins = logins
        self._ids = columns["Id"]
        self._dates = columns["Date"]
        self._descriptions = columns["Description"]
        self._debits = columns["Debit"]
        self._credits = columns["Credit"]
        self._balances = columns["Balance"]
        # Ascending within each account's dated rows, so a window is two binary searches.
        self._negative_days = negative_days
        self.files = tuple(files)

    @property
    def login_count(self) -> int:
        return len(self._logins)

    @property
    def transaction_count(self) -> int:
        return len(self._ids)

    def login(self, login_id: str) -> Login | None:
        return self._logins.get(login_id)

    def login_ids(self) -> list[str]:
        return list(self._logins)

    def payload(self, login_id: str) -> Payload | None:
        """The body to serve verbatim for the login's GetAccountsDetail, if one was given."""
        return self._payloads.get(login_id)

    def accounts_json(
        self,
        login: Login,
        *,
        window: Window,
        with_transactions: bool,
        account_ids: Iterable[str] | None = None,
        mask_numbers: bool = False,
    ) -> tuple[list[dict[str, Any]], int]:
        """The login's accounts as Flinks JSON, and how many transactions they carry."""
        wanted = None if account_ids is None else set(account_ids)
        accounts: list[dict[str, Any]] = []
        served = 0
        for account in login.accounts:
            if wanted is not None and account.id not in wanted:
                continue
            body = dict(account.fields)
            if mask_numbers:
                body["AccountNumber"] = mask_account_number(account.number)
            if with_transactions:
                transactions = self.transactions_json(account, window)
                body["Transactions"] = transactions
                served += len(transactions)
            accounts.append(body)
        return accounts, served

    def transactions_json(self, account: Account, window: Window) -> list[dict[str, Any]]:
        """The account's transactions in ``window``, newest first, undated rows last."""
        dated = self._negative_days[account.start : account.dated_end]
        lo, hi = 0, len(dated)
        if window.last_day is not None:
            lo = int(np.searchsorted(dated, -window.last_day, side="left"))
        if window.first_day is not None:
            hi = int(np.searchsorted(dated, -window.first_day, side="right"))
        rows = self._rows(account.start + lo, account.start + max(lo, hi))
        rows.extend(self._rows(account.dated_end, account.end))
        return rows

    def _rows(self, start: int, stop: int) -> list[dict[str, Any]]:
        if stop <= start:
            return []
        return [
            {
                "Id": id_,
                "Date": date,
                "Code": None,
                "Description": description,
                "Debit": debit,
                "Credit": credit,
                "Balance": balance,
            }
            for id_, date, description, debit, credit, balance in zip(
                self._ids[start:stop].tolist(),
                self._dates[start:stop].tolist(),
                self._descriptions[start:stop].tolist(),
                self._debits[start:stop].tolist(),
                self._credits[start:stop].tolist(),
                self._balances[start:stop].tolist(),
                strict=True,
            )
        ]


# -- ids ------------------------------------------------------------------------------------


def _id_name(values: Sequence[str], occurrence: int) -> str:
    # Length-prefixing makes the name unambiguous whatever characters the values contain.
    return "".join(f"{len(value)}:{value}" for value in values) + str(occurrence)


def transaction_id(
    login_id: str,
    account_number: str,
    date: str,
    description: str,
    withdrawals: str,
    deposits: str,
    balance: str,
    occurrence: int = 0,
) -> str:
    """The id of one exported row (values exactly as in the CSV).

    ``occurrence`` counts earlier rows of the same account, in file order, whose other values
    are identical, so that repeated identical purchases keep distinct, stable ids.
    """
    values = (login_id, account_number, date, description, withdrawals, deposits, balance)
    return str(uuid.uuid5(NAMESPACE, _id_name(values, occurrence)))


def account_id(login_id: str, account_number: str) -> str:
    """The id of an account: stable for the same login and account number."""
    return str(uuid.uuid5(NAMESPACE, "account:" + _id_name((login_id, account_number), 0)))


def _transaction_ids(frame: pd.DataFrame) -> np.ndarray:
    """:func:`transaction_id` for every row, vectorised except for one hashing pass."""
    name = pd.Series("", index=frame.index, dtype=object)
    for column in _ID_FIELDS:
        values = frame[column]
        name = name + values.str.len().astype(str) + ":" + values
    occurrence = name.groupby(name, sort=False).cumcount()
    name = name + occurrence.astype(str)
    prefix = NAMESPACE.bytes
    digests = b"".join(
        [hashlib.sha1(prefix + text.encode("utf-8")).digest()[:16] for text in name.tolist()]
    )
    return _format_uuid5(np.frombuffer(digests, dtype=np.uint8).reshape(-1, 16))


_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_DASHES = (8, 13, 18, 23)
_HEX_POSITIONS = [i for i in range(36) if i not in _DASHES]


def _format_uuid5(raw: np.ndarray) -> np.ndarray:
    """Format 16-byte SHA-1 prefixes as version-5 UUID strings, as :func:`uuid.uuid5` does."""
    raw = raw.copy()
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x50
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    nibbles = np.empty((len(raw), 32), dtype=np.uint8)
    nibbles[:, 0::2] = _HEX[raw >> 4]
    nibbles[:, 1::2] = _HEX[raw & 0x0F]
    text = np.empty((len(raw), 36), dtype=np.uint8)
    text[:, _HEX_POSITIONS] = nibbles
    text[:, list(_DASHES)] = ord("-")
    return text.view("S36").ravel().astype(str).astype(object)


# -- small helpers --------------------------------------------------------------------------


def day_number(iso_date: str) -> int:
    """Days since 1970-01-01 of a ``YYYY-MM-DD`` string."""
    return int(np.datetime64(iso_date, "D").astype(np.int64))


def mask_account_number(number: str) -> str:
    """Keep the last four characters, as account summaries show them."""
    return "****" + number[-4:]


def institution_id(name: str) -> int:
    """A stable number for an institution name (the mock has no institution registry)."""
    return zlib.crc32(name.encode("utf-8")) % 10_000


def parse_address(text: str) -> dict[str, Any]:
    """Best-effort split of ``"civic, City, PROV POSTAL"``; unparsed text stays in CivicAddress."""
    match = _ADDRESS.match(text or "")
    if match is None:
        return {
            "CivicAddress": text or None,
            "City": None,
            "Province": None,
            "PostalCode": None,
            "POBox": None,
            "Country": "CA",
        }
    return {
        "CivicAddress": match["civic"].strip(),
        "City": match["city"],
        "Province": match["province"].upper(),
        "PostalCode": match["postal"].upper() if match["postal"] else None,
        "POBox": None,
        "Country": "CA",
    }


class _BadValues:
    """Logs unparseable values (a bounded number individually, then a count per kind)."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self._frame = frame
        self.counts: dict[str, int] = {}

    def report(self, column: str, bad: np.ndarray, what: str) -> None:
        positions = np.flatnonzero(bad)
        if not len(positions):
            return
        self.counts[column] = len(positions)
        sample = self._frame.iloc[positions[:_WARNINGS_PER_KIND]]
        for file, record, login, account, value in zip(
            sample["_file"],
            sample["_record"],
            sample["Login ID"],
            sample["Account Number"],
            sample[column],
            strict=True,
        ):
            logger.warning(
                "%s record %d (login %s, account %s): %s %r is not %s; served as the raw string",
                file,
                record,
                login,
                account,
                column,
                value,
                what,
            )
        if len(positions) > _WARNINGS_PER_KIND:
            logger.warning(
                "%d more unparseable %s values served as raw strings",
                len(positions) - _WARNINGS_PER_KIND,
                column,
            )


def _amounts(raw: pd.Series, column: str, bad_values: _BadValues) -> np.ndarray:
    """Numbers where the text is a plain decimal, None where empty, else the raw string."""
    text = raw.str.strip()
    empty = (text == "").to_numpy()
    well_formed = text.str.fullmatch(_AMOUNT).to_numpy(dtype=bool)
    numbers = pd.to_numeric(text.where(well_formed), errors="coerce").to_numpy(dtype=float)
    ok = well_formed & np.isfinite(numbers)
    out = raw.to_numpy(dtype=object, copy=True)
    out[empty] = None
    out[ok] = numbers[ok].astype(object)
    bad_values.report(column, ~empty & ~ok, "a number")
    return out


def _days(raw: pd.Series) -> np.ndarray:
    """Day numbers of ``YYYY-MM-DD`` values; -1 marks a value that is not a real date."""
    text = raw.str.strip()
    well_formed = text.str.fullmatch(_ISO_DATE).fillna(False).to_numpy(dtype=bool)
    parsed = pd.to_datetime(text.where(well_formed), format=DATE_FORMAT, errors="coerce")
    days = parsed.to_numpy().astype("datetime64[D]").astype(np.int64)
    return np.where(pd.isna(parsed).to_numpy(), -1, days)


def _request_times(raw: pd.Series) -> pd.Series:
    """Pull timestamps: the export's format, else any ISO-8601 form, else NaT."""
    text = raw.str.strip()
    parsed = pd.to_datetime(text, format=REQUEST_DATETIME_FORMAT, errors="coerce")
    missing = parsed.isna() & (text != "")
    if missing.any():
        parsed[missing] = pd.to_datetime(text[missing], format="ISO8601", errors="coerce")
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
    return parsed


# -- loading --------------------------------------------------------------------------------


def statement_files(data_dir: Path | str) -> list[Path]:
    """The statement exports of a data directory, in a stable (name) order."""
    return sorted((Path(data_dir) / "statements").glob("*.csv"))


def payload_transaction_count(body: bytes) -> int:
    """How many transactions a Flinks body carries: elements of its Transactions arrays.

    Only well-formed parts count (an account that is not an object, or Transactions that is
    not an array, carries none), so that the figure is what a reader of the contract sees.
    """
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return 0
    accounts = parsed.get("Accounts") if isinstance(parsed, dict) else None
    if not isinstance(accounts, list):
        return 0
    return sum(
        len(account["Transactions"])
        for account in accounts
        if isinstance(account, dict) and isinstance(account.get("Transactions"), list)
    )


def load_payloads(data_dir: Path | str) -> dict[str, Payload]:
    """``payloads/<LoginId>.json`` of a data directory, by login id (file stem)."""
    payloads: dict[str, Payload] = {}
    for path in sorted((Path(data_dir) / PAYLOADS_DIR).glob("*.json")):
        body = path.read_bytes()
        payloads[path.stem] = Payload(body=body, transaction_count=payload_transaction_count(body))
    if payloads:
        logger.info("%d login(s) answer GetAccountsDetail with a payload file", len(payloads))
    return payloads


def _payload_login(login_id: str) -> Login:
    """A login that exists only as a payload file: it authorizes and has no exported rows."""
    return Login(
        id=login_id,
        username="",
        institution="",
        institution_id=0,
        last_refresh="",
        pull_day=None,
        accounts=(),
        login_fields={
            "Id": login_id,
            "Username": "",
            "IsScheduledRefresh": False,
            "LastRefresh": None,
            "Type": "Personal",
        },
    )


def _read_csv(path: Path, **options: Any) -> pd.DataFrame:
    try:
        return pd.read_csv(path, encoding="utf-8-sig", **options)
    except UnicodeDecodeError:
        logger.warning("%s is not valid UTF-8; undecodable bytes are replaced", path)
        return pd.read_csv(path, encoding="utf-8-sig", encoding_errors="replace", **options)


def _read_statement(path: Path) -> pd.DataFrame | None:
    """One export as text, with its file name and record number; None for an empty file."""
    try:
        header = list(_read_csv(path, nrows=0).columns)
    except pd.errors.EmptyDataError:
        logger.warning("%s is empty; skipped", path)
        return None
    missing = [column for column in _USED_COLUMNS if column not in header]
    if missing:
        raise StoreError(
            f"{path} is not a statement export: missing columns {missing} "
            f"(expected header: {','.join(COLUMNS)})"
        )
    wanted = [*_USED_COLUMNS, *([CURRENCY_COLUMN] if CURRENCY_COLUMN in header else [])]
    # Every column is read, not only ``wanted``: asked for some columns only, the reader drops
    # the surplus fields of a too-long row without a word, and the row is served shifted.
    options: dict[str, Any] = {"dtype": str, "keep_default_na": False, "na_filter": False}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", pd.errors.ParserWarning)
        frame = _read_csv(path, on_bad_lines="warn", **options)
    messages = [str(warning.message).strip() for warning in caught]
    too_long = [message for message in messages if "fields, saw" in message]
    for message in messages:
        if message not in too_long:
            logger.warning("%s: unreadable line skipped: %s", path, message)
    if too_long:
        frame = _read_keeping_surplus(path, header, options, len(too_long))
    frame = frame.loc[:, wanted]
    frame["_file"] = path.name
    frame["_record"] = np.arange(1, len(frame) + 1)
    return frame


def _read_keeping_surplus(
    path: Path, header: list[str], options: dict[str, Any], count: int
) -> pd.DataFrame:
    """Read again a file with too-long rows, appending their surplus fields to Balance.

    The values of such a row are shifted (most often by an unquoted comma in a description),
    so none can be trusted; a Balance that never parses as a number makes sure the pipeline
    quarantines the row with a reason instead of it being lost or served shifted. Only broken
    files take this slower reader.
    """
    width = len(header)
    balance = header.index("Balance")

    def keep_surplus(fields: list[str]) -> list[str]:
        kept = fields[:width]
        kept[balance] = ",".join([kept[balance], *fields[width:]])
        return kept

    logger.warning(
        "%s: %d row(s) have more fields than the header; their surplus is appended to "
        "Balance, so they are served as unparseable rather than shifted",
        path,
        count,
    )
    # the python reader fills the missing values of a short row with None, the C one with ""
    return _read_csv(path, engine="python", on_bad_lines=keep_surplus, **options).fillna("")


def _latest_pulls(frame: pd.DataFrame, pulled_at: pd.Series) -> np.ndarray:
    """Mask of rows that belong to each login's most recent pull (``Request ID``).

    A login exported twice (two pulls) would otherwise be served as duplicated transactions;
    like Flinks' ``MostRecentCached``, only the newest pull is served.
    """
    pulls = pd.DataFrame(
        {
            "login": frame["Login ID"].to_numpy(),
            "request": frame["Request ID"].to_numpy(),
            "pulled_at": pulled_at.to_numpy(),
            "position": np.arange(len(frame)),
        }
    ).drop_duplicates(["login", "request"])
    if pulls["login"].is_unique:
        return np.ones(len(frame), dtype=bool)
    newest = pulls.sort_values(["login", "pulled_at", "position"], na_position="first")
    newest = newest.drop_duplicates("login", keep="last")
    keep = pd.MultiIndex.from_frame(newest[["login", "request"]])
    rows = pd.MultiIndex.from_arrays([frame["Login ID"], frame["Request ID"]])
    mask = rows.isin(keep)
    dropped = int((~mask).sum())
    logger.warning(
        "%d rows of older pulls of the same logins are not served (newest pull wins)", dropped
    )
    return np.asarray(mask)


def _empty_store(files: Sequence[Path], payloads: dict[str, Payload]) -> Store:
    logger.warning("no transactions found in %d statement files", len(files))
    columns = {name: np.array([], dtype=object) for name in _SERVED}
    return Store({}, columns, np.array([], dtype=np.int64), files, payloads)


def load_store(data_dir: Path | str) -> Store:
    """Read and index every ``statements/*.csv`` (and ``payloads/*.json``) under ``data_dir``."""
    files = statement_files(data_dir)
    payloads = load_payloads(data_dir)
    if not files and not payloads:
        raise NoStatementsError(
            f"no statement exports found: {Path(data_dir) / 'statements'}/*.csv does not exist"
        )
    frames = [frame for frame in map(_read_statement, files) if frame is not None]
    if not frames:
        return _empty_store(files, payloads)
    frame = pd.concat(frames, ignore_index=True)
    if CURRENCY_COLUMN not in frame:
        frame[CURRENCY_COLUMN] = ""
    frame[CURRENCY_COLUMN] = frame[CURRENCY_COLUMN].fillna("")

    no_login = (frame["Login ID"].str.strip() == "").to_numpy()
    if no_login.any():
        logger.warning("%d rows without a Login ID cannot be served; skipped", no_login.sum())
        frame = frame.loc[~no_login]

    pulled_at = _request_times(frame["Request Date/Time"])
    keep = _latest_pulls(frame, pulled_at)
    if not keep.all():
        frame, pulled_at = frame.loc[keep], pulled_at.loc[keep]
    frame = frame.reset_index(drop=True)
    pulled_at = pulled_at.reset_index(drop=True)
    if frame.empty:
        return _empty_store(files, payloads)

    bad_values = _BadValues(frame)
    days = _days(frame["Date"])
    bad_values.report("Date", days < 0, "a YYYY-MM-DD date")
    columns: dict[str, np.ndarray] = {
        "Id": _transaction_ids(frame),
        "Date": frame["Date"].to_numpy(dtype=object),
        "Description": frame["Description"].to_numpy(dtype=object),
        "Debit": _amounts(frame["Withdrawals"], "Withdrawals", bad_values),
        "Credit": _amounts(frame["Deposits"], "Deposits", bad_values),
        "Balance": _amounts(frame["Balance"], "Balance", bad_values),
    }

    # Accounts in order of first appearance; within one: dated rows newest first (file order
    # within a day, as the export lists the last posted first), then undated rows in file order.
    account_codes = frame.groupby(["Login ID", "Account Number"], sort=False).ngroup().to_numpy()
    undated = days < 0
    sort_day = np.where(undated, np.iinfo(np.int64).max, -days)
    order = np.lexsort((np.arange(len(frame)), sort_day, account_codes))
    columns = {name: values[order] for name, values in columns.items()}
    negative_days = np.where(undated, 0, -days)[order]
    sorted_codes = account_codes[order]

    starts = np.flatnonzero(np.diff(sorted_codes, prepend=-1))
    ends = np.append(starts[1:], len(frame))
    undated_counts = np.add.reduceat(undated[order].astype(np.int64), starts)
    spans = pd.DataFrame({"start": starts, "dated_end": ends - undated_counts, "end": ends})

    logins = _build_logins(frame, pulled_at, days, account_codes, spans)
    store = Store(logins, columns, negative_days, files, payloads)
    logger.info(
        "loaded %d logins, %d accounts, %d transactions from %d files%s",
        store.login_count,
        len(starts),
        store.transaction_count,
        len(files),
        "".join(f"; {n} unparseable {c}" for c, n in bad_values.counts.items()),
    )
    return store


def _build_logins(
    frame: pd.DataFrame,
    pulled_at: pd.Series,
    days: np.ndarray,
    account_codes: np.ndarray,
    spans: pd.DataFrame,
) -> dict[str, Login]:
    """Per-login and per-account JSON fields, from each login's and account's first row.

    ``spans`` holds, per account code, where its sorted transactions sit in the store.
    """
    holders, details = _login_details(frame, pulled_at, days)

    first_rows = pd.Series(account_codes).drop_duplicates().index.to_numpy()
    accounts = frame.iloc[first_rows].reset_index(drop=True)
    balances = _amounts(accounts["Account Balance"], "Account Balance", _BadValues(accounts))
    login_accounts: dict[str, list[Account]] = {login_id: [] for login_id in details}
    for (login_id, number, title, export_type, currency), balance, (start, dated_end, end) in zip(
        accounts[
            ["Login ID", "Account Number", "Account Name", "Account Type", CURRENCY_COLUMN]
        ].itertuples(index=False, name=None),
        balances.tolist(),
        spans.itertuples(index=False, name=None),
        strict=True,
    ):
        category = account_category(export_type)
        fields: dict[str, Any] = {
            "Id": account_id(login_id, number),
            "Title": title,
            "AccountNumber": number,
            "TransitNumber": None,
            "InstitutionNumber": None,
            "Balance": {
                # Available credit is unknown without the card's limit.
                "Available": None if category == "Credits" else balance,
                "Current": balance,
                "Limit": None,
            },
            "Category": category,
            "Type": account_type_from_name(title),
            "Currency": currency.strip().upper() or DEFAULT_CURRENCY,
            "Holder": holders[login_id],
        }
        login_accounts[login_id].append(
            Account(
                id=fields["Id"],
                number=number,
                fields=fields,
                start=int(start),
                dated_end=int(dated_end),
                end=int(end),
            )
        )
    return {
        login_id: Login(accounts=tuple(login_accounts[login_id]), **fields)
        for login_id, fields in details.items()
    }


def _login_details(
    frame: pd.DataFrame, pulled_at: pd.Series, days: np.ndarray
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """Per login, from the first row of its pull: the Holder JSON, and the Login fields."""
    dated_days = pd.Series(np.where(days < 0, np.nan, days))
    latest_day = dated_days.groupby(frame["Login ID"].to_numpy(), sort=False).max()
    login_rows = frame.drop_duplicates("Login ID")
    columns = ["Login ID", "Username", "Email", "Address", "Financial Institution"]
    holders: dict[str, dict[str, Any]] = {}
    details: dict[str, dict[str, Any]] = {}
    for (login_id, username, email, address, institution), pulled_raw, pulled in zip(
        login_rows[columns].itertuples(index=False, name=None),
        login_rows["Request Date/Time"].tolist(),
        pulled_at.loc[login_rows.index].tolist(),
        strict=True,
    ):
        if pd.isna(pulled):
            fallback = latest_day.get(login_id)
            pull_day = None if fallback is None or pd.isna(fallback) else int(fallback)
            logger.warning(
                "login %s: Request Date/Time %r is not a timestamp; day windows count back from %s",
                login_id,
                pulled_raw,
                "its latest transaction" if pull_day is not None else "nowhere (all served)",
            )
            last_refresh = pulled_raw
        else:
            pull_day = int(np.datetime64(pulled, "D").astype(np.int64))
            last_refresh = pulled.strftime("%Y-%m-%dT%H:%M:%S")
        details[login_id] = {
            "id": login_id,
            "username": username,
            "institution": institution,
            "institution_id": institution_id(institution),
            "last_refresh": last_refresh,
            "pull_day": pull_day,
            "login_fields": {
                "Id": login_id,
                "Username": username,
                "IsScheduledRefresh": False,
                "LastRefresh": last_refresh,
                "Type": "Personal",
            },
        }
        holders[login_id] = {
            "Name": username,
            "Address": parse_address(address),
            "Email": email,
            "PhoneNumber": None,
        }
    return holders, details
