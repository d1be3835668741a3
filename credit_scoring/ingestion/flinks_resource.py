"""The Flinks resource: configuration from the environment, a client per use.

Assets ask it for a day's logins and get one :class:`FetchResult` per login back, all at once
(:meth:`FlinksResource.fetch_many`) or each as it completes (:meth:`FlinksResource.fetch_each`,
which bronze writes away as they arrive). Pointing at
the real Flinks is a matter of ``FLINKS_BASE_URL``, ``FLINKS_CUSTOMER_ID`` and
``FLINKS_API_KEY``; nothing else changes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import httpx
from pydantic import Field

from credit_scoring.core.http_resource import HttpApiResource
from credit_scoring.ingestion.flinks_client import (
    DAYS_OF_TRANSACTIONS,
    FetchResult,
    FlinksClient,
    PollPolicy,
    ProgressCallback,
    ResultCallback,
)


class FlinksResource(HttpApiResource):
    """Flinks v3 bank-data API (or the mock that speaks it)."""

    base_url: str = Field(description="API root, e.g. https://<instance>-api.private.fin.ag")
    customer_id: str = Field(description="Flinks customer id (part of every path)")
    days_of_transactions: str = Field(
        default="Days365", description="History to request: Days90 or Days365"
    )
    concurrency: int = Field(default=16, description="Logins fetched at once (and pool size)")
    poll_interval_seconds: float = Field(default=2.0, description="Wait between 202 polls")
    max_poll_wait_seconds: float = Field(default=300.0, description="Give up polling after")

    def client(self, transport: httpx.AsyncBaseTransport | None = None) -> FlinksClient:
        """A new client bound to this configuration (use it as an async context manager)."""
        if self.days_of_transactions not in DAYS_OF_TRANSACTIONS:
            raise ValueError(
                f"days_of_transactions={self.days_of_transactions!r}: use one of "
                f"{DAYS_OF_TRANSACTIONS}"
            )
        return FlinksClient(
            self.base_url,
            self.customer_id,
            **self.connection_options(),
            poll=PollPolicy(
                interval_seconds=self.poll_interval_seconds,
                max_wait_seconds=self.max_poll_wait_seconds,
            ),
            transport=transport,
        )

    def fetch_many(
        self,
        login_ids: Iterable[str],
        *,
        on_progress: ProgressCallback | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> list[FetchResult]:
        """Fetch every login (bounded concurrency); failed logins come back as failed results,
        every result in the order of ``login_ids``."""
        logins = list(login_ids)
        results: list[FetchResult | None] = [None] * len(logins)

        def keep(index: int, result: FetchResult) -> None:
            results[index] = result

        self.fetch_each(logins, keep, on_progress=on_progress, transport=transport)
        return [result for result in results if result is not None]

    def fetch_each(
        self,
        login_ids: Iterable[str],
        on_result: ResultCallback,
        *,
        on_progress: ProgressCallback | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        """Fetch every login, handing each result to ``on_result(index, result)`` as it
        completes (see :meth:`FlinksClient.fetch_each`)."""
        logins = list(login_ids)
        self._run(
            lambda client: client.fetch_each(
                logins,
                on_result,
                days_of_transactions=self.days_of_transactions,
                concurrency=self.concurrency,
                on_progress=on_progress,
            ),
            transport,
        )

    def _run(
        self,
        work: Callable[[FlinksClient], Awaitable[Any]],
        transport: httpx.AsyncBaseTransport | None,
    ) -> Any:
        """``work`` on a new client, in a new event loop (the asset's code is synchronous)."""

        async def run() -> Any:
            async with self.client(transport) as client:
                return await work(client)

        return asyncio.run(run())
