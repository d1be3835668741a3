"""Turning feature rows into decision requests, and decisions into warehouse rows (pure).

Nothing here talks to a network or a database, so the rules of what may be sent and what is
stored are unit-tested directly.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from datetime import date
from typing import NamedTuple

import orjson
import pandas as pd

from credit_scoring.decisioning.decision_contract import KEY_COLUMNS, REQUIRED_FEATURES
from credit_scoring.decisioning.taktile_client import Decision, DecisionRequest
from credit_scoring.lake.tables import CREDIT_DECISIONS

#: The stored decision's columns, in the lake table's order (one schema, stated in tables.py).
DECISION_COLUMNS = CREDIT_DECISIONS.names
OUTCOMES = ("APPROVE", "REVIEW", "DECLINE")


class Unsendable(NamedTuple):
    """An application whose features cannot be sent, and why (a row of the ledger's errors)."""

    application_id: str
    error_code: str
    error_message: str


def _json_value(value: object) -> object:
    """Plain JSON values: numpy scalars unwrapped, NaN/NaT -> None, dates -> ISO text."""
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()
        if isinstance(value, float) and math.isnan(value):
            return None
    if isinstance(value, pd.Timestamp | date):
        return value.isoformat()
    if value is pd.NaT or value is pd.NA:
        return None
    return value


def build_requests(
    features: pd.DataFrame, claimed: Sequence[str]
) -> tuple[list[DecisionRequest], list[Unsendable]]:
    """Requests for the claimed applications; the unsendable ones with a clear reason.

    Required contract features must be present and finite; other columns are sent as plain JSON
    values with missing ones as ``null`` (the flow treats them as unknown).
    """
    by_id = features.drop_duplicates("application_id").set_index("application_id", drop=False)
    requests: list[DecisionRequest] = []
    unsendable: list[Unsendable] = []
    feature_columns = [c for c in features.columns if c not in KEY_COLUMNS]
    for application_id in claimed:
        if application_id not in by_id.index:
            unsendable.append(
                Unsendable(
                    application_id,
                    "NO_FEATURES",
                    "applicant_features has no row for this application; "
                    "materialise the analytics assets for its day first",
                )
            )
            continue
        row = by_id.loc[application_id]
        payload = {column: _json_value(row[column]) for column in feature_columns}
        bad = [
            name
            for name in REQUIRED_FEATURES
            if not isinstance(payload.get(name), int | float)
            or isinstance(payload.get(name), bool)
            or not math.isfinite(payload[name])
        ]
        if bad:
            unsendable.append(
                Unsendable(
                    application_id,
                    "INVALID_FEATURES",
                    "feature(s) missing or not finite: "
                    + ", ".join(f"{name}={row.get(name)!r}" for name in bad),
                )
            )
            continue
        requests.append(DecisionRequest(entity_id=application_id, features=payload))
    return requests, unsendable


def features_hash(features: dict) -> str:
    return hashlib.sha256(orjson.dumps(features, option=orjson.OPT_SORT_KEYS)).hexdigest()


def decision_rows(
    decisions: Sequence[Decision],
    requests: Sequence[DecisionRequest],
    application_dates: dict[str, date],
) -> pd.DataFrame:
    """One warehouse row per successful decision (features kept as JSON and as a hash)."""
    sent = {r.entity_id: r.features for r in requests}
    rows = [
        {
            "application_id": d.entity_id,
            "application_date": application_dates[d.entity_id],
            "decision_id": d.decision_id,
            "score": d.score,
            "outcome": d.outcome,
            "credit_limit": d.credit_limit,
            "reasons": ",".join(d.reasons),
            "flow_version": d.flow_version,
            "decision_engine": d.engine,
            "features_hash": features_hash(dict(sent[d.entity_id])),
            "features": orjson.dumps(dict(sent[d.entity_id]), option=orjson.OPT_SORT_KEYS).decode(),
            "requested_at": d.requested_at,
            "decided_at": d.decided_at,
        }
        for d in decisions
        if d.ok
    ]
    frame = pd.DataFrame(rows, columns=DECISION_COLUMNS)
    frame["application_date"] = pd.to_datetime(frame["application_date"])
    for column in ("requested_at", "decided_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame
