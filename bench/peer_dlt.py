"""The peer: the ingestion stage written the way many teams would write it with dlt.

    python -m bench.peer_dlt --base-url URL --applications DIR/applications.csv --workdir DIR \
        [--customer-id bench] [--concurrency 16] [--loader-file-format parquet]

Same server, same data, same concurrency as the pipeline's fetch: one dlt resource over an
httpx client, a DuckDB destination, and ``write_disposition="merge"`` so that loading the same
day twice does not duplicate rows. It needs the optional ``bench`` dependencies (dlt with its
DuckDB extra); the pipeline itself never imports dlt.

How it is built, as a competent team would build it and nothing slower:

- the applications are a dlt resource and the fetch is a ``parallelized`` transformer, so dlt's
  own thread pool (``workers=concurrency``) runs the Flinks flow of ``concurrency`` logins at
  once over one ``httpx.Client`` whose pool holds as many connections;
- each call is retried on transport errors, 429 and 5xx (tenacity, exponential backoff with
  jitter, 5 attempts); a login refused for good (401 ``INVALID_LOGIN``...) is logged and left out
  rather than failing the day's load;
- rows are flattened in Python from ``response.json()``, one dict per transaction, against
  declared column types; dlt normalises and loads them. Parquet load files by default: the
  format dlt recommends for DuckDB when speed matters (its default, SQL ``insert_values``, is
  several times slower to load).

The merge key is ``(application_id, transaction_id)``, the key the pipeline's silver layer and
ledger use. A Flinks transaction ``Id`` identifies a transaction of one login's account (the mock
derives it from the login, the account number and the row; see ``mock_api.store``), so it is
unique across logins in practice, but the contract promises no more than that; and the same
login can back two applications (a re-application), whose rows must both exist because
features are computed per application. Keying on the transaction id alone would merge the
second application's rows into the first's.

What it does not do, unlike the pipeline: keep the raw responses (bronze), validate and
quarantine rows, register them in a ledger, or skip applications already loaded (a second run
fetches everything again and merges it onto what is there).
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import os
import shutil
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import dlt
import httpx
from dlt.common.schema.typing import TColumnSchema
from dlt.extract.resource import DltResource
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter

logger = logging.getLogger(__name__)

PIPELINE_NAME = "flinks_peer"
DATASET_NAME = "flinks"
TABLE_NAME = "transactions"
#: See the module docstring for why the application is part of the key.
PRIMARY_KEY = ("application_id", "transaction_id")
#: Declared rather than inferred, so the table's columns and types do not depend on which
#: values happen to come first (a first row with no credit would put ``credit`` last).
COLUMNS: dict[str, TColumnSchema] = {
    "application_id": {"data_type": "text", "nullable": False},
    "login_id": {"data_type": "text"},
    "account_id": {"data_type": "text"},
    "transaction_id": {"data_type": "text", "nullable": False},
    "date": {"data_type": "date"},
    "description": {"data_type": "text"},
    "debit": {"data_type": "double"},
    "credit": {"data_type": "double"},
    "balance": {"data_type": "double"},
}
DETAIL_BODY = {
    "WithTransactions": True,
    "WithAccountIdentity": True,
    "DaysOfTransactions": "Days365",
}


class TransientHTTPError(Exception):
    """An answer worth asking again for (429, 5xx)."""


class LoginRefused(Exception):
    """An answer that will not change on retry (any other 4xx)."""


def _raise_for_flinks_status(response: httpx.Response) -> httpx.Response:
    if response.status_code == 429 or response.status_code >= 500:
        raise TransientHTTPError(f"{response.request.url.path}: HTTP {response.status_code}")
    if response.status_code >= 400:
        raise LoginRefused(f"{response.request.url.path}: HTTP {response.status_code}")
    return response


_retrying = retry(
    retry=retry_if_exception_type((TransientHTTPError, httpx.TransportError)),
    stop=stop_after_attempt(5),
    wait=wait_exponential_jitter(multiplier=0.5, max=8, jitter=0.5),
    reraise=True,
)


class FlinksFetcher:
    """The Flinks v3 flow over one shared, thread-safe ``httpx.Client``."""

    def __init__(
        self,
        base_url: str,
        customer_id: str,
        *,
        concurrency: int = 16,
        poll_interval_seconds: float = 2.0,
    ) -> None:
        self.poll_interval_seconds = poll_interval_seconds
        self.refused: Counter[str] = Counter()
        self._refused_lock = threading.Lock()
        self.client = httpx.Client(
            base_url=f"{base_url.rstrip('/')}/v3/{customer_id}/BankingServices",
            headers={"Accept": "application/json"},
            timeout=httpx.Timeout(30.0, connect=5.0),
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
        )

    def close(self) -> None:
        self.client.close()

    @_retrying
    def _post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        return _raise_for_flinks_status(self.client.post(path, json=body))

    @_retrying
    def _get(self, path: str) -> httpx.Response:
        return _raise_for_flinks_status(self.client.get(path))

    def accounts_detail(self, login_id: str) -> dict[str, Any]:
        """Authorize, then GetAccountsDetail, polling the Async endpoint while it answers 202."""
        auth = self._post("/Authorize", {"LoginId": login_id, "MostRecentCached": True}).json()
        request_id = auth["RequestId"]
        response = self._post("/GetAccountsDetail", {"RequestId": request_id, **DETAIL_BODY})
        while response.status_code == 202:
            time.sleep(self.poll_interval_seconds)
            response = self._get(f"/GetAccountsDetailAsync/{quote(request_id, safe='')}")
        return response.json()

    def transactions(self, application: dict[str, str]) -> list[dict[str, Any]]:
        """One application's transactions as flat rows; none when Flinks refuses the login."""
        try:
            payload = self.accounts_detail(application["login_id"])
        except LoginRefused as exc:
            logger.warning("application %s left out: %s", application["application_id"], exc)
            with self._refused_lock:
                self.refused[str(exc)] += 1
            return []
        return flatten_transactions(application, payload)


