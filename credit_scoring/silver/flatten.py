"""Unnest raw Flinks responses into account and transaction rows, in DuckDB.

DuckDB parses the JSON and unnests it set-based and in parallel, so a day of two million
transactions is flattened without a Python loop over transactions. Values are extracted as the
text the feed sent so that validation can say exactly what was wrong with a row, and nothing is
coerced silently.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator

import duckdb
import pandas as pd
import pyarrow as pa

BRONZE_COLUMNS = [
    "application_id",
    "login_id",
    "partition_date",
    "request_id",
    "fetched_at",
    "payload",
]

#: The parts of a Flinks ``GetAccountsDetail`` answer silver reads, as the structure DuckDB's
#: ``from_json`` converts each payload into. Every value is read as text: a JSON string as its
#: value, any other JSON (a number, ``true``, an object...) as its JSON text, ``null`` as NULL,
#: exactly what ``json_extract_string`` gives, so validation quotes what the feed sent. A
#: value of the wrong shape (an object where a list is expected, a number where an object
#: is) becomes NULL rather than an error; keys match case-sensitively, as in JSON paths.
PAYLOAD_STRUCTURE = json.dumps(
    {
        "Login": {"LastRefresh": "VARCHAR"},
        "Institution": "VARCHAR",
        "Accounts": [
            {
                "Id": "VARCHAR",
                "Title": "VARCHAR",
                "AccountNumber": "VARCHAR",
                "Category": "VARCHAR",
                "Type": "VARCHAR",
                "Currency": "VARCHAR",
                "Balance": {"Current": "VARCHAR", "Available": "VARCHAR", "Limit": "VARCHAR"},
                "Holder": {"Name": "VARCHAR", "Email": "VARCHAR"},
                "Transactions": [
                    {
                        "Id": "VARCHAR",
                        "Date": "VARCHAR",
                        "Description": "VARCHAR",
                        "Debit": "VARCHAR",
                        "Credit": "VARCHAR",
                        "Balance": "VARCHAR",
                    }
                ],
            }
        ],
    },
    separators=(",", ":"),
)

#: Every response's readable accounts, parsed once per slice into a temporary table.
#:
#: Each payload is parsed once, straight into typed lists of accounts and transactions
#: (``from_json``). An earlier form extracted JSON text level by level (the accounts, then
#: each account's fields and transactions, then each transaction's values): the day's text
#: was parsed four times and written out again three times, and parsing and unnesting 73 MB
#: of payloads took 2.1 s against 1.4 s now. Only an account whose Transactions did not
#: convert to a list (not an array, or absent) has its payload read again, for the kind of
#: value it holds.
PARSED_SQL = f"""
create or replace temp table parsed as
with responses as (
    select
        application_id, login_id, partition_date, request_id, fetched_at, response_position,
        payload,
        from_json(payload, '{PAYLOAD_STRUCTURE}') as body
    from bronze
    where json_valid(payload)
),
accounts as (
    select
        responses.* exclude (body),
        coalesce(try_cast(body.Login.LastRefresh as timestamp), fetched_at::timestamp)
            as pulled_at,
        body.Institution as institution,
        unnest(body.Accounts) as account,
        generate_subscripts(body.Accounts, 1) - 1 as account_position
    from responses
)
select
    accounts.* exclude (payload, account),
    coalesce(account.Id, 'position-' || account_position::varchar) as account_id,
    account.Title as title, account.AccountNumber as account_number,
    account.Category as category, account.Type as type, account.Currency as currency,
    try_cast(account.Balance.Current as double) as balance_current,
    try_cast(account.Balance.Available as double) as balance_available,
    try_cast(account.Balance.Limit as double) as balance_limit,
    account.Holder.Name as holder_name, account.Holder.Email as holder_email,
    case when account.Transactions is not null then 'ARRAY'
         else coalesce(
             json_type(payload, '$.Accounts[' || account_position::varchar || '].Transactions'),
             'NULL'
         ) end as transactions_type,
    account.Transactions as transaction_list
