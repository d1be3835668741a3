"""A response body validated as one JSON object without building its members."""

from __future__ import annotations

import orjson
import pytest

from credit_scoring.ingestion.json_object import (
    JsonObject,
    NotAnObjectError,
    NotJsonError,
    json_kind,
)

BODY = {
    "HttpStatusCode": 200,
    "RequestId": "req-1",
    "Accounts": [{"Id": "acc-1", "Transactions": [{"Id": "t1", "Debit": 12.5}]}],
    "Login": {"Id": "login-1"},
}


def test_members_read_back_as_orjson_builds_them():
    parsed = JsonObject.parse(orjson.dumps(BODY, option=orjson.OPT_INDENT_2))

    assert dict(parsed) == BODY
    assert parsed["RequestId"] == "req-1"
    assert parsed.get("Message") is None
    assert "Accounts" in parsed
    assert "Message" not in parsed
    assert len(parsed) == 4


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ([], "an array"),
        ({}, "an object"),
        ("text", "a string"),
        (True, "a boolean"),
        (False, "a boolean"),
        (None, "null"),
        (0, "a number"),
        (-1.5, "a number"),
    ],
)
def test_a_member_is_typed_from_its_text_without_decoding_it(value, kind):
    parsed = JsonObject.parse(orjson.dumps({"Accounts": value}))

    assert parsed.kind("Accounts") == kind
    assert parsed.kind("Missing") is None


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"not json",
        b'{"Accounts": [1, 2,, 3]}',  # an error deep inside a member that is never decoded
        b'{"Accounts": [], "Login": {"Id": tru}}',
        b'{"Accounts": [{"Description": "\\q"}]}',  # a bad escape
        b'{"Accounts": []} trailing',
        orjson.dumps(BODY)[:-10],  # truncated
        b'{"Accounts": [], "Name": "caf\xe9"}',  # Latin-1, not UTF-8, inside a skipped string
        b'{"Accounts": [], "Name": "\xff\xfe"}',
        b"[1,,2]",  # neither JSON nor an object: "not JSON" wins
        b'{"deep": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    ],
)
def test_anything_but_one_json_value_in_utf8_is_not_json(raw):
    with pytest.raises(NotJsonError):
        JsonObject.parse(raw)


@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        (b"[]", "an array"),
        (b'  "text"', "a string"),
        (b"42", "a number"),
        (b"null", "null"),
        (b"true", "a boolean"),
    ],
)
def test_json_that_is_not_an_object_says_what_it_is(raw, kind):
    with pytest.raises(NotAnObjectError, match=f"expected a JSON object, got {kind}") as caught:
        JsonObject.parse(raw)

    assert caught.value.kind == kind


def test_utf8_beyond_ascii_is_json():
    parsed = JsonObject.parse('{"Description": "Café à Montréal ✓"}'.encode())

    assert parsed["Description"] == "Café à Montréal ✓"


def test_json_kind_skips_leading_whitespace():
    assert json_kind(b" \n\t[1]") == "an array"
    assert json_kind(b"") == "nothing"
