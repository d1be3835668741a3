"""Unnest raw Flinks responses into account and transaction rows, in DuckDB.

DuckDB parses the JSON and unnests it set-based and in parallel, so a day of two million
transactions is flattened without a Python loop over transactions. Values are extracted as the
raw strings the feed sent (plus their JSON types) so that validation can say exactly what was
wrong with a row, and nothing is coerced silently.
"""

from __future__ import annotations

import duckdb
import pandas as pd

BRONZE_COLUMNS = [
    "application_id",
    "login_id",
    "partition_date",
    "request_id",
    "fetched_at",
    "payload",
]

FLATTEN_SQL = """
with responses as (
    select
        application_id, login_id, partition_date, request_id, fetched_at, response_position,
        payload::json as body
    from bronze
    where json_valid(payload)
),
accounts as (
    select
        responses.* exclude (body),
        coalesce(
            try_cast(body ->> '$.Login.LastRefresh' as timestamp),
            fetched_at::timestamp
        ) as pulled_at,
        body ->> '$.Institution' as institution,
        unnest(json_extract(body, '$.Accounts[*]')) as account,
        generate_subscripts(json_extract(body, '$.Accounts[*]'), 1) - 1 as account_position
    from responses
),
accounts_flat as (
    select
        accounts.* exclude (account),
        account,
        coalesce(account ->> '$.Id', 'position-' || account_position::varchar) as account_id,
        account ->> '$.Title' as title,
        account ->> '$.AccountNumber' as account_number,
        account ->> '$.Category' as category,
        account ->> '$.Type' as type,
        account ->> '$.Currency' as currency,
        coalesce(json_type(account, '$.Transactions'), 'NULL') as transactions_type
    from accounts
),
-- Two accounts of one response that share an Id share its feed positions: the second one's
-- are numbered after the first one's, so no two transactions of an account id ever share a
-- position (the quarantine's key) and none can overwrite another.
accounts_positioned as (
    select
        *,
        coalesce(
            sum(json_array_length(account, '$.Transactions')) over (
                partition by application_id, request_id, fetched_at, account_id
                order by account_position
                rows between unbounded preceding and 1 preceding
            ),
            0
        ) as position_offset
    from accounts_flat
    where transactions_type = 'ARRAY'
    -- the window does not keep row order: restore bronze order (accounts are few) so that
    -- transactions come out in bronze order, then feed order
    order by response_position, account_position
),
transactions as (
    select
        application_id, login_id, partition_date, request_id, fetched_at, pulled_at,
        account_id, category, type, currency, response_position, account_position,
        unnest(json_extract(account, '$.Transactions[*]')) as tx,
        generate_subscripts(json_extract(account, '$.Transactions[*]'), 1) - 1
            + position_offset as feed_position
    from accounts_positioned
)
select
    application_id, login_id, partition_date, request_id, fetched_at, pulled_at,
    account_id, category as account_category, type as account_type, currency,
    feed_position::integer as feed_position,
    tx ->> '$.Id' as transaction_id,
    tx ->> '$.Date' as date_raw,
    tx ->> '$.Description' as description,
    tx ->> '$.Debit' as debit_raw,
    coalesce(json_type(tx, '$.Debit'), 'NULL') as debit_type,
    tx ->> '$.Credit' as credit_raw,
    coalesce(json_type(tx, '$.Credit'), 'NULL') as credit_type,
    tx ->> '$.Balance' as balance_raw,
    coalesce(json_type(tx, '$.Balance'), 'NULL') as balance_type,
    -- content fingerprint: chr(31) cannot occur in the values, '\\N' marks a missing one
    md5(concat_ws(chr(31),
        coalesce(account_id, '\\N'), coalesce(tx ->> '$.Date', '\\N'),
        coalesce(tx ->> '$.Description', '\\N'), coalesce(tx ->> '$.Debit', '\\N'),
        coalesce(tx ->> '$.Credit', '\\N'), coalesce(tx ->> '$.Balance', '\\N')
    )) as content_hash
from transactions
"""

ACCOUNTS_SQL = """
with responses as (
    select application_id, login_id, partition_date, request_id, fetched_at,
           payload::json as body
    from bronze
    where json_valid(payload)
),
accounts as (
    select responses.* exclude (body),
           body ->> '$.Institution' as institution,
           unnest(json_extract(body, '$.Accounts[*]')) as account,
           generate_subscripts(json_extract(body, '$.Accounts[*]'), 1) - 1 as account_position
    from responses
)
select
    application_id, login_id, partition_date, request_id, fetched_at, institution,
    coalesce(account ->> '$.Id', 'position-' || account_position::varchar) as account_id,
    account ->> '$.Title' as title,
    account ->> '$.AccountNumber' as account_number,
    account ->> '$.Category' as category,
    account ->> '$.Type' as type,
    account ->> '$.Currency' as currency,
    try_cast(account ->> '$.Balance.Current' as double) as balance_current,
    try_cast(account ->> '$.Balance.Available' as double) as balance_available,
    try_cast(account ->> '$.Balance.Limit' as double) as balance_limit,
    account ->> '$.Holder.Name' as holder_name,
    account ->> '$.Holder.Email' as holder_email,
    coalesce(json_type(account, '$.Transactions'), 'NULL') as transactions_type
from accounts
"""

UNREADABLE_SQL = """
select application_id, login_id, partition_date, request_id,
       null::varchar as account_id,
       case when not json_valid(payload) then 'payload is not valid JSON'
            else 'Accounts is ' || coalesce(json_type(payload::json, '$.Accounts'), 'missing')
                 || ', not an array' end as message
from bronze
where not json_valid(payload)
   or coalesce(json_type(payload::json, '$.Accounts'), 'NULL') not in ('ARRAY')
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


def flatten(bronze: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(accounts, transactions, unreadable responses and accounts) from bronze, slice by slice.

    Unreadable rows have ``account_id`` NULL for a whole response, else the account's id.
    """
    parts: list[tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]] = []
    for batch in payload_batches(bronze, BATCH_PAYLOAD_BYTES) or [bronze]:
        connection = _connect(batch)
        try:
            accounts = connection.sql(ACCOUNTS_SQL).df()
            unreadable = connection.sql(UNREADABLE_SQL).df()
            parts.append(
                (
                    accounts,
                    connection.sql(FLATTEN_SQL).df(),
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
