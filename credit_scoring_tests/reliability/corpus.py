"""The bad-input corpus: every kind of bad data the pipeline must survive, and where it must end.

Four levels, as the data reaches the system:

- ``csv``: the bank's statement export as the mock loads it (numbers, dates, sides, column
  counts, encodings, line endings, huge values, empty files);
- ``api``: Flinks answers the export cannot express, served byte for byte from
  ``payloads/<LoginId>.json`` (missing and mistyped fields, ``null`` accounts, truncated JSON,
  duplicate ids);
- ``application``: rows of the applications CSV (unknown or missing login, duplicate id, a date
  in the future);
- ``config``: the environment and the command line (bad or missing variables, bad partitions).

Data cases (the first three levels) each own their logins and applications, so all of them are
written into ONE data directory and go through one mock server and one pipeline run; each then
states its expected fate: which rows end in silver and which in the quarantine under which rule,
and whether its application ends PENDING, ERROR with a code, or rejected from the source with a
rule. Config cases are one command each, with the variable its error message must name.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import orjson

from credit_scoring_tests.builders.flinks import account, transaction
from credit_scoring_tests.builders.flinks import response as flinks_response
from credit_scoring_tests.builders.statements import (
    cells,
    export_text,
    statement_row,
    write_payload,
    write_statement_bytes,
    write_statements,
)

Level = Literal["csv", "api", "application", "config"]

#: Every corpus application is dated this day; the pipeline runs this one partition.
CORPUS_DAY = "2026-10-05"
APPLIED_AT = f"{CORPUS_DAY}T12:00:00Z"
PULLED_AT = f"{CORPUS_DAY} 12:00:00"
#: Whose statements the corpus's rows are, and when the bank exported them.
CORPUS_HOLDER = {
    "Username": "Corpus Holder",
    "Financial Institution": "Corpus Bank",
    "Request Date/Time": PULLED_AT,
}
#: Writes a case's files into a data directory.
Writer = Callable[[Path], Any]
#: Where a valid row ends.
SILVER = "silver"
#: What an application row never fetched looks like in the expectations.
NOT_IN_LEDGER = None


@dataclass(frozen=True)
class Row:
    """A transaction of a case, by description, and where it must end (silver or a rule).

    ``planted`` is False for the ordinary rows that travel with the bad ones, to show that a
    bad row costs nothing to its neighbours.
    """

    description: str
    outcome: str
    planted: bool = True


@dataclass(frozen=True)
class Application:
    """One line of the corpus's applications CSV."""

    application_id: str
    login_id: str
    applied_at: str = APPLIED_AT
    requested_amount: str = "5000"


def _write_nothing(data_dir: Path) -> None:
    """A case made only of applications rows writes no statement or payload file."""


@dataclass(frozen=True)
class DataCase:
    """A kind of bad data that travels through the mock and the pipeline, and its fate.

    ``rows``: the transactions of the case's first application as they must be stored
    (identical copies collapse into one silver row). ``served``: transaction copies the mock
    must serve for it (default: one per row). ``account_rejects``: rules of whole accounts or
    responses quarantined without transactions. ``status``: the application's ledger status,
    ``None`` when the applications source rejects it before any fetch; ``code`` and
    ``message``: its error code and part of its message. ``source_rejects``: rules the
    applications source gives this case's rows. ``accounts``: silver accounts, when checked.
    """

    name: str
    level: Level
    write: Writer = _write_nothing
    applications: tuple[Application, ...] = ()
    rows: tuple[Row, ...] = ()
    served: int | None = None
    account_rejects: tuple[str, ...] = ()
    status: str | None = "PENDING"
    code: str | None = None
    message: str = ""
    source_rejects: tuple[str, ...] = ()
    accounts: int | None = None

    @property
    def application_id(self) -> str | None:
        return self.applications[0].application_id if self.applications else None

    @property
    def expected_served(self) -> int:
        return len(self.rows) if self.served is None else self.served

    @property
    def faults(self) -> int:
        """Bad inputs planted: its planted rows and rejected accounts, else the one input."""
        planted = sum(row.planted for row in self.rows) + len(self.account_rejects)
        return planted or 1


