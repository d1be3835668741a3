"""The retry policy for calls to outside APIs (Flinks, Taktile), stated once.

Which failures: :class:`TransientError` only (for Flinks: 5xx, 429, ``RETRY_LATER``,
``TOO_MANY_REQUESTS``, timeouts, dropped connections, non-JSON bodies; for Taktile: 429, 5xx,
timeouts, dropped connections). How often: at most
``max_attempts`` per HTTP call, and never longer than ``max_total_seconds`` per call. Backoff:
exponential from ``wait_initial`` doubling up to ``wait_max``, plus up to ``wait_jitter`` of
random jitter so that many workers retrying together do not stampede the API.

stamina implements the loop (tested, instrumented, async-aware); this module only states the
numbers, so call sites never grow their own loops.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import stamina


class TransientError(Exception):
    """A failure worth another attempt after a pause; everything else surfaces at once."""


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded exponential backoff with jitter."""

    max_attempts: int = 5
    wait_initial: float = 0.5
    wait_max: float = 8.0
    wait_jitter: float = 0.5
    max_total_seconds: float = 120.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {self.max_attempts}")

    @classmethod
    def configured(cls, max_attempts: int, wait_initial: float, wait_max: float) -> RetryPolicy:
        """The policy a resource's settings describe; the jitter never exceeds the first wait,
        so a short backoff configured for tests stays short."""
        return cls(
            max_attempts=max_attempts,
            wait_initial=wait_initial,
            wait_max=wait_max,
            wait_jitter=min(0.5, wait_initial),
        )


def is_retryable(exc: Exception) -> bool:
    """Only transient failures are retried; terminal ones surface immediately."""
    return isinstance(exc, TransientError)


def attempts(policy: RetryPolicy) -> AsyncIterator[stamina.Attempt]:
    """The attempts of one call under ``policy``: ``async for attempt in attempts(p)``."""
    return stamina.retry_context(  # type: ignore[return-value]
        on=is_retryable,
        attempts=policy.max_attempts,
        timeout=policy.max_total_seconds,
        wait_initial=policy.wait_initial,
        wait_max=policy.wait_max,
        wait_jitter=policy.wait_jitter,
    )