def flatten_transactions(
    application: dict[str, str], payload: dict[str, Any]
) -> list[dict[str, Any]]:
    """One row per transaction, carrying the application and account it belongs to."""
    return [
        {
            "application_id": application["application_id"],
            "login_id": application["login_id"],
            "account_id": account.get("Id"),
            "transaction_id": transaction.get("Id"),
            "date": transaction.get("Date"),
            "description": transaction.get("Description"),
            "debit": transaction.get("Debit"),
            "credit": transaction.get("Credit"),
            "balance": transaction.get("Balance"),
        }
        for account in payload.get("Accounts") or []
        for transaction in account.get("Transactions") or []
    ]


def flinks_transactions(
    applications: Sequence[dict[str, str]], fetcher: FlinksFetcher
) -> DltResource:
    """The applications piped into a parallelized transformer that fetches and flattens each."""

    @dlt.resource(name="applications", selected=False)
    def application_rows() -> Iterator[dict[str, str]]:
        yield from applications

    @dlt.transformer(
        name=TABLE_NAME,
        write_disposition="merge",
        primary_key=PRIMARY_KEY,
        columns=COLUMNS,
        parallelized=True,
    )
    def transactions(application: dict[str, str]) -> list[dict[str, Any]]:
        # Returned, not yielded: dlt runs each returning call in its worker pool.
        return fetcher.transactions(application)

    return application_rows | transactions


def read_applications(applications_csv: Path) -> list[dict[str, str]]:
    """``application_id`` and ``login_id`` of each row with both set, in file order."""
    with applications_csv.open(newline="", encoding="utf-8") as handle:
        return [
            {"application_id": row["application_id"].strip(), "login_id": row["login_id"].strip()}
            for row in csv.DictReader(handle)
            if (row.get("application_id") or "").strip() and (row.get("login_id") or "").strip()
        ]


def _table_counts(pipeline: dlt.Pipeline) -> dict[str, int]:
    with pipeline.sql_client() as client:
        table = client.make_qualified_table_name(TABLE_NAME)
        keys = ", ".join(PRIMARY_KEY)
        rows, distinct_keys = client.execute_sql(
            f"select (select count(*) from {table}),"  # noqa: S608 (identifiers, not input)
            f" (select count(*) from (select distinct {keys} from {table}))"
        )[0]
    return {"rows_in_table": int(rows), "distinct_keys": int(distinct_keys)}