@dataclass(frozen=True)
class ConfigCase:
    """A bad setting or command line: the command must refuse it, naming ``names``.

    ``entry`` is ``runner`` (``python -m devtools.runner``) or ``definitions`` (loading
    the code location, as ``dagster dev`` and every run process do). ``env`` is built from a
    scratch directory, so that a case can point a variable at a file that is not a directory.
    """

    name: str
    env: Callable[[Path], dict[str, str]]
    names: str
    message: str
    argv: tuple[str, ...] = ("--partition", CORPUS_DAY)
    entry: Literal["runner", "definitions"] = "runner"
    level: Level = field(default="config", init=False)


# -- writing statement exports ----------------------------------------------------------------


def export_row(login_id: str, description: str, **values: str) -> list[str]:
    """One export row of the login's chequing account, as the corpus's bank writes it."""
    return cells(statement_row(login_id, description, **CORPUS_HOLDER, **values))


def anchor(login_id: str) -> list[str]:
    """An ordinary deposit that shares the file and account with a case's bad rows."""
    return export_row(login_id, f"ANCHOR {login_id}", deposits="250.00", balance="1250.00")


def statement_writer(file_name: str, rows: list[list[str]], **options: Any) -> Writer:
    """A case's ``statements/<file_name>.csv`` (line ends, prefix, encoding as given)."""
    return lambda data_dir: write_statements(data_dir, rows, file_name=file_name, **options)


def raw_statement_writer(file_name: str, body: bytes) -> Writer:
    """A statement file of exactly these bytes (an empty file, a bare header)."""
    return lambda data_dir: write_statement_bytes(data_dir, file_name, body)


#: A planted export row: its values for a login, and where it must end.
PlantedRow = tuple[Callable[[str], list[str]], Row]


def _values(description: str, **values: str) -> Callable[[str], list[str]]:
    return lambda login: export_row(login, description, **values)


def planted(description: str, outcome: str, **values: str) -> PlantedRow:
    """A row of a CSV case (``export_row`` values) that must end in ``outcome``."""
    return _values(description, **values), Row(description, outcome)


def csv_case(name: str, slug: str, *rows: PlantedRow, **options: Any) -> DataCase:
    """A statement-export case: an anchor row and its planted rows, in its own file and login.

    ``options``: how the file is written (``line_end``, ``prefix``, ``encoding``); the rest
    goes to :class:`DataCase`.
    """
    login = f"login-csv-{slug}"
    writing = {
        key: options.pop(key) for key in ("line_end", "prefix", "encoding") if key in options
    }
    lines = [anchor(login), *(values(login) for values, _ in rows)]
    return DataCase(
        name=name,
        level="csv",
        write=statement_writer(f"csv-{slug}", lines, **writing),
        applications=(Application(f"app-csv-{slug}", login),),
        rows=(Row(f"ANCHOR {login}", SILVER, planted=False), *(row for _, row in rows)),
        **options,
    )


# -- writing payloads -------------------------------------------------------------------------


def response(login_id: str, accounts: Any, *, drop: tuple[str, ...] = ()) -> dict[str, Any]:
    """A GetAccountsDetail answer from the corpus's bank."""
    return flinks_response(
        login_id, accounts, pulled=f"{CORPUS_DAY}T12:00:00", institution="Corpus Bank", drop=drop
    )


def payload_writer(login_id: str, body: bytes) -> Writer:
    return lambda data_dir: write_payload(data_dir, login_id, body)


def api_case(name: str, slug: str, body: bytes | Callable[[str], Any], **options: Any) -> DataCase:
    """A Flinks-answer case: its payload file (bytes, or JSON built for its login)."""
    login = f"login-api-{slug}"
    payload = body if isinstance(body, bytes) else orjson.dumps(body(login))
    return DataCase(
        name=name,
        level="api",
        write=payload_writer(login, payload),
        applications=(Application(f"app-api-{slug}", login),),
        **options,
    )


def _anchor_tx(slug: str) -> dict[str, Any]:
    return transaction(f"tx-{slug}-anchor", f"ANCHOR {slug}", credit=250.0, balance=1250.0)


def _anchor_row(slug: str) -> Row:
    return Row(f"ANCHOR {slug}", SILVER, planted=False)


# -- the corpus -------------------------------------------------------------------------------

HUGE_DESCRIPTION = "HUGE DESCRIPTION " + "x" * 65_536
QUOTED_NEWLINE = 'LINE ONE\nLINE TWO, "QUOTED", END'

