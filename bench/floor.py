"""The download floor: the same payloads, fetched with plain httpx at the same concurrency, and
thrown away.

    .venv/bin/python -m bench.floor --base-url URL --applications DIR/applications.csv \
        [--customer-id bench] [--concurrency 16] [--transport httpx|httpx-one-pool|aiohttp]

Nothing the pipeline does after the bytes arrive (parsing, validation, the lake, the ledger) can
be faster than this, so it is the yardstick for the fetch stage: the pipeline's fetch time
minus the floor is what the pipeline's own work costs. The flow is the one the pipeline's
client speaks (Authorize, GetAccountsDetail, GetAccountsDetailAsync while the answer is 202),
with the same request bodies, timeouts and connection pools, but with no retries (a retry is
work, not download: the floor is measured against an undisturbed server) and no JSON parsing of
the detail answers.

Transactions are counted inside the timed region without parsing: every Flinks transaction
object, and nothing else in a GetAccountsDetail answer, has a ``Description`` key, and a JSON
string can never hold an unescaped quote, so ``"Description":`` (the key and its colon, as
compact and indented JSON both write it) occurs in the raw bytes once per transaction served.
The scan is a memory-speed ``bytes.count`` (about 0.5% of the download).

Prints one JSON object: seconds, logins, bytes, transactions, and the rates.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import httpx

from credit_scoring.core.http_pool import SplitPool, part_sizes

#: Occurs once per transaction object in a GetAccountsDetail body (see the module docstring).
TRANSACTION_KEY = b'"Description":'
#: The pipeline's client sends the same body (``credit_scoring.flinks.client``).
DETAIL_BODY = {
    "WithTransactions": True,
    "WithAccountIdentity": True,
    "DaysOfTransactions": "Days365",
}


@dataclass
class _Tally:
    """What the downloads brought back; updated from one event loop, so no locking."""

    downloaded: int = 0
    bytes: int = 0
    transactions: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    http_calls: int = 0
    pending_answers: int = 0


class _Failed(Exception):
    """A login whose flow ended without account data; ``code`` says where and why."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def count_transactions(body: bytes) -> int:
    """Transactions in a raw GetAccountsDetail body, without parsing it."""
    return body.count(TRANSACTION_KEY)


def read_login_ids(applications_csv: Path) -> list[str]:
    """The ``login_id`` column of an applications file, in file order, blanks left out."""
    with applications_csv.open(newline="", encoding="utf-8") as handle:
        return [row["login_id"].strip() for row in csv.DictReader(handle) if row["login_id"]]


async def _fetch_one(
    client: httpx.AsyncClient, login_id: str, tally: _Tally, poll_interval_seconds: float
) -> None:
    """Authorize, then the detail (polling while it is pending); the body is counted, not kept."""
    tally.http_calls += 1
    auth = await client.post("/Authorize", json={"LoginId": login_id, "MostRecentCached": True})
    if auth.status_code != 200:
        raise _Failed(f"Authorize HTTP {auth.status_code}")
    request_id = auth.json().get("RequestId")
    if not request_id:
        raise _Failed("Authorize without RequestId")

    tally.http_calls += 1
    detail = await client.post("/GetAccountsDetail", json={"RequestId": request_id, **DETAIL_BODY})
    while detail.status_code == 202:
        tally.pending_answers += 1
        await asyncio.sleep(poll_interval_seconds)
        tally.http_calls += 1
        detail = await client.get(f"/GetAccountsDetailAsync/{quote(request_id, safe='')}")
    if detail.status_code != 200:
        raise _Failed(f"GetAccountsDetail HTTP {detail.status_code}")
    body = detail.content
    tally.downloaded += 1
    tally.bytes += len(body)
    tally.transactions += count_transactions(body)


#: The HTTP transports the floor can download with: httpx's own, its connections split into
#: small pools as the pipeline's clients hold them (:class:`~credit_scoring.core.http_pool.
#: SplitPool`); httpx's own in one pool of ``concurrency`` connections; and aiohttp's pool
#: through ``httpx-aiohttp``. httpcore's pool costs each request the square of its size (see
#: ``credit_scoring/core/http_pool.py``): on the 2M-transaction day the download took 4.1 s
#: split, 8.2 s in one pool and 3.5 s on aiohttp's (medians of 3, alternated).
TRANSPORTS = ("httpx", "httpx-one-pool", "aiohttp")


