"""The split connection pool: how connections are divided, where each request goes, and the
bound on connections over real sockets."""

from __future__ import annotations

import asyncio
import http.server
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import respx

from credit_scoring.core.http_pool import SplitPool


@pytest.mark.parametrize(
    ("connections", "sizes"),
    [(16, [4, 4, 4, 4]), (10, [4, 3, 3]), (8, [4, 4]), (3, [3]), (1, [1])],
)
def test_the_connections_are_divided_evenly_into_parts_of_at_most_four(connections, sizes):
    assert SplitPool(connections).sizes == sizes


def test_a_pool_without_connections_is_refused_naming_the_value():
    with pytest.raises(ValueError, match=r"max_connections \(0\)"):
        SplitPool(0)


@respx.mock
def test_each_request_goes_to_the_least_busy_part_and_counts_there_until_closed():
    respx.get("https://api.test/x").mock(return_value=httpx.Response(200, content=b"body"))

    async def scenario() -> list[tuple[int, ...]]:
        pool = SplitPool(8)  # two parts of 4
        seen = []
        async with httpx.AsyncClient(transport=pool) as client:

            async def send() -> httpx.Response:
                request = client.build_request("GET", "https://api.test/x")
                response = await client.send(request, stream=True)
                seen.append(pool.in_flight)
                return response

            first = await send()
            await first.aread()  # read to the end: httpx closes it, freeing its part
            seen.append(pool.in_flight)
            # both parts idle: the first again (not the next in turn)
            held = [await send() for _ in range(3)]
            for response in held:
                await response.aclose()
                await response.aclose()  # closing twice frees the slot once
            seen.append(pool.in_flight)
        return seen

    # turn by turn would give (0, 1) for the second request; always the first part, (2, 0)
    assert asyncio.run(scenario()) == [(1, 0), (0, 0), (1, 0), (1, 1), (2, 1), (0, 0)]


class _SlowHandler(http.server.BaseHTTPRequestHandler):
    """Answers after a pause, naming the client port the request came from."""

    protocol_version = "HTTP/1.1"  # keep-alive, as the APIs do

    def do_GET(self) -> None:
        time.sleep(0.05)
        body = str(self.client_address[1]).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def slow_server() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _SlowHandler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_over_real_sockets_all_requests_are_answered_on_at_most_max_connections(slow_server):
    async def scenario() -> list[str]:
        pool = SplitPool(6)  # parts of 3 and 3
        async with httpx.AsyncClient(base_url=slow_server, transport=pool) as client:
            responses = await asyncio.gather(*(client.get("/") for _ in range(40)))
            assert pool.in_flight == (0, 0)
        assert all(response.status_code == 200 for response in responses)
        return [response.text for response in responses]

    ports = asyncio.run(scenario())
    assert len(ports) == 40
    # 40 requests at once on 6 connections: every connection reused, never a seventh
    assert 2 <= len(set(ports)) <= 6
