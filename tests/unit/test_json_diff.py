"""The history diff: applying it with a standard RFC 6902 implementation gives the new value."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import jsonpatch
from hypothesis import given, settings
from hypothesis import strategies as st

from kassa import jsonutil

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.decimals(allow_nan=False, allow_infinity=False, places=3, max_value=10**6, min_value=-1),
    st.text(max_size=5),
)
keys = st.text(alphabet="ab/~c", min_size=0, max_size=3)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3),
    max_leaves=12,
)
documents = st.dictionaries(keys, values, max_size=5)


@settings(max_examples=200, deadline=None)
@given(documents, documents)
def test_applying_the_diff_yields_the_new_document(
    old: dict[str, Any], new: dict[str, Any]
) -> None:
    patch = jsonutil.json_diff(old, new)
    result = jsonpatch.apply_patch(old, patch)
    assert jsonutil.json_equal(result, new)
    assert (patch == []) == jsonutil.json_equal(old, new)


def test_diff_descends_into_objects_and_replaces_arrays() -> None:
    old = {"a": {"b": 1, "c": [1, 2]}, "d": "x", "gone": True}
    new = {"a": {"b": 2, "c": [1, 3]}, "d": "x", "new/key": None}
    assert jsonutil.json_diff(old, new) == [
        {"op": "remove", "path": "/gone"},
        {"op": "replace", "path": "/a/b", "value": 2},
        {"op": "replace", "path": "/a/c", "value": [1, 3]},
        {"op": "add", "path": "/new~1key", "value": None},
    ]


def test_json_equality_rules() -> None:
    assert jsonutil.json_equal(Decimal("12.50"), Decimal("12.5"))
    assert jsonutil.json_equal(Decimal("20"), 20)
    assert not jsonutil.json_equal(True, 1)
    assert not jsonutil.json_equal([True], [1])
    assert jsonutil.json_equal({"a": 1, "b": 2}, {"b": 2, "a": 1})
    assert not jsonutil.json_equal({"a": None}, {})
    assert not jsonutil.json_equal("1", 1)
    assert jsonutil.json_diff({"a": Decimal("1.0")}, {"a": 1}) == []
