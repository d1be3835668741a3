"""The Taktile-shaped decide endpoint, serving the mock decision flow over HTTP.

``POST /run/api/v1/flows/<slug>/decide`` (and ``.../sandbox/decide``) with body
``{"data": {...features}, "metadata": {"version", "entity_id"}, "control": {...}}`` answers
``{"data": {...outputs}, "metadata": {"decision_id", "entity_id", "version", "timestamp"}}``,
what :func:`mock_api.decision_flow.decide` returns. Errors are ``{"detail": ...}`` like
Taktile's: 422 for a payload that cannot be scored, 401 for a missing or wrong ``X-Api-Key``
when the mock has ``--api-key``. Every answer carries the mock's marker header
(:data:`~credit_scoring.decisioning.decision_contract.MOCK_ENGINE_HEADER`), so the pipeline
stores its decisions as a mock's (``decision_engine = 'mock'``).

The flow is idempotent on entity id + payload (same request, same decision id), and
``/_mock/stats`` counts decisions, distinct entities and repeats, so tests can prove that a
pipeline asked once per application.
"""

from __future__ import annotations

from typing import Any

import orjson
from flask import Blueprint, Flask, Response, request

from credit_scoring.decisioning.decision_contract import MOCK_ENGINE_HEADER
from mock_api import decision_flow
from mock_api.behaviour import (
    HTTP_ERROR_FAULTS,
    TAKTILE_TERMINAL_FAULT,
    api_endpoint,
    current_behaviour,
    json_response,
)

TAKTILE_PREFIX = "/run/api/v1/flows/"
taktile = Blueprint("taktile", __name__, url_prefix=TAKTILE_PREFIX + "<slug>")


def taktile_error_body(status: int, code: str, message: str) -> dict[str, Any]:
    """Taktile's error shape: the explanation in ``detail``."""
    return {"detail": message, "code": code, "status": status}


class DecideRequestError(Exception):
    """A decide request the mock answers with a 4xx ``detail``."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


@taktile.errorhandler(DecideRequestError)
def _decide_error(error: DecideRequestError) -> Response:
    return json_response(
        taktile_error_body(error.status, "INVALID_REQUEST", error.detail), error.status
    )


def _entity_key() -> str:
    """The fault key: the entity id when the body has one (never raises)."""
    try:
        body = orjson.loads(request.get_data(cache=True) or b"{}")
        entity = (body.get("metadata") or {}).get("entity_id")
    except (orjson.JSONDecodeError, AttributeError):
        return ""
    return str(entity) if entity is not None else ""


def _parse() -> tuple[dict[str, Any], str, str | None]:
    try:
        body = orjson.loads(request.get_data(cache=True) or b"")
    except orjson.JSONDecodeError as exc:
        raise DecideRequestError(422, f"body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise DecideRequestError(422, "body must be a JSON object")
    data, metadata = body.get("data"), body.get("metadata")
    if not isinstance(data, dict):
        raise DecideRequestError(422, "data: field required (an object of features)")
    if not isinstance(metadata, dict) or not isinstance(metadata.get("entity_id"), str):
        raise DecideRequestError(422, "metadata.entity_id: field required (a string)")
    version = metadata.get("version")
    return data, metadata["entity_id"], str(version) if version is not None else None


def _decide(slug: str) -> Response:
    features, entity_id, version = _parse()
    try:
        body = decision_flow.decide(features, entity_id=entity_id, version=version)
    except decision_flow.InvalidFeatures as exc:
        raise DecideRequestError(422, str(exc)) from None
    current_behaviour().stats.decided(entity_id)
    return json_response(body)


@taktile.post("/decide")
@taktile.post("/sandbox/decide")
@api_endpoint(
    "decide",
    fault_key=_entity_key,
    error_body=taktile_error_body,
    error_faults=HTTP_ERROR_FAULTS,
    terminal_fault=TAKTILE_TERMINAL_FAULT,
)
def decide(slug: str) -> Response:
    """Run the decision flow for one entity (the production and the sandbox paths alike)."""
    return _decide(slug)


@taktile.after_request
def _mark_as_mock(response: Response) -> Response:
    """Say on every answer, errors included, that a mock made it."""
    response.headers[MOCK_ENGINE_HEADER] = "mock_api"
    return response


def register_taktile(app: Flask) -> None:
    app.register_blueprint(taktile)