from accounts
"""  # noqa: S608 (a constant of this module: no input is interpolated)

FLATTEN_SQL = """
with accounts_positioned as (
    -- Two accounts of one response that share an Id share its feed positions: the second
    -- one's are numbered after the first one's, so no two transactions of an account id ever
    -- share a position (the quarantine's key) and none can overwrite another.
    select
        *,
        coalesce(
            sum(len(transaction_list)) over (
                partition by application_id, request_id, fetched_at, account_id
                order by account_position
                rows between unbounded preceding and 1 preceding
            ),
            0
        ) as position_offset
    from parsed
    where transactions_type = 'ARRAY'
    -- the window does not keep row order: restore bronze order (accounts are few) so that
    -- transactions come out in bronze order, then feed order
    order by response_position, account_position
),
transactions as (
    select
        application_id, login_id, partition_date, request_id, fetched_at, pulled_at,
        account_id, category, type, currency, response_position, account_position,
        unnest(transaction_list) as tx,
        generate_subscripts(transaction_list, 1) - 1 + position_offset as feed_position
    from accounts_positioned
)
select
    application_id, login_id, partition_date, request_id, fetched_at, pulled_at,
    account_id, category as account_category, type as account_type, currency,
    feed_position::integer as feed_position,
    tx.Id as transaction_id,
    tx.Date as date_raw,
    tx.Description as description,
    tx.Debit as debit_raw,
    tx.Credit as credit_raw,
    tx.Balance as balance_raw,
    -- content fingerprint: chr(31) cannot occur in the values, '\\N' marks a missing one
    md5(concat_ws(chr(31),
        coalesce(account_id, '\\N'), coalesce(tx.Date, '\\N'),
        coalesce(tx.Description, '\\N'), coalesce(tx.Debit, '\\N'),
        coalesce(tx.Credit, '\\N'), coalesce(tx.Balance, '\\N')
    )) as content_hash
from transactions
"""

ACCOUNTS_SQL = """
select
    application_id, login_id, partition_date, request_id, fetched_at, institution,
    account_id, title, account_number, category, type, currency,
    balance_current, balance_available, balance_limit, holder_name, holder_email,
    transactions_type
from parsed
order by response_position, account_position
"""

UNREADABLE_SQL = """
select application_id, login_id, partition_date, request_id,
       null::varchar as account_id,
       case when not json_valid(payload) then 'payload is not valid JSON'
            else 'Accounts is ' || coalesce(json_type(payload, '$.Accounts'), 'missing')
                 || ', not an array' end as message
from bronze
where not json_valid(payload)
   or coalesce(json_type(payload, '$.Accounts'), 'NULL') not in ('ARRAY')
"""
UNREADABLE_COLUMNS = [
    "application_id",
    "login_id",
    "partition_date",
    "request_id",
    "account_id",
    "message",
]


def unreadable_accounts(accounts: pd.DataFrame) -> pd.DataFrame:
    """Accounts whose Transactions is there but not a list (an object, a string...).

    Their transactions cannot be read, so each is quarantined as a whole; an account without
    Transactions, or with ``null``, simply has none.
    """
    bad = accounts.loc[~accounts["transactions_type"].isin(["ARRAY", "NULL"])]
    return bad.assign(
        message="Transactions of account "
        + bad["account_id"].astype(str)
        + " is "
        + bad["transactions_type"].astype(str)
        + ", not an array"
    ).loc[:, UNREADABLE_COLUMNS]


@contextlib.contextmanager
def parsing_database() -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory DuckDB database for flattening, unbounded (DuckDB cannot spill JSON work:
    the slices bound it). Opening a database costs about 25 ms, a connection to an open one
    (``cursor()``) under 1 ms: a day flattened in 40 slices opens one, not 40."""
    with duckdb.connect(config={"threads": 2}) as database:
        yield database


def register_bronze(connection: duckdb.DuckDBPyConnection, bronze: pd.DataFrame) -> None:
    """Make ``bronze`` (a slice of responses) the ``bronze`` view the SQL above reads."""
    frame = bronze.loc[:, BRONZE_COLUMNS].copy()
    frame["fetched_at"] = pd.to_datetime(frame["fetched_at"], utc=True).dt.tz_localize(None)
    # rows come out in bronze order, then feed order, whatever DuckDB does in between
    frame["response_position"] = range(len(frame))
    connection.register("bronze", frame)


#: JSON text flattened per DuckDB pass. DuckDB cannot spill JSON work to disk: one pass over a
#: day of 1,000 applications (803,676 transactions) peaked at 6.6 GB; 8 MB slices peak at
#: 2.6 GB (mostly the result frames) in the same time, and smaller slices only get slower.
BATCH_PAYLOAD_BYTES = 8 * 1024 * 1024


def payload_batches(
    bronze: pd.DataFrame, limit: int = BATCH_PAYLOAD_BYTES, *, together: str | None = None
) -> list[pd.DataFrame]:
    """Consecutive slices of ``bronze`` whose payloads add up to at most ``limit`` characters
    (a single larger response is a slice of its own).

    ``together``: a column whose consecutive equal values are never split between slices (a
    slice then exceeds ``limit`` by at most that group's payloads).
    """
    sizes = bronze["payload"].str.len().fillna(0).to_numpy()
    if together is None:
        may_cut = [True] * len(bronze)
    else:
        values = bronze[together]
        may_cut = (values != values.shift()).to_list()
    batches, start, total = [], 0, 0
    for end, size in enumerate(sizes):
        if end > start and total + size > limit and may_cut[end]:
            batches.append(bronze.iloc[start:end])
            start, total = end, 0
        total += size
    if start < len(bronze):
        batches.append(bronze.iloc[start:])
    return batches


#: Arrow-backed text: a day's silver rows hold eleven text columns, and as Python objects
#: they took 470 MB per 500k transactions; in Arrow buffers about a third of that.
ARROW_STRING = pd.ArrowDtype(pa.string())
#: The flattened text columns that validation and standardisation read with Python's string
#: semantics (``str.strip``'s whitespace, ``str.upper``, ``repr`` in messages): these become
#: Python strings; every other text column passes through to silver in Arrow buffers, never
#: made into millions of Python objects only to be converted back.
PYTHON_TEXT = [
    "transaction_id",
    "date_raw",
    "description",
    "debit_raw",
    "credit_raw",
    "balance_raw",
    "currency",
]


def transaction_frame(rows: pa.Table) -> pd.DataFrame:
    """The flattened transactions as pandas: :data:`PYTHON_TEXT` as Python strings (``None``
    where missing, as before), the other text columns Arrow-backed."""
    python_text = [name for name in PYTHON_TEXT if name in rows.column_names]
    frame = rows.drop_columns(python_text).to_pandas(types_mapper={pa.string(): ARROW_STRING}.get)
    for name in python_text:
        frame[name] = rows.column(name).to_pandas()
    return frame.loc[:, rows.column_names]


def flatten(
    bronze: pd.DataFrame, database: duckdb.DuckDBPyConnection | None = None
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(accounts, transactions, unreadable responses and accounts) from bronze, slice by slice.

    Unreadable rows have ``account_id`` NULL for a whole response, else the account's id.
    ``database``: a :func:`parsing_database` to work in (a caller flattening many slices opens
    one for all of them); by default one of its own.
    """
    parts: list[tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]] = []
    with contextlib.ExitStack() as stack:
        if database is None:
            database = stack.enter_context(parsing_database())
        # a connection of its own: its temporary tables go when it closes
        connection = stack.enter_context(database.cursor())
        for batch in payload_batches(bronze, BATCH_PAYLOAD_BYTES) or [bronze]:
            register_bronze(connection, batch)
            connection.execute(PARSED_SQL)
            accounts = connection.sql(ACCOUNTS_SQL).df()
            unreadable = connection.sql(UNREADABLE_SQL).df()
            parts.append(
                (
                    accounts,
                    transaction_frame(connection.sql(FLATTEN_SQL).to_arrow_table()),
                    pd.concat([unreadable, unreadable_accounts(accounts)], ignore_index=True),
                )
            )
            connection.unregister("bronze")
    if len(parts) == 1:
        return parts[0]
    return tuple(  # type: ignore[return-value]
        pd.concat([part[i] for part in parts], ignore_index=True) for i in range(3)
    )
