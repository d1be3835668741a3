"""The mock's Taktile decide route: the flow's answer over HTTP, repeats, errors in Taktile's shape,
the mock's marker header."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
import pytest

from credit_scoring.decisioning.decision_contract import MOCK_ENGINE_HEADER
from credit_scoring_tests.builders.features import GOOD_FEATURES as FEATURES
from credit_scoring_tests.mock_server.helpers import (
    DECIDE,
    SANDBOX_DECIDE,
    assert_taktile_error,
    decide,
    decide_body,
    stats,
)
from mock_api import decision_flow
from mock_api.behaviour import FAULT_KINDS, fault_draw


def _without_timestamp(body: dict[str, Any]) -> dict[str, Any]:
    return {**body, "metadata": {k: v for k, v in body["metadata"].items() if k != "timestamp"}}


@pytest.mark.parametrize("path", [DECIDE, SANDBOX_DECIDE], ids=["production", "sandbox"])
def test_decide_answers_what_the_flow_decides(client, path):
    response = decide(client, decide_body("APP-1"), path=path)

    assert response.status_code == 200
    expected = decision_flow.decide(FEATURES, entity_id="APP-1", version="v1.0")
    assert _without_timestamp(response.json) == _without_timestamp(expected)
    assert set(response.json["data"]) == {
        "score", "outcome", "credit_limit", "reasons", "flow_version",
    }  # fmt: skip
    assert datetime.fromisoformat(response.json["metadata"]["timestamp"]).tzinfo is not None


def test_every_decide_answer_says_that_a_mock_made_it(client):
    answered = decide(client, decide_body("APP-1"))
    refused = decide(client, decide_body("APP-1", {}))

    assert answered.status_code == 200
    assert answered.headers[MOCK_ENGINE_HEADER] == "mock_api"
    assert refused.status_code == 422
    assert refused.headers[MOCK_ENGINE_HEADER] == "mock_api"


def test_decide_without_version_answers_the_flow_version(client):
    response = decide(client, {"data": FEATURES, "metadata": {"entity_id": "APP-1"}})

    assert response.status_code == 200
    assert response.json["metadata"]["version"] == decision_flow.FLOW_VERSION


def test_a_repeated_decision_has_the_same_id_and_is_counted_as_a_repeat(client):
    first = decide(client, decide_body("APP-1"))
    repeat = decide(client, decide_body("APP-1"), path=SANDBOX_DECIDE)
    other = decide(client, decide_body("APP-2"))

    assert first.status_code == repeat.status_code == other.status_code == 200
    assert repeat.json["metadata"]["decision_id"] == first.json["metadata"]["decision_id"]
    assert other.json["metadata"]["decision_id"] != first.json["metadata"]["decision_id"]
    counters = stats(client)
    assert counters["requests"] == {"decide": 3}
    assert counters["responses"] == {"200": 3}
    assert counters["decisions"] == 3
    assert counters["distinct_entities_decided"] == 2
    assert counters["decision_repeats"] == 1


def test_a_different_payload_for_the_same_entity_is_a_different_decision(client):
    first = decide(client, decide_body("APP-1"))
    changed = decide(client, decide_body("APP-1", {**FEATURES, "nsf_count_90d": 3}))

    assert first.json["metadata"]["decision_id"] != changed.json["metadata"]["decision_id"]
    assert stats(client)["distinct_entities_decided"] == 1


@pytest.mark.parametrize(
    ("value", "detail_part"),
    [
        (None, "missing required feature(s): history_days"),
        (float("nan"), "missing required feature(s): history_days"),  # orjson sends NaN as null
        ("400", "'history_days' must be a finite number"),
        ("abc", "'history_days' must be a finite number"),
        (True, "'history_days' must be a finite number"),
        ([400], "'history_days' must be a finite number"),
    ],
    ids=["null", "nan", "numeric-string", "text", "bool", "list"],
)
def test_an_unscorable_required_feature_is_422_naming_it(client, value, detail_part):
    response = decide(client, decide_body("APP-1", {**FEATURES, "history_days": value}))

    assert_taktile_error(response, 422, detail_part)
    assert stats(client)["decisions"] == 0


def test_a_missing_required_feature_is_422_naming_it(client):
    features = {k: v for k, v in FEATURES.items() if k != "nsf_count_90d"}

    response = decide(client, decide_body("APP-1", features))

    assert_taktile_error(response, 422, "missing required feature(s): nsf_count_90d")


def test_a_literal_nan_in_the_body_is_a_422_not_a_500(client):
    body = orjson.dumps(decide_body("APP-1")).replace(b'"history_days":400', b'"history_days":NaN')

    response = decide(client, body)

    assert_taktile_error(response, 422, "not valid JSON")


@pytest.mark.parametrize(
    "body",
    [
        {"data": FEATURES},
        {"data": FEATURES, "metadata": {"version": "v1.0"}},
        {"data": FEATURES, "metadata": {"entity_id": 7}},
        {"data": FEATURES, "metadata": "APP-1"},
    ],
    ids=["no-metadata", "no-entity-id", "numeric-entity-id", "metadata-not-object"],
)
def test_a_body_without_metadata_entity_id_is_422(client, body):
    response = decide(client, body)

    assert_taktile_error(response, 422, "metadata.entity_id")


@pytest.mark.parametrize(
    ("body", "detail_part"),
    [
        (b"{", "not valid JSON"),
        (b"", "not valid JSON"),
        (b"[]", "must be a JSON object"),
        ({"metadata": {"entity_id": "APP-1"}}, "data: field required"),
    ],
    ids=["malformed", "empty", "array", "no-data"],
)
def test_an_unusable_decide_body_is_422(client, body, detail_part):
    response = decide(client, body)

    assert_taktile_error(response, 422, detail_part)


def test_finite_features_that_overflow_the_limit_arithmetic_are_not_a_500(client):
    features = {
        **FEATURES,
        "employer_income_monthly": 1e308,
        "government_income_monthly": 1e308,
        "debt_to_income": 0.6,
    }

    response = decide(client, decide_body("APP-1", features))

    assert_taktile_error(response, 422, "employer_income_monthly")


def test_decide_enforces_the_api_key_when_configured(sample_client):
    client = sample_client(api_key="s3cret")

    missing = decide(client, decide_body())
    wrong = decide(client, decide_body(), headers={"X-Api-Key": "nope"})
    right = decide(client, decide_body(), headers={"X-Api-Key": "s3cret"})

    assert_taktile_error(missing, 401, "x-api-key")
    assert_taktile_error(wrong, 401, "x-api-key")
    assert right.status_code == 200
    assert right.json["metadata"]["entity_id"] == "APP-1"
    assert stats(client)["decisions"] == 1


def _entity_whose_first_call_faults(seed: int, rate: float, kind: str) -> str:
    """The first entity whose first decide call draws ``kind`` and whose second draws nothing."""
    return next(
        entity
        for entity in (f"APP-{n:04d}" for n in range(10_000))
        if fault_draw(seed, "decide", entity, 0, rate, FAULT_KINDS) == kind
        and fault_draw(seed, "decide", entity, 1, rate, FAULT_KINDS) is None
    )


def test_a_too_many_requests_fault_on_decide_is_429_not_401(sample_client):
    entity = _entity_whose_first_call_faults(seed=3, rate=0.5, kind="too_many_requests")
    client = sample_client(fault_rate=0.5, fault_seed=3)

    response = decide(client, decide_body(entity))

    assert_taktile_error(response, 429, "rate limit")
    counters = stats(client)
    assert counters["faults"]["too_many_requests"] == 1
    assert counters["decisions"] == 0


@pytest.mark.parametrize(("kind", "status"), [("500", 500), ("retry_later", 503)])
def test_error_faults_on_decide_answer_the_taktile_error_shape(sample_client, kind, status):
    entity = _entity_whose_first_call_faults(seed=4, rate=0.5, kind=kind)
    client = sample_client(fault_rate=0.5, fault_seed=4)

    response = decide(client, decide_body(entity))
    retried = decide(client, decide_body(entity))

    assert_taktile_error(response, status)
    assert response.json["status"] == status
    assert retried.status_code == 200
    assert retried.json["metadata"]["entity_id"] == entity