CSV_CASES: tuple[DataCase, ...] = (
    csv_case(
        "csv: unparseable amounts",
        "amount",
        planted("AMOUNT DECIMAL COMMA", "non_numeric_amount", withdrawals="12,50"),
        planted("AMOUNT WORDS", "non_numeric_amount", deposits="ten dollars"),
    ),
    csv_case(
        "csv: unparseable balance",
        "balance",
        planted("BALANCE NA", "unparseable_balance", withdrawals="5.00", balance="n/a"),
    ),
    csv_case(
        "csv: unparseable dates",
        "date",
        planted("DATE SLASHES", "unparseable_date", date="05/10/2026", withdrawals="5.00"),
        planted("DATE WORD", "unparseable_date", date="yesterday", withdrawals="5.00"),
    ),
    csv_case(
        "csv: impossible dates",
        "impossible-date",
        planted("DATE FEB 30", "impossible_date", date="2026-02-30", withdrawals="5.00"),
        planted("DATE YEAR ONE", "impossible_date", date="0001-01-01", withdrawals="5.00"),
    ),
    csv_case(
        "csv: date after the pull",
        "post-dated",
        planted("POST DATED", "date_after_pull", date="2026-10-06", withdrawals="5.00"),
    ),
    csv_case(
        "csv: both withdrawal and deposit",
        "both-sides",
        planted("BOTH SIDES", "both_debit_and_credit", withdrawals="5.00", deposits="5.00"),
    ),
    csv_case(
        "csv: neither withdrawal nor deposit",
        "neither-side",
        planted("NEITHER SIDE", "neither_debit_nor_credit"),
    ),
    csv_case(
        "csv: negative amount",
        "negative",
        planted("NEGATIVE WITHDRAWAL", "negative_amount", withdrawals="-5.00"),
    ),
    csv_case(
        "csv: too many fields (unquoted comma, trailing field)",
        "too-many-fields",
        # "ACME, INC" unquoted: every later value moves one column right
        (
            lambda login: [
                *export_row(login, "ACME")[:17],
                *(" INC", "", "", "12.50", "", "987.50"),
            ],
            Row("ACME", "unparseable_balance"),
        ),
        (
            lambda login: [*export_row(login, "TRAILING FIELD", withdrawals="3.00"), "EXTRA"],
            Row("TRAILING FIELD", "unparseable_balance"),
        ),
    ),
    csv_case(
        "csv: too few fields (rows cut short)",
        "too-few-fields",
        (
            lambda login: export_row(login, "NO BALANCE FIELD", withdrawals="3.00")[:-1],
            Row("NO BALANCE FIELD", "unparseable_balance"),
        ),
        (
            lambda login: export_row(login, "CUT AFTER DESCRIPTION", withdrawals="3.00")[:17],
            Row("CUT AFTER DESCRIPTION", "neither_debit_nor_credit"),
        ),
    ),
    csv_case(
        "csv: UTF-8 byte-order mark",
        "bom",
        planted("AFTER A BOM", SILVER, withdrawals="7.25", balance="992.75"),
        prefix=b"\xef\xbb\xbf",
    ),
    csv_case(
        "csv: CRLF line endings",
        "crlf",
        planted("CRLF ROW", SILVER, withdrawals="7.25", balance="992.75"),
        line_end="\r\n",
    ),
    csv_case(
        "csv: quoted newline in a description",
        "quoted-newline",
        planted(QUOTED_NEWLINE, SILVER, withdrawals="7.25", balance="992.75"),
    ),
    csv_case(
        "csv: not UTF-8 (a Latin-1 byte)",
        "latin-1",
        (
            _values("CAFÉ LATIN-1", withdrawals="4.50", balance="995.50"),
            Row("CAF\ufffd LATIN-1", SILVER),
        ),
        encoding="latin-1",
    ),
    csv_case(
        "csv: huge amounts",
        "huge-amount",
        planted("AMOUNT 25 MILLION", "implausible_amount", withdrawals="25000000.00"),
        planted("AMOUNT 400 DIGITS", "implausible_amount", deposits="9" * 400),
    ),
    csv_case(
        "csv: huge balance (beyond a float)",
        "huge-balance",
        planted(
            "BALANCE 1E400", "unparseable_balance", withdrawals="1.00", balance="1" + "0" * 400
        ),
    ),
    csv_case(
        "csv: huge description (64 KiB)",
        "huge-description",
        planted(HUGE_DESCRIPTION, SILVER, withdrawals="1.00", balance="999.00"),
    ),
    csv_case(
        "csv: identical rows (two purchases, same day)",
        "identical-rows",
        planted("COFFEE TWICE", SILVER, withdrawals="4.50", balance="995.50"),
        planted("COFFEE TWICE", SILVER, withdrawals="4.50", balance="995.50"),
    ),
    DataCase(
        name="csv: empty file (0 bytes)",
        level="csv",
        write=raw_statement_writer("csv-empty", b""),
        status=NOT_IN_LEDGER,
    ),
    DataCase(
        name="csv: header only",
        level="csv",
        write=raw_statement_writer("csv-header-only", export_text([]).encode()),
        status=NOT_IN_LEDGER,
    ),
)

