"""The mock's Flask app: the Flinks endpoints, Taktile's decide, health and test-control routes.

Everything (data, sessions, counters, fault sequences) is in memory, so the app must be served by
ONE process with as many threads as needed (``python -m mock_api`` does that with waitress).
Several worker processes would each hold their own sessions, and a RequestId opened on one would
be unknown to the others.

Routes besides the API, never delayed, faulted, or behind the API key:

- ``GET /health``: ``{"status": "ok", "logins": n, "transactions": n}`` once data is loaded;
- ``GET /_mock/stats``: the counters (see :meth:`mock_api.behaviour.Stats.snapshot`);
- ``POST /_mock/reset``: zero the counters and restart fault sequences; data and sessions stay.
"""

from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from mock_api.behaviour import (
    Behaviour,
    MockConfig,
    current_behaviour,
    flinks_error_body,
    install_behaviour,
    json_response,
)
from mock_api.flinks_routes import register_flinks
from mock_api.store import Store, load_store
from mock_api.taktile_routes import TAKTILE_PREFIX, register_taktile, taktile_error_body

logger = logging.getLogger(__name__)

#: Largest request body accepted; Flinks requests are a few hundred bytes.
MAX_REQUEST_BYTES = 1024 * 1024


def create_app(data_dir: Path | str, config: MockConfig | None = None) -> Flask:
    """Load ``<data_dir>/statements/*.csv`` and build the app serving it.

    Raises :class:`mock_api.store.StoreError` if the directory holds no statement export or a
    file is not one.
    """
    config = config or MockConfig()
    store = load_store(data_dir)

    app = Flask("mock_api")
    app.config["MAX_CONTENT_LENGTH"] = MAX_REQUEST_BYTES
    install_behaviour(app, Behaviour(config))
    register_flinks(app, store, config)
    register_taktile(app)
    _register_control_routes(app, store)
    _register_error_handlers(app)
    return app


def _register_control_routes(app: Flask, store: Store) -> None:
    @app.get("/health")
    def health() -> Response:
        return json_response(
            {
                "status": "ok",
                "logins": store.login_count,
                "transactions": store.transaction_count,
            }
        )

    @app.get("/_mock/stats")
    def stats() -> Response:
        return json_response(current_behaviour().stats.snapshot())

    @app.post("/_mock/reset")
    def reset() -> Response:
        current_behaviour().reset()
        return json_response({"status": "reset"})


def _error_body(status: int, code: str, message: str) -> dict:
    """The error shape of the API the path belongs to: Taktile's ``detail`` or Flinks'."""
    if request.path.startswith(TAKTILE_PREFIX):
        return taktile_error_body(status, code, message)
    return flinks_error_body(status, code, message)


def _register_error_handlers(app: Flask) -> None:
    """Unknown paths, wrong methods and unexpected errors answer JSON in the API's own shape."""

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        status = error.code or 500
        code = (error.name or "ERROR").upper().replace(" ", "_")
        response = json_response(_error_body(status, code, error.description or ""), status)
        for name, value in error.get_headers():
            if name.lower() == "allow":  # a 405 says which methods would work
                response.headers[name] = value
        return response

    @app.errorhandler(Exception)
    def unexpected_error(error: Exception) -> Response:
        logger.exception("unexpected error while answering a request")
        return json_response(
            _error_body(500, "INTERNAL_ERROR", "an unexpected error occurred"), 500
        )
