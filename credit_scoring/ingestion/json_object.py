"""A JSON object validated whole, whose members are decoded only when read.

The fetch lands a day's GetAccountsDetail answers in bronze unchanged; it must know that each
body is well-formed JSON, an object, with an ``Accounts`` array, but it never reads a
transaction (silver does, in DuckDB). Building every body as Python objects to learn that
(``orjson.loads``) cost about 2.4 CPU seconds on a day of 2M transactions, a fifth of the fetch.
msgspec checks the same bytes against the JSON grammar without building them, keeping each
top-level member as its raw JSON text (``msgspec.Raw``), about ten times faster; a member is
decoded when something reads it (an error body's ``Message``, Authorize's ``RequestId``).

What counts as JSON is what it was: UTF-8 text (a body that is not is refused, as orjson
refused it), one value, nothing after it. msgspec accepts a few numbers orjson refused (``1e999``,
integers beyond 64 bits): they are valid JSON, and silver's validation judges the values.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import msgspec

#: A JSON object's members, each kept as its raw JSON text: the whole body is validated, no
#: member is built.
_MEMBERS = msgspec.json.Decoder(dict[str, msgspec.Raw])
#: One JSON value of any type, validated and kept raw (to tell "not JSON" from "not an object").
_ANY = msgspec.json.Decoder(msgspec.Raw)
#: The type of a JSON value by its first byte (after any whitespace).
_KINDS = {ord("{"): "an object", ord("["): "an array", ord('"'): "a string", ord("t"): "a boolean"}
_KINDS |= {ord("f"): "a boolean", ord("n"): "null"}


class NotJsonError(ValueError):
    """The bytes are not one JSON value in UTF-8."""


class NotAnObjectError(ValueError):
    """The bytes are JSON but not an object; ``kind`` names what they are ("an array")."""

    def __init__(self, kind: str) -> None:
        super().__init__(f"expected a JSON object, got {kind}")
        self.kind = kind


def json_kind(text: bytes | memoryview) -> str:
    """The type of the JSON value ``text`` (already validated), as a message names it."""
    head = bytes(text[:64]).lstrip()[:1]
    return _KINDS.get(head[0], "a number") if head else "nothing"


def _check_utf8(raw: bytes) -> None:
    """Refuse bytes that are not UTF-8 (the grammar check skips over strings' contents)."""
    if raw.isascii():  # the usual case, at memory speed
        return
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NotJsonError(f"not UTF-8 ({exc.reason} at byte {exc.start})") from None


class JsonObject(Mapping[str, Any]):
    """A validated JSON object; reading a member decodes that member alone."""

    __slots__ = ("_members",)

    def __init__(self, members: dict[str, msgspec.Raw]) -> None:
        self._members = members

    @classmethod
    def parse(cls, raw: bytes) -> JsonObject:
        """Validate ``raw`` as one JSON object; :class:`NotJsonError` or
        :class:`NotAnObjectError` say why not."""
        _check_utf8(raw)
        try:
            return cls(_MEMBERS.decode(raw))
        except msgspec.ValidationError:
            pass  # not an object, or not JSON at all: the whole value says which
        except (msgspec.DecodeError, RecursionError) as exc:
            raise NotJsonError(str(exc)) from None
        try:
            value = _ANY.decode(raw)
        except (msgspec.DecodeError, RecursionError) as exc:
            raise NotJsonError(str(exc)) from None
        raise NotAnObjectError(json_kind(memoryview(value)))

    def kind(self, key: str) -> str | None:
        """The JSON type of member ``key`` ("an array", "null"...), None when it is absent."""
        raw = self._members.get(key)
        return None if raw is None else json_kind(memoryview(raw))

    def __getitem__(self, key: str) -> Any:
        return msgspec.json.decode(self._members[key])

    def __contains__(self, key: object) -> bool:
        return key in self._members

    def __iter__(self) -> Iterator[str]:
        return iter(self._members)

    def __len__(self) -> int:
        return len(self._members)

    def __repr__(self) -> str:
        return f"JsonObject(members={sorted(self._members)})"