API_CASES: tuple[DataCase, ...] = (
    api_case(
        "api: missing transaction fields (Id, Date, Debit and Credit, Balance)",
        "missing-fields",
        lambda login: response(
            login,
            [
                account(
                    "acc-missing-fields",
                    [
                        _anchor_tx("missing-fields"),
                        transaction("unused", "NO ID", drop=("Id",)),
                        transaction("tx-no-date", "NO DATE", drop=("Date",)),
                        transaction("tx-no-sides", "NO SIDES", drop=("Debit", "Credit")),
                        transaction("tx-no-balance", "NO BALANCE", drop=("Balance",)),
                    ],
                )
            ],
        ),
        rows=(
            _anchor_row("missing-fields"),
            Row("NO ID", "missing_id"),
            Row("NO DATE", "unparseable_date"),
            Row("NO SIDES", "neither_debit_nor_credit"),
            Row("NO BALANCE", "unparseable_balance"),
        ),
    ),
    api_case(
        "api: missing account fields (Id, Category, Type, Currency)",
        "missing-account-fields",
        lambda login: response(
            login,
            [
                account(
                    "unused",
                    [_anchor_tx("missing-account-fields")],
                    drop=("Id", "Category", "Type", "Currency"),
                )
            ],
        ),
        rows=(Row("ANCHOR missing-account-fields", SILVER),),
        accounts=1,
    ),
    api_case(
        "api: numbers sent as JSON strings",
        "numeric-strings",
        lambda login: response(
            login,
            [
                account(
                    "acc-numeric-strings",
                    [
                        transaction(
                            "tx-strings",
                            "AMOUNTS AS STRINGS",
                            debit="12.50",
                            credit=None,
                            balance="987.50",
                        ),
                        transaction(12345, "ID AS NUMBER", credit=1.0),
                    ],
                )
            ],
        ),
        rows=(Row("AMOUNTS AS STRINGS", SILVER), Row("ID AS NUMBER", SILVER)),
    ),
    api_case(
        "api: wrong JSON types (boolean, object, array, number date)",
        "wrong-types",
        lambda login: response(
            login,
            [
                account(
                    "acc-wrong-types",
                    [
                        _anchor_tx("wrong-types"),
                        transaction("tx-bool", "CREDIT TRUE", credit=True),
                        transaction("tx-object", "DEBIT OBJECT", debit={"Amount": 5}, credit=None),
                        transaction("tx-array", "BALANCE ARRAY", balance=[1000.0]),
                        transaction("tx-numeric-date", "DATE NUMBER", date=20261001),
                        transaction("tx-null-date", "DATE NULL", date=None),
                    ],
                )
            ],
        ),
        rows=(
            _anchor_row("wrong-types"),
            Row("CREDIT TRUE", "non_numeric_amount"),
            Row("DEBIT OBJECT", "non_numeric_amount"),
            Row("BALANCE ARRAY", "unparseable_balance"),
            Row("DATE NUMBER", "unparseable_date"),
            Row("DATE NULL", "unparseable_date"),
        ),
    ),
    api_case(
        "api: Transactions is an object, not an array",
        "transactions-object",
        lambda login: response(
            login,
            [
                account("acc-transactions-object", transaction("tx-lone", "LONE OBJECT")),
                account("acc-transactions-fine", [_anchor_tx("transactions-object")]),
            ],
        ),
        rows=(_anchor_row("transactions-object"),),
        account_rejects=("unreadable_transactions",),
        accounts=2,
    ),
    api_case(
        "api: transactions that are not objects",
        "non-object-transactions",
        lambda login: response(
            login,
            [account("acc-non-objects", [_anchor_tx("non-object-transactions"), 42, "text", None])],
        ),
        rows=(
            _anchor_row("non-object-transactions"),
            Row("", "missing_id"),
            Row("", "missing_id"),
            Row("", "missing_id"),
        ),
    ),
    api_case(
        'api: "Accounts": null',
        "accounts-null",
        lambda login: response(login, None),
        status="ERROR",
        code="MALFORMED_RESPONSE",
        message="Accounts is null",
    ),
    api_case(
        "api: Accounts missing",
        "accounts-missing",
        lambda login: response(login, [], drop=("Accounts",)),
        status="ERROR",
        code="MALFORMED_RESPONSE",
        message="without Accounts",
    ),
    api_case(
        "api: zero transactions",
        "zero-transactions",
        lambda login: response(login, [account("acc-empty", [])]),
        accounts=1,
    ),
    api_case(
        "api: zero accounts",
        "zero-accounts",
        lambda login: response(login, []),
        accounts=0,
    ),
    api_case(
        "api: truncated JSON",
        "truncated",
        orjson.dumps(response("login-api-truncated", [account("acc", [_anchor_tx("t")])]))[:-40],
        status="ERROR",
        code="MALFORMED_RESPONSE",
        message="not JSON",
    ),
    api_case(
        "api: body is a JSON array, not an object",
        "array-body",
        b"[]",
        status="ERROR",
        code="MALFORMED_RESPONSE",
        message="JSON object",
    ),
    api_case(
        "api: invalid UTF-8 in the body",
        "invalid-utf8",
        orjson.dumps(
            response("login-api-invalid-utf8", [account("acc", [_anchor_tx("u")])])
        ).replace(b"ANCHOR u", b"ANCHOR \xff\xfe"),
        status="ERROR",
        code="MALFORMED_RESPONSE",
        message="not JSON",
    ),
    api_case(
        "api: duplicate transaction ids, identical content",
        "duplicate-ids-identical",
        lambda login: response(
            login,
            [
                account(
                    "acc-dup-same",
                    [transaction("tx-dup", "DUP SAME"), transaction("tx-dup", "DUP SAME")],
                )
            ],
        ),
        rows=(Row("DUP SAME", SILVER),),
        served=2,
    ),
    api_case(
        "api: duplicate transaction ids, different content",
        "duplicate-ids-conflict",
        lambda login: response(
            login,
            [
                account(
                    "acc-dup-conflict",
                    [
                        _anchor_tx("duplicate-ids-conflict"),
                        transaction("tx-dup", "DUP CONFLICT A", credit=10.0),
                        transaction("tx-dup", "DUP CONFLICT B", credit=99.0),
                    ],
                )
            ],
        ),
        rows=(
            _anchor_row("duplicate-ids-conflict"),
            Row("DUP CONFLICT A", "duplicate_id_conflict"),
            Row("DUP CONFLICT B", "duplicate_id_conflict"),
        ),
    ),
    api_case(
        "api: duplicate account ids",
        "duplicate-account-ids",
        lambda login: response(
            login,
            [
                account(
                    "acc-twice",
                    [
                        transaction("tx-first-ok", "FIRST ACCOUNT OK"),
                        transaction("tx-first-bad", "FIRST ACCOUNT BAD", date="never"),
                    ],
                ),
                account(
                    "acc-twice",
                    [
                        transaction("tx-second-ok", "SECOND ACCOUNT OK"),
                        transaction("tx-second-bad", "SECOND ACCOUNT BAD", date="never"),
                    ],
                ),
            ],
        ),
        rows=(
            Row("FIRST ACCOUNT OK", SILVER, planted=False),
            Row("FIRST ACCOUNT BAD", "unparseable_date"),
            Row("SECOND ACCOUNT OK", SILVER),
            Row("SECOND ACCOUNT BAD", "unparseable_date"),
        ),
    ),
    api_case(
        "api: unknown extra fields everywhere",
        "extra-fields",
        lambda login: {
            **response(
                login,
                [
                    account(
                        "acc-extra",
                        [transaction("tx-extra", "EXTRA FIELDS", Category={"nested": [1]})],
                        Overdraft={"Limit": 500},
                    )
                ],
            ),
            "NewTopLevelField": [1, 2, 3],
        },
        rows=(Row("EXTRA FIELDS", SILVER),),
    ),
)


