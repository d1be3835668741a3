"""What every HTTP API resource of the pipeline is configured with: its key, its timeout and
its retries.

Flinks and Taktile are called the same way (an API key header, a read timeout, bounded
exponential backoff on transient failures), so the knobs are declared once and both
resources read the same names from Dagster's configuration.
"""

from __future__ import annotations

from typing import Any

import dagster as dg
from pydantic import Field

from credit_scoring.core.retrying import RetryPolicy


class HttpApiResource(dg.ConfigurableResource):
    """The key, timeout and retry settings shared by the pipeline's API resources."""

    api_key: str | None = Field(
        default=None,
        description="Sent as the x-api-key header when set (FLINKS_API_KEY, TAKTILE_API_KEY)",
        # kept out of repr/str, so logging the resource cannot print the key
        repr=False,
    )
    timeout_seconds: float = Field(default=30.0, description="Read timeout of one HTTP call")
    concurrency: int = Field(default=8, description="Calls in flight at once (and pool size)")
    max_attempts: int = Field(
        default=5, description="Attempts per HTTP call (429, 5xx, timeouts, dropped connections)"
    )
    retry_wait_initial_seconds: float = Field(default=0.5, description="First backoff")
    retry_wait_max_seconds: float = Field(default=8.0, description="Backoff cap")

    def retry_policy(self) -> RetryPolicy:
        """The backoff these settings describe (see :meth:`RetryPolicy.configured`)."""
        return RetryPolicy.configured(
            self.max_attempts, self.retry_wait_initial_seconds, self.retry_wait_max_seconds
        )

    def connection_options(self) -> dict[str, Any]:
        """The keyword arguments both API clients take for their connection and retries."""
        return {
            "api_key": self.api_key,
            "timeout_seconds": self.timeout_seconds,
            "max_connections": self.concurrency,
            "retry": self.retry_policy(),
        }