def run_once(
    pipeline: dlt.Pipeline,
    applications: Sequence[dict[str, str]],
    base_url: str,
    customer_id: str,
    concurrency: int,
    loader_file_format: str,
    poll_interval_seconds: float,
) -> dict[str, Any]:
    """Extract, normalize and load one day; each step timed, as dlt runs them one after another."""
    fetcher = FlinksFetcher(
        base_url,
        customer_id,
        concurrency=concurrency,
        poll_interval_seconds=poll_interval_seconds,
    )
    started = time.perf_counter()
    try:
        pipeline.extract(
            flinks_transactions(applications, fetcher),
            workers=concurrency,
            max_parallel_items=concurrency,
            loader_file_format=loader_file_format,  # type: ignore[arg-type]
        )
    finally:
        fetcher.close()
    extracted = time.perf_counter()
    normalize_info = pipeline.normalize()
    normalized = time.perf_counter()
    pipeline.load()
    loaded = time.perf_counter()
    rows_normalized = sum(
        count
        for table, count in normalize_info.row_counts.items()
        if table == TABLE_NAME  # dlt's own tables (_dlt_pipeline_state...) are not the data
    )
    return {
        "seconds": round(loaded - started, 3),
        "extract_seconds": round(extracted - started, 3),
        "normalize_seconds": round(normalized - extracted, 3),
        "load_seconds": round(loaded - normalized, 3),
        "rows_extracted": rows_normalized,
        "refused_logins": sum(fetcher.refused.values()),
        "transactions_per_second": round(rows_normalized / (loaded - started)),
        **_table_counts(pipeline),
    }


def run_dlt_peer(
    base_url: str,
    customer_id: str,
    applications_csv: Path,
    workdir: Path,
    concurrency: int = 16,
    *,
    loader_file_format: str = "parquet",
    poll_interval_seconds: float = 2.0,
) -> dict[str, Any]:
    """Load the day twice into a fresh DuckDB file under ``workdir``; figures for both runs.

    The first run is the comparison with the pipeline's ingestion. The second proves the merge:
    the table must hold exactly as many rows as distinct keys, and no more than after the first.
    """
    # The benchmark runs offline and must not report usage anywhere.
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    applications = read_applications(applications_csv)
    # A fresh start: no dlt state, pending packages or rows left by an earlier benchmark.
    pipelines_dir, database = workdir / "pipelines", workdir / "peer.duckdb"
    shutil.rmtree(pipelines_dir, ignore_errors=True)
    database.unlink(missing_ok=True)
    workdir.mkdir(parents=True, exist_ok=True)
    pipeline = dlt.pipeline(
        pipeline_name=PIPELINE_NAME,
        pipelines_dir=str(pipelines_dir),
        destination=dlt.destinations.duckdb(str(database)),
        dataset_name=DATASET_NAME,
    )
    runs = [
        run_once(
            pipeline,
            applications,
            base_url,
            customer_id,
            concurrency,
            loader_file_format,
            poll_interval_seconds,
        )
        for _ in range(2)
    ]
    first, second = runs
    return {
        "applications": len(applications),
        "concurrency": concurrency,
        "dlt_version": dlt.__version__,
        "loader_file_format": loader_file_format,
        "primary_key": list(PRIMARY_KEY),
        "seconds": first["seconds"],
        "rows": first["rows_in_table"],
        "first_run": first,
        "second_run": second,
        "merge_holds": second["rows_in_table"] == second["distinct_keys"] == first["rows_in_table"],
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.peer_dlt",
        description="Load every login of an applications file with a dlt pipeline into DuckDB.",
    )
    parser.add_argument("--base-url", required=True, help="Flinks (or mock) base URL")
    parser.add_argument(
        "--applications",
        type=Path,
        required=True,
        help="applications.csv with application_id and login_id columns",
    )
    parser.add_argument(
        "--workdir", type=Path, required=True, help="where dlt keeps its state and the DuckDB file"
    )
    parser.add_argument("--customer-id", default="bench", help="Flinks customer id in the path")
    parser.add_argument("--concurrency", type=int, default=16, help="logins in flight at once")
    parser.add_argument(
        "--loader-file-format", choices=("parquet", "insert_values", "jsonl"), default="parquet"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    figures = run_dlt_peer(
        args.base_url,
        args.customer_id,
        args.applications,
        args.workdir,
        args.concurrency,
        loader_file_format=args.loader_file_format,
    )
    print(json.dumps(figures, indent=2))
    return 0 if figures["merge_holds"] else 1


if __name__ == "__main__":
    sys.exit(main())