def _login_with_one_row(slug: str, description: str) -> Writer:
    login = f"login-app-{slug}"
    return statement_writer(
        f"app-{slug}", [export_row(login, description, deposits="100.00", balance="1100.00")]
    )


def _both(*writers: Writer) -> Writer:
    def write(data_dir: Path) -> None:
        for writer in writers:
            writer(data_dir)

    return write


APPLICATION_CASES: tuple[DataCase, ...] = (
    DataCase(
        name="application: unknown login",
        level="application",
        applications=(Application("app-unknown-login", "login-that-does-not-exist"),),
        status="ERROR",
        code="INVALID_LOGIN",
        message="unknown",
    ),
    DataCase(
        name="application: missing login",
        level="application",
        applications=(Application("app-missing-login", ""),),
        status=NOT_IN_LEDGER,
        source_rejects=("missing_login_id",),
    ),
    DataCase(
        name="application: duplicate application id (the first row wins)",
        level="application",
        write=_both(
            _login_with_one_row("dup-first", "DUPLICATE APP FIRST"),
            _login_with_one_row("dup-second", "DUPLICATE APP SECOND"),
        ),
        applications=(
            Application("app-duplicate", "login-app-dup-first"),
            Application(
                "app-duplicate", "login-app-dup-second", applied_at=f"{CORPUS_DAY}T13:00:00Z"
            ),
        ),
        rows=(Row("DUPLICATE APP FIRST", SILVER, planted=False),),
        source_rejects=("duplicate_application_id",),
    ),
    DataCase(
        name="application: applied_at in the future",
        level="application",
        write=_login_with_one_row("future", "NEVER FETCHED"),
        applications=(
            Application("app-future", "login-app-future", applied_at="2099-01-01T12:00:00Z"),
        ),
        status=NOT_IN_LEDGER,
        source_rejects=("applied_at_in_future",),
    ),
    DataCase(
        name="application: applied_at not a timestamp",
        level="application",
        applications=(
            Application("app-bad-applied-at", "login-app-any", applied_at="next tuesday"),
        ),
        status=NOT_IN_LEDGER,
        source_rejects=("bad_applied_at",),
    ),
    DataCase(
        name="application: requested amount not a number",
        level="application",
        applications=(Application("app-bad-amount", "login-app-any", requested_amount="lots"),),
        status=NOT_IN_LEDGER,
        source_rejects=("non_numeric_amount",),
    ),
    DataCase(
        name="application: the file has a BOM and CRLF line endings",
        level="application",
        write=_login_with_one_row("bom-crlf", "READ THROUGH A BOM"),
        applications=(Application("app-bom-crlf", "login-app-bom-crlf"),),
        rows=(Row("READ THROUGH A BOM", SILVER, planted=False),),
    ),
)

