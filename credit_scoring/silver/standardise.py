"""Build silver accounts, transactions and rejects from flattened bronze rows."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb
import pandas as pd
import pyarrow as pa

from credit_scoring.core.memory import collected_between_slices
from credit_scoring.lake.tables import (
    SILVER_ACCOUNTS,
    SILVER_REJECTED_TRANSACTIONS,
    SILVER_TRANSACTIONS,
)
from credit_scoring.silver import flatten as flattening
from credit_scoring.silver.flatten import ARROW_STRING, flatten
from credit_scoring.silver.pii import holder_keys, mask_account_number
from credit_scoring.silver.rules import assign_rules, messages, prepare

UNREADABLE_RESPONSE = "unreadable_response"
UNREADABLE_TRANSACTIONS = "unreadable_transactions"
CONFLICT_WITH_SILVER = "duplicate_id_conflict"


@dataclass
class SilverBatch:
    """The silver rows built from one batch of bronze responses, with its counts."""

    accounts: pd.DataFrame
    transactions: pd.DataFrame
    rejected: pd.DataFrame
    bronze_transactions: int
    duplicates_collapsed: int
    already_in_silver: int

    @property
    def new_transactions(self) -> int:
        """Transactions not yet in silver (the rest are re-confirmed, not duplicated)."""
        return len(self.transactions) - self.already_in_silver

    @property
    def rule_counts(self) -> dict[str, int]:
        return {str(k): int(v) for k, v in self.rejected["rule"].value_counts().items()}


def arrow_strings(frame: pd.DataFrame, schema: pa.Schema) -> pd.DataFrame:
    """``frame`` with the schema's string columns held in Arrow buffers, not Python objects."""
    text = [field.name for field in schema if pa.types.is_string(field.type)]
    return frame.astype(dict.fromkeys(text, ARROW_STRING))


def build_accounts(accounts_raw: pd.DataFrame) -> pd.DataFrame:
    frame = accounts_raw.copy()
    frame["account_number_masked"] = mask_account_number(frame["account_number"])
    frame["holder_key"] = holder_keys(frame["holder_name"], frame["holder_email"])
    frame["currency"] = frame["currency"].fillna("CAD").str.strip().str.upper()
    frame["fetched_at"] = pd.to_datetime(frame["fetched_at"], utc=True)
    frame = frame.drop_duplicates(["application_id", "account_id"], keep="first")
    return frame.loc[:, SILVER_ACCOUNTS.names].reset_index(drop=True)


def standardise(
    bronze: pd.DataFrame,
    existing: pd.DataFrame | None = None,
    *,
    now: datetime | None = None,
) -> SilverBatch:
    """Validate and standardise every transaction of ``bronze``: the rows of
    :func:`standardised_slices`, together."""
    parts = list(standardised_slices(bronze, existing, now=now))
    if len(parts) == 1:
        return parts[0]
    return SilverBatch(
        accounts=pd.concat([p.accounts for p in parts], ignore_index=True),
        transactions=pd.concat([p.transactions for p in parts], ignore_index=True),
        rejected=pd.concat([p.rejected for p in parts], ignore_index=True),
        bronze_transactions=sum(p.bronze_transactions for p in parts),
        duplicates_collapsed=sum(p.duplicates_collapsed for p in parts),
        already_in_silver=sum(p.already_in_silver for p in parts),
    )


def standardised_slices(
    bronze: pd.DataFrame,
    existing: pd.DataFrame | None = None,
    *,
    now: datetime | None = None,
) -> Iterator[SilverBatch]:
    """Validate and standardise every transaction of ``bronze``, a slice of whole applications
    at a time.

    ``existing``: silver rows already stored for these applications (application_id,
    transaction_id, content_hash). A transaction already there with the same content is counted
    as already present and still returned, so that the IO manager (which keeps stored rows and
    adds only new keys) registers it in the ledger if an earlier run died between writing silver
    and the ledger; with different content it is quarantined as a conflict.
    Every bronze transaction ends in exactly one of the returned transactions (possibly
    collapsed with an identical copy, or matching an identical stored row) or rejects.

    Slices hold whole applications (every rule is within one application), so no key repeats
    across slices. Each slice's intermediate frames are freed before the next is made: a day's
    raw and intermediate frames never exist all at once, and a caller that writes each slice
    away (silver spools them) never holds the day's rows either.
    """
    now = now or datetime.now(UTC)
    ids = bronze["application_id"]
    if (ids != ids.shift()).sum() != ids.nunique(dropna=False):
        bronze = bronze.sort_values("application_id", kind="stable")  # group each application
    if existing is not None and existing.empty:
        existing = None
    if bronze.empty:
        # nothing to flatten (a re-run of a finished day): no slices, so no collections, and
        # what the process froze stays frozen (see collected_between_slices)
        yield _standardise_slice(bronze, None, now)
        return
    with collected_between_slices() as collect, flattening.parsing_database() as database:
        for part in flattening.payload_batches(
            bronze, flattening.BATCH_PAYLOAD_BYTES, together="application_id"
        ) or [bronze]:
            stored = (
                None
                if existing is None
                else existing.loc[existing["application_id"].isin(set(part["application_id"]))]
            )
            yield _standardise_slice(part, stored, now, database)
            collect()  # the slice's intermediate frames, now, not some steps later


