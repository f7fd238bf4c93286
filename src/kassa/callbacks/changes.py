"""Change detection shared by hooks and notifications (semantics §4.2).

``value_at(doc, pointer)`` is the value at an RFC 6901 pointer, or ``ABSENT`` when the pointer
does not resolve. Registered paths never go below an array of the Order schema (§5.1), so a
segment that meets an array (for example inside ``attributes``) makes the value absent.
``lastModified`` is never part of a change.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from kassa import jsonutil


class _Absent:
    __slots__ = ()

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT: Final = _Absent()


def segments(pointer: str) -> list[str]:
    if pointer == "":
        return []
    return [s.replace("~1", "/").replace("~0", "~") for s in pointer[1:].split("/")]


def value_at(doc: Mapping[str, Any] | None, pointer: str) -> Any:
    if doc is None:
        return ABSENT
    parts = segments(pointer)
    if parts and parts[0] == "lastModified":
        return ABSENT
    current: Any = doc
    for part in parts:
        if not isinstance(current, dict) or part not in current:
            return ABSENT
        current = current[part]
    return current


def changed(
    before: Mapping[str, Any] | None, after: Mapping[str, Any] | None, pointer: str
) -> bool:
    old, new = value_at(before, pointer), value_at(after, pointer)
    if old is ABSENT or new is ABSENT:
        return old is not new
    return not jsonutil.json_equal(old, new)
