"""The Flinks resource: configuration from the environment, a client per use.

Assets ask it for a day's logins and get one :class:`FetchResult` per login back. Pointing at
the real Flinks is a matter of ``FLINKS_BASE_URL``, ``FLINKS_CUSTOMER_ID`` and
``FLINKS_API_KEY``; nothing else changes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

import dagster as dg
import httpx
from pydantic import Field

from credit_scoring.core.retrying import RetryPolicy
from credit_scoring.ingestion.flinks_client import (
    DAYS_OF_TRANSACTIONS,
    FetchResult,
    FlinksClient,
    PollPolicy,
    ProgressCallback,
)


class FlinksResource(dg.ConfigurableResource):
    """Flinks v3 bank-data API (or the mock that speaks it)."""

    base_url: str = Field(description="API root, e.g. https://<instance>-api.private.fin.ag")
    customer_id: str = Field(description="Flinks customer id (part of every path)")
    api_key: str | None = Field(
        default=None,
        description="Sent as x-api-key when set; optional for the mock",
        # kept out of repr/str, so logging the resource cannot print the key
        repr=False,
    )
    days_of_transactions: str = Field(
        default="Days365", description="History to request: Days90 or Days365"
    )
    concurrency: int = Field(default=16, description="Logins fetched at once (and pool size)")
    timeout_seconds: float = Field(default=30.0, description="Read timeout of one HTTP call")
    max_attempts: int = Field(default=5, description="Attempts per HTTP call (transient errors)")
    retry_wait_initial_seconds: float = Field(default=0.5, description="First backoff")
    retry_wait_max_seconds: float = Field(default=8.0, description="Backoff cap")
    poll_interval_seconds: float = Field(default=2.0, description="Wait between 202 polls")
    max_poll_wait_seconds: float = Field(default=300.0, description="Give up polling after")

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy.configured(
            self.max_attempts, self.retry_wait_initial_seconds, self.retry_wait_max_seconds
        )

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
            api_key=self.api_key,
            timeout_seconds=self.timeout_seconds,
            max_connections=self.concurrency,
            retry=self.retry_policy(),
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
        """Fetch every login (bounded concurrency); failed logins come back as failed results."""
        logins = list(login_ids)

        async def run() -> list[FetchResult]:
            async with self.client(transport) as client:
                return await client.fetch_many(
                    logins,
                    days_of_transactions=self.days_of_transactions,
                    concurrency=self.concurrency,
                    on_progress=on_progress,
                )

        return asyncio.run(run())
