"""Bronze: the raw Flinks responses, one row per fetch, landed unchanged."""

import dataclasses
import time
import uuid
from datetime import UTC, datetime

import dagster as dg
import orjson
import pandas as pd
from pydantic import Field

from credit_scoring.crashpoints import crash_point
from credit_scoring.flinks.client import FetchResult
from credit_scoring.ledger import new_owner_token
from credit_scoring.partitions import daily_partitions
from credit_scoring.resources.flinks import FlinksResource
from credit_scoring.resources.ledger import LedgerResource

BRONZE_KEY = dg.AssetKey(["bronze", "flinks_accounts_detail"])
#: The client's code for an answer that breaks the Flinks contract; a 200 body without an
#: ``Accounts`` array gets it too, so operators see one code (retried by the next run) for both.
MALFORMED_RESPONSE = "MALFORMED_RESPONSE"
_JSON_TYPES = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}


class BronzeConfig(dg.Config):
    """Operator knobs for fetching; the defaults are the everyday case."""

    refetch: bool = Field(
        default=False,
        description="Pull again applications already fetched (the ledger still prevents "
        "double scoring).",
    )
    retry_errors: bool = Field(
        default=False,
        description="Fetch again applications that failed terminally (e.g. INVALID_LOGIN). "
        "Transient failures are always retried on the next run.",
    )


def payload_problem(payload: bytes) -> str | None:
    """Why a 200 GetAccountsDetail body cannot be used at all, or None when it can.

    Without an ``Accounts`` array there is nothing to flatten: landing it as a success would
    register the application with no transactions, and it would be scored on no data. As a
    failed fetch it is ERROR with a code instead, and its raw body is still kept in bronze.
    """
    try:
        body = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return "GetAccountsDetail answered 200 with a body that is not valid JSON"
    if not isinstance(body, dict):
        kind = _JSON_TYPES.get(type(body), "a number" if body is not None else "null")
        return f"GetAccountsDetail answered 200 with {kind}, not a JSON object"
    if "Accounts" not in body:
        return "GetAccountsDetail answered 200 without Accounts"
    accounts = body["Accounts"]
    if isinstance(accounts, list):
        return None
    kind = "null" if accounts is None else _JSON_TYPES.get(type(accounts), "a number")
    return f"GetAccountsDetail answered 200 but its Accounts is {kind}, not an array"


def with_unusable_payloads_failed(results: list[FetchResult]) -> list[FetchResult]:
    """Successful fetches whose body cannot be used become failures (see payload_problem)."""
    checked = []
    for result in results:
        problem = payload_problem(result.payload) if result.ok else None
        if problem is not None:
            result = dataclasses.replace(
                result,
                error_code=MALFORMED_RESPONSE,
                error_message=problem,
                extra={**result.extra, "retryable": True},
            )
        checked.append(result)
    return checked


def bronze_rows(
    applications: pd.DataFrame, results: list[FetchResult], *, claim_token: str, run_id: str
) -> pd.DataFrame:
    """One bronze row per fetch result (the payload kept byte-for-byte as UTF-8 text)."""
    by_login = dict(zip(applications["application_id"], applications["login_id"], strict=True))
    partition_of = dict(
        zip(applications["application_id"], applications["partition_date"], strict=True)
    )
    app_ids = list(applications["application_id"])
    return pd.DataFrame(
        {
            "response_id": [uuid.uuid4().hex for _ in results],
            "application_id": app_ids,
            "login_id": [by_login[a] for a in app_ids],
            "partition_date": [str(partition_of[a]) for a in app_ids],
            "request_id": [r.request_id for r in results],
            "fetched_at": pd.to_datetime([r.fetched_at for r in results], utc=True),
            "http_status": pd.array([r.http_status for r in results], dtype="Int32"),
            "ok": [r.ok for r in results],
            "error_code": [r.error_code for r in results],
            "error_message": [r.error_message for r in results],
            "http_calls": pd.array([r.http_calls for r in results], dtype="Int32"),
            "elapsed_seconds": [r.elapsed_seconds for r in results],
            "claim_token": claim_token,
            "run_id": run_id,
            "payload": [r.payload.decode("utf-8", errors="replace") for r in results],
        }
    )


@dg.asset(
    key=BRONZE_KEY,
    ins={"applications": dg.AssetIn(dg.AssetKey("applications"))},
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    io_manager_key="lake_io_manager",
    group_name="ingestion",
    kinds={"python", "parquet"},
    owners=["team:credit-data"],
    description=(
        "Raw Flinks GetAccountsDetail responses (a year of history by default), one row per "
        "fetch: request and login ids, fetched_at, HTTP status and the raw JSON. Applications "
        "already ingested are skipped; a failed application is recorded as ERROR with its "
        "Flinks code without failing the run. Restricted: holds PII."
    ),
)
def flinks_accounts_detail(
    context: dg.AssetExecutionContext,
    config: BronzeConfig,
    applications: pd.DataFrame,
    flinks: FlinksResource,
    ledger: LedgerResource,
) -> dg.Output[pd.DataFrame]:
    book = ledger.get()
    owner = new_owner_token("fetch")
    claimed = book.claim_fetch(
        applications, owner=owner, refetch=config.refetch, retry_errors=config.retry_errors
    )
    todo = applications.loc[applications["application_id"].isin(claimed)].reset_index(drop=True)
    skipped = len(applications) - len(todo)
    context.log.info(
        f"{len(applications)} application(s) in range: fetching {len(todo)}, skipping "
        f"{skipped} already ingested or being fetched by another run"
    )
    step = max(1, len(todo) // 10)

    def progress(done: int, total: int) -> None:
        if done * 2 >= total > 1 and (done - 1) * 2 < total:
            crash_point("fetch.halfway")
        if done % step == 0 or done == total:
            context.log.info(f"fetched {done}/{total} application(s)")

    started = time.perf_counter()
    try:
        results = flinks.fetch_many(todo["login_id"], on_progress=progress) if len(todo) else []
    except BaseException:
        book.release_fetch_claims(owner)
        raise
    results = with_unusable_payloads_failed(results)
    elapsed = time.perf_counter() - started
    frame = bronze_rows(todo, results, claim_token=owner, run_id=context.run.run_id)
    crash_point("bronze.before_write")
    errors = frame.loc[~frame["ok"], "error_code"].value_counts()
    failed = int((~frame["ok"]).sum())
    return dg.Output(
        frame,
        metadata={
            "dagster/row_count": len(frame),
            "applications_in_range": len(applications),
            "fetched": int(frame["ok"].sum()),
            "skipped": skipped,
            "errors": failed,
            "error_rate": (failed / len(frame)) if len(frame) else 0.0,
            "errors_by_code": {str(k): int(v) for k, v in errors.items()},
            "http_calls": int(frame["http_calls"].sum()) if len(frame) else 0,
            "fetch_seconds": round(elapsed, 3),
            "applications_per_second": round(len(frame) / elapsed, 2) if elapsed > 0 else 0.0,
            "fetched_at": datetime.now(UTC).isoformat(),
        },
    )
