"""The decision engine as a resource: Taktile's decide API over HTTP.

The real Taktile and the mock server differ by URL only (``TAKTILE_BASE_URL``); which one is
bound is decided in :mod:`credit_scoring.deployment`, and every decision records the engine
that made it. Test doubles live with the tests.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

import dagster as dg
from pydantic import Field

from credit_scoring.core.retrying import RetryPolicy
from credit_scoring.decisioning.taktile_client import Decision, DecisionRequest, TaktileClient

ProgressCallback = Callable[[int, int], None]


class TaktileResource(dg.ConfigurableResource):
    """A Taktile decision flow: one decision (score, outcome, limit, reasons) per request."""

    base_url: str = Field(description="Taktile API root (TAKTILE_BASE_URL)")
    api_key: str | None = Field(
        default=None,
        description="Sent as X-Api-Key (TAKTILE_API_KEY)",
        # kept out of repr/str, so logging the resource cannot print the key
        repr=False,
    )
    flow_slug: str = Field(default="credit-decision", description="Decision flow slug")
    sandbox: bool = Field(default=False, description="Call the flow's sandbox endpoint")
    version: str = Field(default="v1.0", description="Flow version requested")
    timeout_seconds: float = Field(default=30.0, description="Timeout of one call")
    concurrency: int = Field(default=8, description="Decisions requested at once")
    max_attempts: int = Field(default=5, description="Attempts per decision (429/5xx/timeout)")
    retry_wait_initial_seconds: float = Field(default=0.5, description="First backoff")
    retry_wait_max_seconds: float = Field(default=8.0, description="Backoff cap")

    def client(self) -> TaktileClient:
        return TaktileClient(
            self.base_url,
            self.flow_slug,
            api_key=self.api_key,
            sandbox=self.sandbox,
            version=self.version,
            timeout_seconds=self.timeout_seconds,
            max_connections=self.concurrency,
            retry=RetryPolicy.configured(
                self.max_attempts, self.retry_wait_initial_seconds, self.retry_wait_max_seconds
            ),
        )

    def decide_many(
        self, requests: Sequence[DecisionRequest], *, on_progress: ProgressCallback | None = None
    ) -> list[Decision]:
        """One Decision per request, in order; failures carry ``error_code``, never raise."""

        async def run() -> list[Decision]:
            async with self.client() as client:
                return await client.decide_many(
                    requests, concurrency=self.concurrency, on_progress=on_progress
                )

        return asyncio.run(run()) if requests else []