def _transport(name: str, limits: httpx.Limits) -> httpx.AsyncBaseTransport | None:
    """The transport ``name`` (None: httpx's default, one pool of ``limits``)."""
    if name == "httpx":
        return SplitPool(limits.max_connections or 1)
    if name == "httpx-one-pool":
        return None
    if name == "aiohttp":
        from httpx_aiohttp import AiohttpTransport  # the bench extra: not the pipeline's

        return AiohttpTransport(limits=limits)
    raise ValueError(f"transport must be one of {TRANSPORTS}, got {name!r}")


def pool_sizes(transport: str, concurrency: int) -> list[int] | None:
    """The sizes of httpx's connection pools the floor downloads through (None on aiohttp's):
    recorded with each floor, as results before 2026-12-03 downloaded through one pool."""
    if transport == "aiohttp":
        return None
    return part_sizes(concurrency) if transport == "httpx" else [concurrency]


async def _download_all(
    base_url: str,
    customer_id: str,
    login_ids: Sequence[str],
    concurrency: int,
    poll_interval_seconds: float,
    transport: str,
) -> _Tally:
    tally = _Tally()
    limit = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(
        base_url=f"{base_url.rstrip('/')}/v3/{customer_id}/BankingServices",
        headers={"Accept": "application/json"},
        timeout=httpx.Timeout(30.0, connect=5.0, pool=None),
        limits=limits,
        transport=_transport(transport, limits),
    ) as client:

        async def one(login_id: str) -> None:
            async with limit:
                try:
                    await _fetch_one(client, login_id, tally, poll_interval_seconds)
                except _Failed as exc:
                    tally.failures[exc.code] += 1
                except httpx.HTTPError as exc:
                    tally.failures[type(exc).__name__] += 1

        await asyncio.gather(*(one(login_id) for login_id in login_ids))
    return tally


def download_floor(
    base_url: str,
    customer_id: str,
    login_ids: list[str],
    concurrency: int = 16,
    *,
    poll_interval_seconds: float = 2.0,
    transport: str = "httpx",
) -> dict:
    """Download every login's year of transactions as fast as plain httpx can, keeping nothing
    (``transport``: one of :data:`TRANSPORTS`).

    The timed region is the whole asyncio run, connection pool set-up and teardown included,
    as the pipeline's fetch stage pays them too. A login that does not come back with a 200 is
    counted under ``failed`` (by reason), never retried.
    """
    if concurrency < 1:
        raise ValueError(f"concurrency must be >= 1, got {concurrency}")
    started = time.perf_counter()
    tally = asyncio.run(
        _download_all(
            base_url, customer_id, login_ids, concurrency, poll_interval_seconds, transport
        )
    )
    elapsed = time.perf_counter() - started
    return {
        "logins": len(login_ids),
        "downloaded": tally.downloaded,
        "failed": sum(tally.failures.values()),
        "failures": dict(tally.failures),
        "concurrency": concurrency,
        "transport": transport,
        "pools": pool_sizes(transport, concurrency),
        "http_calls": tally.http_calls,
        "pending_answers": tally.pending_answers,
        "bytes": tally.bytes,
        "transactions": tally.transactions,
        "transactions_counted": "in the timed region, from the raw bytes (no JSON parse)",
        "seconds": round(elapsed, 3),
        "transactions_per_second": round(tally.transactions / elapsed) if elapsed else None,
        "applications_per_second": round(tally.downloaded / elapsed, 1) if elapsed else None,
        "megabytes_per_second": round(tally.bytes / 2**20 / elapsed, 1) if elapsed else None,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.floor",
        description="Time downloading every login of an applications file with plain httpx.",
    )
    parser.add_argument("--base-url", required=True, help="Flinks (or mock) base URL")
    parser.add_argument(
        "--applications", type=Path, required=True, help="applications.csv with a login_id column"
    )
    parser.add_argument("--customer-id", default="bench", help="Flinks customer id in the path")
    parser.add_argument("--concurrency", type=int, default=16, help="logins in flight at once")
    parser.add_argument(
        "--poll-interval", type=float, default=2.0, help="seconds between polls of a 202"
    )
    parser.add_argument(
        "--transport", choices=TRANSPORTS, default="httpx", help="the HTTP transport to use"
    )
    args = parser.parse_args(argv)
    figures = download_floor(
        args.base_url,
        args.customer_id,
        read_login_ids(args.applications),
        args.concurrency,
        poll_interval_seconds=args.poll_interval,
        transport=args.transport,
    )
    print(json.dumps(figures, indent=2))
    return 0 if figures["failed"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