DATA_CASES: tuple[DataCase, ...] = (*CSV_CASES, *API_CASES, *APPLICATION_CASES)


def _env(**values: str) -> Callable[[Path], dict[str, str]]:
    return lambda scratch: dict(values)


def _home_is_a_file(scratch: Path) -> dict[str, str]:
    path = scratch / "home-is-a-file"
    path.write_text("not a directory\n")
    return {"CREDIT_SCORING_HOME": str(path)}


#: A deployment that set none of its endpoints and did not ask for the mocks (empty = unset).
NO_ENDPOINTS = dict.fromkeys(
    ("CREDIT_SCORING_ENV", "FLINKS_BASE_URL", "FLINKS_CUSTOMER_ID", "TAKTILE_BASE_URL"), ""
)

CONFIG_CASES: tuple[ConfigCase, ...] = (
    ConfigCase(
        "config: start date not a date",
        _env(CREDIT_SCORING_START_DATE="2026-13-01"),
        "CREDIT_SCORING_START_DATE",
        "is not a date",
    ),
    ConfigCase(
        "config: start date in the future",
        _env(CREDIT_SCORING_START_DATE="2999-01-01"),
        "CREDIT_SCORING_START_DATE",
        "in the future",
    ),
    ConfigCase(
        "config: Flinks base URL without a scheme",
        _env(FLINKS_BASE_URL="flinks.example.com"),
        "FLINKS_BASE_URL",
        "is not an http(s) URL",
    ),
    ConfigCase(
        "config: Flinks customer id with a slash",
        _env(FLINKS_CUSTOMER_ID="acme/prod"),
        "FLINKS_CUSTOMER_ID",
        "is not a customer id",
    ),
    ConfigCase(
        "config: Flinks timeout not a number",
        _env(FLINKS_TIMEOUT_SECONDS="thirty"),
        "FLINKS_TIMEOUT_SECONDS",
        "is not a positive number",
    ),
    ConfigCase(
        "config: unknown executor",
        _env(CREDIT_SCORING_EXECUTOR="kubernetes"),
        "CREDIT_SCORING_EXECUTOR",
        "is not an executor",
    ),
    ConfigCase(
        "config: ledger URL not a URL",
        _env(CREDIT_SCORING_LEDGER_URL="ledger.sqlite"),
        "CREDIT_SCORING_LEDGER_URL",
        "is not a SQLAlchemy URL",
    ),
    ConfigCase(
        "config: ledger URL of an unsupported database",
        _env(CREDIT_SCORING_LEDGER_URL="mysql://scorer:secret@db/ledger"),
        "CREDIT_SCORING_LEDGER_URL",
        "the ledger runs on sqlite or postgresql",
    ),
    ConfigCase(
        "config: home is a file",
        _home_is_a_file,
        "CREDIT_SCORING_HOME",
        "is not a directory",
    ),
    ConfigCase(
        "config: applications file missing",
        lambda scratch: {"CREDIT_SCORING_APPLICATIONS": str(scratch / "no-such-file.csv")},
        "CREDIT_SCORING_APPLICATIONS",
        "does not exist",
    ),
    ConfigCase(
        "config: no endpoints outside dev",
        _env(**NO_ENDPOINTS),
        "FLINKS_BASE_URL, FLINKS_CUSTOMER_ID and TAKTILE_BASE_URL",
        "are not set: set the Flinks and Taktile endpoints, or set CREDIT_SCORING_ENV=dev",
    ),
    ConfigCase(
        "config: code location load without endpoints outside dev",
        _env(**NO_ENDPOINTS),
        "FLINKS_BASE_URL, FLINKS_CUSTOMER_ID and TAKTILE_BASE_URL",
        "are not set: set the Flinks and Taktile endpoints, or set CREDIT_SCORING_ENV=dev",
        entry="definitions",
    ),
    ConfigCase(
        "config: code location load with a bad variable",
        _env(CREDIT_SCORING_EXECUTOR="kubernetes"),
        "CREDIT_SCORING_EXECUTOR",
        "is not an executor",
        entry="definitions",
    ),
    ConfigCase(
        "config: partition key not on the calendar",
        _env(),
        "--partition",
        "'2026-02-30' is not a date",
        argv=("--partition", "2026-02-30"),
    ),
    ConfigCase(
        "config: partition key not a date",
        _env(),
        "--partition",
        "'yesterday' is not a date",
        argv=("--partition", "yesterday"),
    ),
    ConfigCase(
        "config: partition before the start date",
        _env(CREDIT_SCORING_START_DATE="2026-01-01"),
        "CREDIT_SCORING_START_DATE",
        "before the first partition, 2026-01-01",
        argv=("--partition", "2025-12-31"),
    ),
    ConfigCase(
        "config: partition in the future",
        _env(),
        "2099-01-01",
        "is in the future",
        argv=("--range", f"{CORPUS_DAY}...2099-01-01"),
    ),
)

ALL_CASES: tuple[DataCase | ConfigCase, ...] = (*DATA_CASES, *CONFIG_CASES)


def write_data_dir(data_dir: Path) -> Path:
    """Every data case's files, and the applications CSV (with a BOM and CRLF line endings).

    Returns the applications CSV's path.
    """
    for case in DATA_CASES:
        case.write(data_dir)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["application_id", "login_id", "applied_at", "requested_amount"])
    for case in DATA_CASES:
        for application in case.applications:
            writer.writerow(
                [
                    application.application_id,
                    application.login_id,
                    application.applied_at,
                    application.requested_amount,
                ]
            )
    path = data_dir / "applications.csv"
    path.write_bytes(b"\xef\xbb\xbf" + buffer.getvalue().encode("utf-8"))
    return path
