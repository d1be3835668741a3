"""The decision engine as a resource: one abstract type, a mock and an HTTP implementation.

Assets annotate :class:`TaktileResource`; :func:`credit_scoring.resources.build_resources`
binds ``HttpTaktileResource`` when ``TAKTILE_BASE_URL`` is set and ``MockTaktileResource``
(in-process, deterministic, no network) otherwise.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import dagster as dg
from pydantic import Field

from credit_scoring.retrying import RetryPolicy
from credit_scoring.taktile.client import Decision, DecisionRequest, TaktileClient
from mock_api import decision_flow

ProgressCallback = Callable[[int, int], None]


class TaktileResource(dg.ConfigurableResource, ABC):
    """What the decision asset needs: a decision (score, outcome, limit, reasons) per request."""

    @abstractmethod
    def decide_many(
        self, requests: Sequence[DecisionRequest], *, on_progress: ProgressCallback | None = None
    ) -> list[Decision]:
        """One Decision per request, in order; failures carry ``error_code``, never raise."""

    @property
    @abstractmethod
    def kind(self) -> str:
        """``mock`` or ``http``, shown in run metadata so nobody mistakes one for the other."""


class MockTaktileResource(TaktileResource):
    """The mock decision flow called in-process: deterministic and idempotent, no network."""

    version: str = Field(default="v1.0", description="Flow version requested")

    @property
    def kind(self) -> str:
        return "mock"

    def decide_many(
        self, requests: Sequence[DecisionRequest], *, on_progress: ProgressCallback | None = None
    ) -> list[Decision]:
        decisions = []
        for done, request in enumerate(requests, start=1):
            requested_at = datetime.now(UTC)
            try:
                body = decision_flow.decide(
                    request.features, entity_id=request.entity_id, version=self.version
                )
            except decision_flow.InvalidFeatures as exc:
                decisions.append(
                    Decision(
                        request.entity_id,
                        requested_at,
                        datetime.now(UTC),
                        http_calls=0,
                        error_code="HTTP_422",
                        error_message=str(exc),
                    )
                )
            else:
                outputs, metadata = body["data"], body["metadata"]
                decisions.append(
                    Decision(
                        entity_id=request.entity_id,
                        requested_at=requested_at,
                        decided_at=datetime.now(UTC),
                        http_calls=0,
                        decision_id=metadata["decision_id"],
                        score=float(outputs["score"]),
                        outcome=outputs["outcome"],
                        credit_limit=float(outputs["credit_limit"]),
                        reasons=list(outputs["reasons"]),
                        flow_version=outputs["flow_version"],
                    )
                )
            if on_progress is not None:
                on_progress(done, len(requests))
        return decisions


class HttpTaktileResource(TaktileResource):
    """Taktile's decide API over HTTP (the real service, or the mock server's copy of it)."""

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

    @property
    def kind(self) -> str:
        return "http"

    def client(self) -> TaktileClient:
        return TaktileClient(
            self.base_url,
            self.flow_slug,
            api_key=self.api_key,
            sandbox=self.sandbox,
            version=self.version,
            timeout_seconds=self.timeout_seconds,
            max_connections=self.concurrency,
            retry=RetryPolicy(
                max_attempts=self.max_attempts,
                wait_initial=self.retry_wait_initial_seconds,
                wait_max=self.retry_wait_max_seconds,
                wait_jitter=min(0.5, self.retry_wait_initial_seconds),
            ),
        )

    def decide_many(
        self, requests: Sequence[DecisionRequest], *, on_progress: ProgressCallback | None = None
    ) -> list[Decision]:
        async def run() -> list[Decision]:
            async with self.client() as client:
                return await client.decide_many(
                    requests, concurrency=self.concurrency, on_progress=on_progress
                )

        return asyncio.run(run()) if requests else []
