"""Connections to one API held in several small httpx pools instead of one large one.

httpcore's pool (httpcore 1.0.9, under httpx 0.28) re-examines every connection it holds each
time a request starts or ends, and counts its idle connections once per connection while doing
so (encode/httpcore#1035): the cost of each request grows with the square of the pool's size,
and every idle connection's socket is probed (``has_expired``: a ``getpeername`` and a
``select``). With 16 connections that bookkeeping was most of the download: the 2M-transaction
benchmark day's raw download took 8.2 s through one pool of 16 and 4.1 s through four pools of
4 (medians of 3, alternated on one mock server), against 3.5 s on aiohttp's pool.

:class:`SplitPool` keeps httpx's own transport, its timeouts, errors, TLS and respx's
interception, and only divides the connections: each request goes to the part with the fewest
requests in flight, and counts there until its response is closed (the moment httpcore gives
the connection back). Behaviour is otherwise the single pool's: at most ``max_connections``
connections in all, each kept alive for reuse.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from typing import cast

import httpx

#: Connections per part: 4 and 1 measured the same (4.1 s against 3.9 s on the benchmark day),
#: and 4 still reuses connections within a part.
CONNECTIONS_PER_PART = 4


def part_sizes(max_connections: int, per_part: int = CONNECTIONS_PER_PART) -> list[int]:
    """``max_connections`` divided into the fewest parts of at most ``per_part``, spread evenly:
    10 connections in parts of 4 become 4 + 3 + 3, not 4 + 4 + 2."""
    if max_connections < 1 or per_part < 1:
        raise ValueError(
            f"max_connections ({max_connections}) and per_part ({per_part}) must be >= 1"
        )
    parts = math.ceil(max_connections / per_part)
    return [max_connections // parts + (i < max_connections % parts) for i in range(parts)]


class _Released(httpx.AsyncByteStream):
    """A response body that tells its part when it is closed (its connection is free again)."""

    def __init__(self, stream: httpx.AsyncByteStream, on_close: list[int], part: int) -> None:
        self._stream = stream
        self._in_flight = on_close
        self._part = part
        self._open = True

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        finally:
            if self._open:
                self._open = False
                self._in_flight[self._part] -= 1


class SplitPool(httpx.AsyncBaseTransport):
    """httpx's transport, its ``max_connections`` divided among pools of at most
    ``per_part`` connections (see the module docstring for why)."""

    def __init__(self, max_connections: int, per_part: int = CONNECTIONS_PER_PART) -> None:
        sizes = part_sizes(max_connections, per_part)
        self.sizes = sizes
        # one TLS context for all parts, as one pool has (building one takes about 20 ms)
        tls = httpx.create_ssl_context()
        self._parts = [
            httpx.AsyncHTTPTransport(
                verify=tls,
                limits=httpx.Limits(max_connections=size, max_keepalive_connections=size),
            )
            for size in sizes
        ]
        self._in_flight = [0] * len(sizes)

    @property
    def in_flight(self) -> tuple[int, ...]:
        """Requests each part is serving now (answered but not yet closed included)."""
        return tuple(self._in_flight)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        # the least busy part: relative to its size, so uneven parts fill evenly
        part = min(range(len(self._parts)), key=lambda i: self._in_flight[i] / self.sizes[i])
        self._in_flight[part] += 1
        try:
            response = await self._parts[part].handle_async_request(request)
        except BaseException:
            self._in_flight[part] -= 1
            raise
        # httpx's async transport always answers with an async body
        stream = cast(httpx.AsyncByteStream, response.stream)
        response.stream = _Released(stream, self._in_flight, part)
        return response

    async def aclose(self) -> None:
        for part in self._parts:
            await part.aclose()


__all__ = ["CONNECTIONS_PER_PART", "SplitPool", "part_sizes"]
