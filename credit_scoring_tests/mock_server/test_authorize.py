"""The mock's Authorize route: a session per call, Flinks' errors for unknown logins and
unusable bodies."""

from __future__ import annotations

import uuid

import pytest

from credit_scoring_tests.mock_server.helpers import (
    SAMPLE_APPLICATIONS,
    SAMPLE_LOGIN,
    UNKNOWN_LOGIN,
    assert_flinks_error,
    authorize,
    flinks,
)


def test_authorize_answers_200_with_login_institution_and_request_id(client):
    response = flinks(client, "Authorize", {"LoginId": SAMPLE_LOGIN, "MostRecentCached": True})

    assert response.status_code == 200
    body = response.json
    assert body["HttpStatusCode"] == 200
    assert body["Login"]["Id"] == SAMPLE_LOGIN
    assert body["Login"]["LastRefresh"] == SAMPLE_APPLICATIONS[0]["applied_at"].rstrip("Z")
    assert isinstance(body["Institution"], str)
    assert body["Institution"]
    assert uuid.UUID(body["RequestId"])


def test_each_authorize_opens_a_new_request_id(client):
    assert authorize(client) != authorize(client)


def test_unknown_login_is_401_invalid_login(client):
    response = flinks(client, "Authorize", {"LoginId": UNKNOWN_LOGIN})

    assert_flinks_error(response, 401, "INVALID_LOGIN", UNKNOWN_LOGIN)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"LoginId": ', "not valid JSON"),
        (b"", "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        ([SAMPLE_LOGIN], "must be a JSON object"),
        ("just a string", "must be a JSON object"),
        ({}, "LoginId is required"),
        ({"LoginId": ""}, "LoginId is required"),
        ({"LoginId": 42}, "LoginId must be a string"),
    ],
    ids=["malformed", "empty", "not-utf8", "array", "string", "missing", "blank", "number"],
)
def test_an_unusable_authorize_body_is_a_clear_400_never_a_500(client, body, message):
    response = flinks(client, "Authorize", body)

    assert_flinks_error(response, 400, "INVALID_REQUEST", message)
