"""The decision engine as a resource: Taktile's decide API over HTTP.

The real Taktile and the mock server differ by URL only (``TAKTILE_BASE_URL``); which one is
bound is decided in :mod:`credit_scoring.deployment`, and every decision records the engine
that made it. Test doubles live with the tests.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from pydantic import Field

from credit_scoring.core.http_resource import HttpApiResource
from credit_scoring.decisioning.taktile_client import Decision, DecisionRequest, TaktileClient

ProgressCallback = Callable[[int, int], None]


class TaktileResource(HttpApiResource):
    """A Taktile decision flow: one decision (score, outcome, limit, reasons) per request."""

    base_url: str = Field(description="Taktile API root (TAKTILE_BASE_URL)")
    flow_slug: str = Field(default="credit-decision", description="Decision flow slug")
    sandbox: bool = Field(default=False, description="Call the flow's sandbox endpoint")
    version: str = Field(default="v1.0", description="Flow version requested")

    def client(self) -> TaktileClient:
        return TaktileClient(
            self.base_url,
            self.flow_slug,
            sandbox=self.sandbox,
            version=self.version,
            **self.connection_options(),
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
