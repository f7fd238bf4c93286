"""Change detection of ``kassa.callbacks.changes`` (semantics §7.1-7.3): the value at a scope and
whether it changed."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from kassa.callbacks.changes import ABSENT, changed, value_at


def test_value_at_and_changed() -> None:
    doc = {"a": {"b~/c": 1, "list": [1, 2]}, "lastModified": "x"}
    assert value_at(doc, "/a/b~0~1c") == 1
    assert value_at(doc, "/a/list/0") is ABSENT  # a segment meeting an array
    assert value_at(doc, "/lastModified") is ABSENT
    assert value_at(None, "/a") is ABSENT
    assert changed({"n": 1}, {"n": Decimal("1.00")}, "/n") is False
    assert changed({"o": {"x": 1, "y": 2}}, {"o": {"y": 2, "x": 1}}, "/o") is False
    assert changed({}, {"n": None}, "/n") is True
    assert changed({"l": [1, 2]}, {"l": [2, 1]}, "/l") is True
    assert changed({"lastModified": "a"}, {"lastModified": "b"}, "/lastModified") is False


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=8,
)


@given(st.dictionaries(st.sampled_from(["a", "b"]), _json), _json)
def test_changed_is_symmetric_and_reflexive(doc: dict[str, Any], value: Any) -> None:
    other = {**doc, "a": value}
    assert changed(doc, doc, "/a") is False
    assert changed(doc, other, "/a") == changed(other, doc, "/a")
