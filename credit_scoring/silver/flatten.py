"""Unnest raw Flinks responses into account and transaction rows, in DuckDB.

DuckDB parses the JSON and unnests it set-based and in parallel, so a day of two million
transactions is flattened without a Python loop over transactions. Values are extracted as the
raw strings the feed sent (plus their JSON types) so that validation can say exactly what was
wrong with a row, and nothing is coerced silently.
"""

from __future__ import annotations

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

#: Every response's readable accounts, parsed once per slice into a temporary table.
#:
#: DuckDB's JSON functions parse their whole argument on every call, and an account's text is
#: almost all transactions, so each account is parsed twice: once for all its fields (one
#: multi-path ``json_extract``, whose small values are then read as text one by one), once to
#: split its transactions into a list. Whether Transactions is an array is read from the first
#: character of its (minified) JSON text; only the rare other kinds are parsed for their type.
#: An earlier form parsed each account's transactions six times (json_type twice, the field
#: extraction, the array's own extraction...): 2.6 s of a 500k-transaction day's 4.3 s here.
PARSED_SQL = """
create or replace temp table parsed as
with responses as (
    select
        application_id, login_id, partition_date, request_id, fetched_at, response_position,
        json_extract_string(payload, ['$.Login.LastRefresh', '$.Institution']) as head,
        json_extract(payload, '$.Accounts[*]') as accounts_list
    from bronze
    where json_valid(payload)
),
accounts as (
    select
        responses.* exclude (head, accounts_list),
        coalesce(try_cast(head[1] as timestamp), fetched_at::timestamp) as pulled_at,
        head[2] as institution,
        unnest(accounts_list) as account,
        generate_subscripts(accounts_list, 1) - 1 as account_position
    from responses
),
fields as (
    select
        accounts.* exclude (account),
        json_extract(account, [
            '$.Id', '$.Title', '$.AccountNumber', '$.Category', '$.Type', '$.Currency',
            '$.Balance.Current', '$.Balance.Available', '$.Balance.Limit',
            '$.Holder.Name', '$.Holder.Email', '$.Transactions'
        ]) as j
    from accounts
),
typed as (
    select
        fields.* exclude (j),
        list_transform(j[1:11], lambda value: json_extract_string(value, '$')) as f,
        j[12] as transactions,
        case when starts_with(j[12]::varchar, '[') then 'ARRAY'
             else coalesce(json_type(j[12]), 'NULL') end as transactions_type
    from fields
)
select
    typed.* exclude (f, transactions, transactions_type),
    coalesce(f[1], 'position-' || account_position::varchar) as account_id,
    f[2] as title, f[3] as account_number, f[4] as category, f[5] as type, f[6] as currency,
    try_cast(f[7] as double) as balance_current,
    try_cast(f[8] as double) as balance_available,
    try_cast(f[9] as double) as balance_limit,
    f[10] as holder_name, f[11] as holder_email,
    transactions_type,
    case when transactions_type = 'ARRAY' then json_extract(transactions, '$[*]') end
        as transaction_list
from typed
"""

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
),
values as (
    select
        transactions.* exclude (tx),
        json_extract_string(tx, ['$.Id', '$.Date', '$.Description', '$.Debit', '$.Credit',
                                 '$.Balance']) as v,
        json_type(tx, ['$.Debit', '$.Credit', '$.Balance']) as t
    from transactions
)
select
    application_id, login_id, partition_date, request_id, fetched_at, pulled_at,
    account_id, category as account_category, type as account_type, currency,
    feed_position::integer as feed_position,
    v[1] as transaction_id,
    v[2] as date_raw,
    v[3] as description,
    v[4] as debit_raw,
    coalesce(t[1], 'NULL') as debit_type,
    v[5] as credit_raw,
    coalesce(t[2], 'NULL') as credit_type,
    v[6] as balance_raw,
    coalesce(t[3], 'NULL') as balance_type,
    -- content fingerprint: chr(31) cannot occur in the values, '\\N' marks a missing one
    md5(concat_ws(chr(31),
        coalesce(account_id, '\\N'), coalesce(v[2], '\\N'), coalesce(v[3], '\\N'),
        coalesce(v[4], '\\N'), coalesce(v[5], '\\N'), coalesce(v[6], '\\N')
    )) as content_hash
from values
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


def _connect(bronze: pd.DataFrame) -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    connection.execute("set threads to 2")
    register_bronze(connection, bronze)
    return connection


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


def flatten(bronze: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(accounts, transactions, unreadable responses and accounts) from bronze, slice by slice.

    Unreadable rows have ``account_id`` NULL for a whole response, else the account's id.
    """
    parts: list[tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]] = []
    for batch in payload_batches(bronze, BATCH_PAYLOAD_BYTES) or [bronze]:
        connection = _connect(batch)
        try:
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
        finally:
            connection.close()
    if len(parts) == 1:
        return parts[0]
    return tuple(  # type: ignore[return-value]
        pd.concat([part[i] for part in parts], ignore_index=True) for i in range(3)
    )