def _standardise_slice(
    bronze: pd.DataFrame,
    existing: pd.DataFrame | None,
    now: datetime,
    database: duckdb.DuckDBPyConnection | None = None,
) -> SilverBatch:
    """:func:`standardise` for one slice holding whole applications, flattened in
    ``database`` (a :func:`~credit_scoring.silver.flatten.parsing_database`) when given."""
    accounts_raw, raw, unreadable = flatten(bronze, database)
    frame = prepare(raw)
    rule = assign_rules(frame)

    if existing is not None and not existing.empty:
        stored = (
            existing.loc[:, ["application_id", "transaction_id", "content_hash"]]
            .rename(columns={"content_hash": "stored_hash"})
            .drop_duplicates(["application_id", "transaction_id"])
        )
        joined = frame.loc[:, ["application_id", "transaction_id", "content_hash"]].merge(
            stored, on=["application_id", "transaction_id"], how="left"
        )
        joined.index = frame.index
        conflict = joined["stored_hash"].notna() & (joined["stored_hash"] != joined["content_hash"])
        rule = rule.mask(rule.isna() & conflict, CONFLICT_WITH_SILVER)
        already = rule.isna() & joined["stored_hash"].notna() & ~conflict
    else:
        already = pd.Series(False, index=frame.index)

    message = messages(frame, rule)
    conflict_vs_stored = (rule == CONFLICT_WITH_SILVER) & ~frame["id_conflict"]
    if conflict_vs_stored.any():  # the message is made for those rows only, not the slice's
        message.loc[conflict_vs_stored] = (
            "Id "
            + frame.loc[conflict_vs_stored, "transaction_id"].astype(str)
            + " is already in silver with different content; the new copy is quarantined"
        )

    valid = frame.loc[rule.isna()]
    collapsed = int(valid.duplicated(["application_id", "transaction_id"]).sum())
    valid = valid.drop_duplicates(["application_id", "transaction_id"], keep="first")
    already_present = int(already.loc[valid.index].sum())
    transactions = pd.DataFrame(
        {
            "application_id": valid["application_id"],
            "login_id": valid["login_id"],
            "partition_date": valid["partition_date"].astype(str),
            "application_date": pd.to_datetime(valid["partition_date"]).dt.date,
            "transaction_id": valid["transaction_id"].str.strip(),
            "account_id": valid["account_id"],
            "account_category": valid["account_category"],
            "account_type": valid["account_type"],
            "currency": valid["currency"].fillna("CAD").str.strip().str.upper(),
            "posted_date": valid["posted_ts"].dt.date,
            "description": valid["description"].fillna("").str.strip(),
            "debit": valid["debit_num"].round(2),
            "credit": valid["credit_num"].round(2),
            "amount": (valid["credit_num"].fillna(0.0) - valid["debit_num"].fillna(0.0)).round(2),
            "balance": valid["balance_num"].round(2),
            "feed_position": valid["feed_position"].astype("int32"),
            "request_id": valid["request_id"],
            "fetched_at": pd.to_datetime(valid["fetched_at"], utc=True),
            "content_hash": valid["content_hash"],
        }
    ).reset_index(drop=True)

    bad = frame.loc[rule.notna()]
    rejected = pd.DataFrame(
        {
            "application_id": bad["application_id"],
            "login_id": bad["login_id"],
            "partition_date": bad["partition_date"].astype(str),
            "request_id": bad["request_id"],
            "account_id": bad["account_id"],
            "feed_position": bad["feed_position"].astype("int32"),
            "transaction_id": bad["transaction_id"],
            "date_raw": bad["date_raw"],
            "description": bad["description"],
            "debit_raw": bad["debit_raw"],
            "credit_raw": bad["credit_raw"],
            "balance_raw": bad["balance_raw"],
            "rule": rule[rule.notna()].astype(str),
            "message": message[rule.notna()].astype(str),
            "content_hash": bad["content_hash"],
            "rejected_at": pd.Timestamp(now),
        }
    )
    if not unreadable.empty:
        # a whole response (no account) or one account whose Transactions is not a list
        unreadable_rule = pd.Series(UNREADABLE_TRANSACTIONS, index=unreadable.index).where(
            unreadable["account_id"].notna(), UNREADABLE_RESPONSE
        )
        rejected = pd.concat(
            [
                rejected,
                pd.DataFrame(
                    {
                        "application_id": unreadable["application_id"],
                        "login_id": unreadable["login_id"],
                        "partition_date": unreadable["partition_date"].astype(str),
                        "request_id": unreadable["request_id"],
                        "account_id": unreadable["account_id"].fillna(""),
                        "feed_position": -1,
                        "transaction_id": None,
                        "date_raw": None,
                        "description": None,
                        "debit_raw": None,
                        "credit_raw": None,
                        "balance_raw": None,
                        "rule": unreadable_rule,
                        "message": unreadable["message"],
                        "content_hash": None,
                        "rejected_at": pd.Timestamp(now),
                    }
                ),
            ],
            ignore_index=True,
        )
    rejected = rejected.reset_index(drop=True)
    rejected["feed_position"] = rejected["feed_position"].astype("int32")
    return SilverBatch(
        accounts=build_accounts(accounts_raw),
        transactions=arrow_strings(
            transactions.loc[:, SILVER_TRANSACTIONS.names], SILVER_TRANSACTIONS
        ),
        rejected=arrow_strings(
            rejected.loc[:, SILVER_REJECTED_TRANSACTIONS.names], SILVER_REJECTED_TRANSACTIONS
        ),
        bronze_transactions=len(frame),
        duplicates_collapsed=collapsed,
        already_in_silver=already_present,
    )
