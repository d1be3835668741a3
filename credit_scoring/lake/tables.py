"""The Arrow schema of every lake table, stated once.

Explicit schemas keep empty partitions typed (pandas would infer ``null`` columns that then
refuse to merge), make the files self-describing for dbt and DuckDB, and are shown in the UI.
Amounts are float64 CAD rounded to the cent: exact to the cent far beyond the largest
plausible amount the silver layer accepts (10 million).
"""

from __future__ import annotations

import pyarrow as pa

TS = pa.timestamp("us", tz="UTC")


def _typed(data_type: pa.DataType, names: str) -> dict[str, pa.DataType]:
    return dict.fromkeys(names.split(), data_type)


#: Every lake column's type, by name: a column means the same thing in every table it is in
#: (``partition_date`` is always the ISO string, ``application_date`` always a date), so a
#: join in dbt or DuckDB never meets two types under one name. Keys, ids and free text are
#: strings; amounts are float64 CAD.
COLUMN_TYPES: dict[str, pa.DataType] = {
    **_typed(
        pa.string(),
        "application_id login_id partition_date response_id request_id run_id claim_token"
        " account_id transaction_id decision_id content_hash features_hash holder_key"
        " error_stage error_code error_message status outcome reasons flow_version"
        " decision_engine features title account_number_masked category type currency"
        " institution account_category account_type description rule message"
        " date_raw debit_raw credit_raw balance_raw",
    ),
    **_typed(
        pa.float64(),
        "requested_amount balance_current balance_available balance_limit debit credit amount"
        " balance score credit_limit elapsed_seconds",
    ),
    **_typed(pa.date32(), "application_date posted_date"),
    **_typed(TS, "applied_at fetched_at rejected_at requested_at decided_at updated_at"),
    **_typed(pa.int32(), "http_status http_calls feed_position"),
    **_typed(pa.int64(), "attempts transactions"),
    **_typed(pa.bool_(), "ok retryable"),
    "payload": pa.large_string(),
}


def schema(columns: str) -> pa.Schema:
    """A table's Arrow schema from its column names in order, typed by :data:`COLUMN_TYPES`."""
    try:
        return pa.schema([(name, COLUMN_TYPES[name]) for name in columns.split()])
    except KeyError as missing:
        raise KeyError(f"lake column {missing} has no type; add it to COLUMN_TYPES") from None


APPLICATIONS = schema(
    "application_id login_id applied_at application_date partition_date requested_amount"
)

BRONZE_ACCOUNTS_DETAIL = schema(
    "response_id application_id login_id partition_date request_id fetched_at http_status ok"
    " error_code error_message retryable http_calls elapsed_seconds claim_token run_id payload"
)

SILVER_ACCOUNTS = schema(
    "application_id login_id partition_date account_id title account_number_masked category"
    " type currency balance_current balance_available balance_limit holder_key institution"
    " request_id fetched_at"
)

SILVER_TRANSACTIONS = schema(
    "application_id login_id partition_date application_date transaction_id account_id"
    " account_category account_type currency posted_date description debit credit amount"
    " balance feed_position request_id fetched_at content_hash"
)

SILVER_REJECTED_TRANSACTIONS = schema(
    "application_id login_id partition_date request_id account_id feed_position transaction_id"
    " date_raw description debit_raw credit_raw balance_raw rule message content_hash"
    " rejected_at"
)

CREDIT_DECISIONS = schema(
    "application_id application_date decision_id score outcome credit_limit reasons"
    " flow_version decision_engine features_hash features requested_at decided_at"
)

DECISION_STATUS = schema(
    "application_id application_date status attempts error_stage error_code error_message"
    " decision_id transactions updated_at"
)


class LakeTable:
    """A lake table: where it lives, its schema and its primary key.

    ``schema=None`` marks a table whose files dbt writes (:data:`DBT_MODEL_TABLES`): their
    schema is the model's, read from the files themselves. ``restricted`` marks a table that
    holds PII (bronze): it gets no view in the analysts' catalogue. ``rows_per_group``: the
    Parquet row groups' size in rows, where the default (a million rows) would make a group too
    large to read one at a time (Parquet is read a whole row group at a time).
    """

    def __init__(
        self,
        path: str,
        schema: pa.Schema | None,
        primary_key: tuple[str, ...] = (),
        *,
        restricted: bool = False,
        rows_per_group: int | None = None,
    ) -> None:
        self.path = path
        self.schema = schema
        self.primary_key = primary_key
        self.restricted = restricted
        self.rows_per_group = rows_per_group


TABLES: dict[str, LakeTable] = {
    table.path: table
    for table in (
        LakeTable("applications", APPLICATIONS, ("application_id",)),
        LakeTable(
            "bronze/flinks_accounts_detail",
            BRONZE_ACCOUNTS_DETAIL,
            ("response_id",),
            restricted=True,
            # a row is a whole API response (125 KB on average on the benchmark's days): 64 of
            # them make a group of about 8 MB, so a reader can hold one group at a time, where
            # one group of the day's 312 MB of payloads had to be read whole
            rows_per_group=64,
        ),
        LakeTable("silver/accounts", SILVER_ACCOUNTS, ("application_id", "account_id")),
        LakeTable("silver/transactions", SILVER_TRANSACTIONS, ("application_id", "transaction_id")),
        LakeTable(
            "silver/rejected_transactions",
            SILVER_REJECTED_TRANSACTIONS,
            ("application_id", "request_id", "account_id", "feed_position"),
        ),
        LakeTable("scoring/credit_decisions", CREDIT_DECISIONS, ("application_id",)),
        LakeTable("scoring/decision_status", DECISION_STATUS, ("application_id",)),
    )
}

#: The dbt models whose window dbt exports and Dagster publishes to the lake, one file per
#: application date (``credit_scoring.analytics.publish``); their asset path is the model name.
DBT_MODEL_TABLES: dict[str, LakeTable] = {
    name: LakeTable(name, None)
    for name in (
        "int_transactions_categorized",
        "int_daily_balances",
        "applicant_features",
        "decision_monitoring",
    )
}


def table_for(asset_path: str) -> LakeTable:
    try:
        return TABLES.get(asset_path) or DBT_MODEL_TABLES[asset_path]
    except KeyError:
        raise KeyError(
            f"no lake table is declared for asset {asset_path!r}; add it to lake/tables.py"
        ) from None
