"""The Arrow schema of every lake table, stated once.

Explicit schemas keep empty partitions typed (pandas would infer ``null`` columns that then
refuse to merge), make the files self-describing for dbt and DuckDB, and are shown in the UI.
Amounts are float64 CAD rounded to the cent: exact to the cent far beyond the largest
plausible amount the silver layer accepts (10 million).
"""

from __future__ import annotations

import pyarrow as pa

TS = pa.timestamp("us", tz="UTC")

APPLICATIONS = pa.schema(
    [
        ("application_id", pa.string()),
        ("login_id", pa.string()),
        ("applied_at", TS),
        ("application_date", pa.date32()),
        ("partition_date", pa.string()),
        ("requested_amount", pa.float64()),
    ]
)

BRONZE_ACCOUNTS_DETAIL = pa.schema(
    [
        ("response_id", pa.string()),
        ("application_id", pa.string()),
        ("login_id", pa.string()),
        ("partition_date", pa.string()),
        ("request_id", pa.string()),
        ("fetched_at", TS),
        ("http_status", pa.int32()),
        ("ok", pa.bool_()),
        ("error_code", pa.string()),
        ("error_message", pa.string()),
        ("retryable", pa.bool_()),
        ("http_calls", pa.int32()),
        ("elapsed_seconds", pa.float64()),
        ("claim_token", pa.string()),
        ("run_id", pa.string()),
        ("payload", pa.large_string()),
    ]
)

SILVER_ACCOUNTS = pa.schema(
    [
        ("application_id", pa.string()),
        ("login_id", pa.string()),
        ("partition_date", pa.string()),
        ("account_id", pa.string()),
        ("title", pa.string()),
        ("account_number_masked", pa.string()),
        ("category", pa.string()),
        ("type", pa.string()),
        ("currency", pa.string()),
        ("balance_current", pa.float64()),
        ("balance_available", pa.float64()),
        ("balance_limit", pa.float64()),
        ("holder_key", pa.string()),
        ("institution", pa.string()),
        ("request_id", pa.string()),
        ("fetched_at", TS),
    ]
)

SILVER_TRANSACTIONS = pa.schema(
    [
        ("application_id", pa.string()),
        ("login_id", pa.string()),
        ("partition_date", pa.string()),
        ("application_date", pa.date32()),
        ("transaction_id", pa.string()),
        ("account_id", pa.string()),
        ("account_category", pa.string()),
        ("account_type", pa.string()),
        ("currency", pa.string()),
        ("posted_date", pa.date32()),
        ("description", pa.string()),
        ("debit", pa.float64()),
        ("credit", pa.float64()),
        ("amount", pa.float64()),
        ("balance", pa.float64()),
        ("feed_position", pa.int32()),
        ("request_id", pa.string()),
        ("fetched_at", TS),
        ("content_hash", pa.string()),
    ]
)

SILVER_REJECTED_TRANSACTIONS = pa.schema(
    [
        ("application_id", pa.string()),
        ("login_id", pa.string()),
        ("partition_date", pa.string()),
        ("request_id", pa.string()),
        ("account_id", pa.string()),
        ("feed_position", pa.int32()),
        ("transaction_id", pa.string()),
        ("date_raw", pa.string()),
        ("description", pa.string()),
        ("debit_raw", pa.string()),
        ("credit_raw", pa.string()),
        ("balance_raw", pa.string()),
        ("rule", pa.string()),
        ("message", pa.string()),
        ("content_hash", pa.string()),
        ("rejected_at", TS),
    ]
)


CREDIT_DECISIONS = pa.schema(
    [
        ("application_id", pa.string()),
        ("application_date", pa.date32()),
        ("decision_id", pa.string()),
        ("score", pa.float64()),
        ("outcome", pa.string()),
        ("credit_limit", pa.float64()),
        ("reasons", pa.string()),
        ("flow_version", pa.string()),
        ("decision_engine", pa.string()),
        ("features_hash", pa.string()),
        ("features", pa.string()),
        ("requested_at", TS),
        ("decided_at", TS),
    ]
)

DECISION_STATUS = pa.schema(
    [
        ("application_id", pa.string()),
        ("application_date", pa.date32()),
        ("status", pa.string()),
        ("attempts", pa.int64()),
        ("error_stage", pa.string()),
        ("error_code", pa.string()),
        ("error_message", pa.string()),
        ("decision_id", pa.string()),
        ("transactions", pa.int64()),
        ("updated_at", TS),
    ]
)


class LakeTable:
    """A lake table: where it lives, its schema and its primary key.

    ``schema=None`` marks a table whose files dbt writes (:data:`DBT_MODEL_TABLES`): their
    schema is the model's, read from the files themselves. ``restricted`` marks a table that
    holds PII (bronze): it gets no view in the analysts' catalogue.
    """

    def __init__(
        self,
        path: str,
        schema: pa.Schema | None,
        primary_key: tuple[str, ...] = (),
        *,
        restricted: bool = False,
    ) -> None:
        self.path = path
        self.schema = schema
        self.primary_key = primary_key
        self.restricted = restricted


TABLES: dict[str, LakeTable] = {
    table.path: table
    for table in (
        LakeTable("applications", APPLICATIONS, ("application_id",)),
        LakeTable(
            "bronze/flinks_accounts_detail",
            BRONZE_ACCOUNTS_DETAIL,
            ("response_id",),
            restricted=True,
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
