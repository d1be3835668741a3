"""Serve the app from one process: waitress (production WSGI, threaded) or werkzeug.

One process only, by design: sessions, counters and fault sequences are in memory (see
:mod:`mock_api.app`). Concurrency comes from threads. With waitress, ``threads`` bounds how many
requests are answered at once and ``connection_limit`` how many connections are held open;
werkzeug starts a thread per request and ignores both.

The bound address is announced on stdout as ``mock_api listening on http://HOST:PORT`` (flushed),
which is how a parent process learns the port when it asked for port 0. SIGTERM and SIGINT stop
the server cleanly.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable
from types import FrameType
from typing import Any, Literal

from flask import Flask

logger = logging.getLogger(__name__)

ServerKind = Literal["waitress", "werkzeug"]
SERVERS: tuple[ServerKind, ...] = ("waitress", "werkzeug")


def announce(host: str, port: int) -> None:
    """Print the one line a parent process waits for."""
    print(f"mock_api listening on http://{host}:{port}", flush=True)


def serve(
    app: Flask,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    server: ServerKind = "waitress",
    threads: int = 16,
    connection_limit: int = 1000,
    on_listening: Callable[[str, int], None] = announce,
) -> None:
    """Serve ``app`` until SIGTERM or SIGINT."""
    if server == "waitress":
        _serve_waitress(app, host, port, threads, connection_limit, on_listening)
    elif server == "werkzeug":
        _serve_werkzeug(app, host, port, on_listening)
    else:
        raise ValueError(f"unknown server {server!r}; use one of {', '.join(SERVERS)}")
    logger.info("mock_api stopped")


def _stop(signum: int, frame: FrameType | None) -> None:
    # Both servers unwind their loop on KeyboardInterrupt and then close their sockets.
    raise KeyboardInterrupt(signal.Signals(signum).name)


def _install_signal_handlers() -> None:
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)


def _serve_waitress(
    app: Flask,
    host: str,
    port: int,
    threads: int,
    connection_limit: int,
    on_listening: Callable[[str, int], None],
) -> None:
    from waitress.server import create_server

    wsgi_server: Any = create_server(
        app,
        host=host,
        port=port,
        threads=threads,
        connection_limit=connection_limit,
        # poll() instead of select(): select() cannot watch more than ~1000 sockets.
        asyncore_use_poll=True,
    )
    bound_host, bound_port = _waitress_address(wsgi_server)
    _install_signal_handlers()
    on_listening(bound_host, bound_port)
    logger.info("serving with waitress (%d threads) on %s:%d", threads, bound_host, bound_port)
    try:
        wsgi_server.run()  # returns after KeyboardInterrupt, having stopped its threads
    except KeyboardInterrupt:
        pass
    finally:
        wsgi_server.close()


def _waitress_address(wsgi_server: Any) -> tuple[str, int]:
    if hasattr(wsgi_server, "effective_port"):
        return str(wsgi_server.effective_host), int(wsgi_server.effective_port)
    # Several listening sockets (a host name resolving to more than one address): report one.
    first = next(s for s in wsgi_server.map.values() if hasattr(s, "effective_port"))
    return str(first.effective_host), int(first.effective_port)


def _serve_werkzeug(
    app: Flask, host: str, port: int, on_listening: Callable[[str, int], None]
) -> None:
    from werkzeug.serving import make_server

    # One access-log line per request would dominate the log (and the time) of a load test.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    wsgi_server = make_server(host, port, app, threaded=True)
    _install_signal_handlers()
    on_listening(host, wsgi_server.server_port)
    logger.info("serving with werkzeug on %s:%d", host, wsgi_server.server_port)
    try:
        wsgi_server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        wsgi_server.server_close()
