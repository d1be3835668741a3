"""Bronze: the raw Flinks responses, one row per fetch, landed unchanged."""

import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pandas as pd
from pydantic import Field

from credit_scoring.core.conventions import PARTITIONED
from credit_scoring.core.crashpoints import crash_point
from credit_scoring.core.metadata import error_counts
from credit_scoring.ingestion.bronze_spool import BronzeSpool
from credit_scoring.ingestion.flinks_resource import FlinksResource
from credit_scoring.lake.handoffs import FetchedResponses
from credit_scoring.lake.io_manager import LAKE_OUTPUT
from credit_scoring.ledger import new_owner_token
from credit_scoring.ledger.resource import LedgerResource

BRONZE_KEY = dg.AssetKey(["bronze", "flinks_accounts_detail"])


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


@dg.asset(
    key=BRONZE_KEY,
    ins={"applications": dg.AssetIn(dg.AssetKey("applications"))},
    **PARTITIONED,
    **LAKE_OUTPUT,
    group_name="ingestion",
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
) -> Iterator[dg.Output[FetchedResponses]]:
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

    with tempfile.TemporaryDirectory(prefix="credit-scoring-bronze-") as folder:
        started = time.perf_counter()
        try:
            # each response is written to the spool as it arrives, not held until the last
            spool = BronzeSpool(todo, Path(folder), claim_token=owner, run_id=context.run.run_id)
            if len(todo):
                flinks.fetch_each(todo["login_id"], spool.add, on_progress=progress)
            spooled, outcomes = spool.close()
        except BaseException:
            book.release_fetch_claims(owner)
            raise
        elapsed = time.perf_counter() - started
        crash_point("bronze.before_write")
        failed = int((~outcomes["ok"]).sum())
        yield dg.Output(
            FetchedResponses(spooled, lease_owner=owner),
            metadata={
                "dagster/row_count": len(outcomes),
                "applications_in_range": len(applications),
                "fetched": int(outcomes["ok"].sum()),
                "skipped": skipped,
                "errors": failed,
                "error_rate": (failed / len(outcomes)) if len(outcomes) else 0.0,
                **error_counts(outcomes.loc[~outcomes["ok"], "error_code"]),
                "http_calls": int(outcomes["http_calls"].sum()) if len(outcomes) else 0,
                "fetch_seconds": round(elapsed, 3),
                "applications_per_second": round(len(outcomes) / elapsed, 2)
                if elapsed > 0
                else 0.0,
                "fetched_at": datetime.now(UTC).isoformat(),
            },
        )
