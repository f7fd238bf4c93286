"""JSON in and out (api §1.6-1.7, §1.12) of ``kassa.jsonutil``: exact decimals, depth and
encoding rules, canonical numbers and round trips."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kassa import jsonutil
from kassa.jsonutil import JSONError

# --- JSON in ------------------------------------------------------------------------------------


def test_parse_body_decimals_exact() -> None:
    value = jsonutil.parse_body(b'{"a": 0.1, "b": 987.20, "c": 10, "d": 1E+2, "e": -0.0}')
    assert value["a"] == Decimal("0.1")
    assert isinstance(value["a"], Decimal)
    assert value["b"] == Decimal("987.20")
    assert isinstance(value["b"], Decimal)
    assert value["c"] == 10
    assert isinstance(value["c"], int)
    assert value["d"] == 100
    assert not isinstance(value["d"], float)
    assert value["e"] == 0
    assert not isinstance(value["e"], float)


def test_parse_body_point_one_is_exact_decimal() -> None:
    value = jsonutil.parse_body(b"0.1")
    assert isinstance(value, Decimal)
    assert value == Decimal("0.1")
    assert value != Decimal(float("0.1"))  # the binary float 0.1 is a different number
    total = jsonutil.parse_body(b"[0.1, 0.2]")
    assert total[0] + total[1] == Decimal("0.3")


def test_parse_body_many_digits_exact() -> None:
    text = "123456789012345678901234567890.123456789"
    assert jsonutil.parse_body(text.encode()) == Decimal(text)
    assert jsonutil.parse_body(b"123456789012345678901234567890") == 123456789012345678901234567890


@pytest.mark.parametrize(
    "raw",
    [b"NaN", b"Infinity", b"-Infinity", b'{"a": NaN}', b"[1, Infinity]", b'{"a": -Infinity}'],
)
def test_parse_body_rejects_non_finite(raw: bytes) -> None:
    with pytest.raises(JSONError):
        jsonutil.parse_body(raw)


def nested(depth: int, kind: str) -> bytes:
    if kind == "list":
        return b"[" * depth + b"]" * depth
    return b'{"a":' * (depth - 1) + b"{}" + b"}" * (depth - 1)


@pytest.mark.parametrize("kind", ["list", "object"])
def test_parse_body_depth_64_ok_65_rejected(kind: str) -> None:
    jsonutil.parse_body(nested(64, kind))
    with pytest.raises(JSONError):
        jsonutil.parse_body(nested(65, kind))


def test_parse_body_mixed_depth() -> None:
    ok = b'{"a":' + b"[" * 63 + b"]" * 63 + b"}"
    jsonutil.parse_body(ok)
    deep = b'{"a":' + b"[" * 64 + b"]" * 64 + b"}"
    with pytest.raises(JSONError):
        jsonutil.parse_body(deep)


def test_parse_body_very_deep_is_json_error_not_crash() -> None:
    with pytest.raises(JSONError):
        jsonutil.parse_body(b"[" * 100_000 + b"]" * 100_000)


@pytest.mark.parametrize("raw", [b'{"a": "\xff"}', b"\xc3\x28", '"värde"'.encode("latin-1")])
def test_parse_body_rejects_non_utf8(raw: bytes) -> None:
    with pytest.raises(JSONError):
        jsonutil.parse_body(raw)


def test_parse_body_utf8_text_round_trips() -> None:
    value = jsonutil.parse_body('{"k": "värde"}'.encode())
    assert value == {"k": "värde"}
    assert json.loads(jsonutil.dumps(value)) == {"k": "värde"}


@pytest.mark.parametrize("raw", [b"", b"{", b'{"a": 1,}', b"[1 2]", b"{'a': 1}"])
def test_parse_body_rejects_malformed(raw: bytes) -> None:
    with pytest.raises(JSONError):
        jsonutil.parse_body(raw)


# --- JSON out -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("987.20"), b"987.2"),
        (Decimal("20.0"), b"20"),
        (Decimal("20"), b"20"),
        (Decimal("12.5"), b"12.5"),
        (Decimal("1E+2"), b"100"),
        (Decimal("1.0E+2"), b"100"),
        (Decimal("-0"), b"0"),
        (Decimal("-0.00"), b"0"),
        (Decimal("0.000"), b"0"),
        (Decimal("0.000001"), b"0.000001"),
        (Decimal("1E-7"), b"0.0000001"),
        (Decimal("-12.50"), b"-12.5"),
        (Decimal("999999999999999.999999"), b"999999999999999.999999"),
        (20, b"20"),
    ],
)
def test_dumps_canonical_numbers(value: Any, text: bytes) -> None:
    assert jsonutil.dumps(value) == text
    assert jsonutil.dumps({"n": value}) == b'{"n":' + text + b"}"


CANONICAL_NUMBER = re.compile(rb"^-?(0|[1-9][0-9]*)(\.[0-9]*[1-9])?$")


@pytest.mark.parametrize("value", [2**63, 2**64 + 1, -(2**63) - 1, -(10**27) - 7, 10**30 + 1])
def test_dumps_huge_integers_round_trip(value: int) -> None:
    text = jsonutil.dumps(value)
    assert CANONICAL_NUMBER.match(text), text
    assert int(text) == value
    assert jsonutil.loads(jsonutil.dumps({"big": [value]})) == {"big": [value]}


def test_dumps_never_rounds_long_decimals() -> None:
    # more significant digits than the default decimal context (28) holds
    text = "1.0000000000000000000000000000001"
    out = jsonutil.dumps(Decimal(text))
    assert CANONICAL_NUMBER.match(out), out
    assert Decimal(out.decode()) == Decimal(text)


def test_dumps_rejects_non_finite_decimal() -> None:
    with pytest.raises(TypeError):
        jsonutil.dumps(Decimal("NaN"))
    with pytest.raises(TypeError):
        jsonutil.dumps([Decimal("Infinity")])


def test_dumps_equal_decimals_one_form_whatever_was_encoded_before() -> None:
    # encoded forms are remembered by value: equal values written differently share one
    for first, second in [("0.250", "0.25"), ("1E+2", "100.00"), ("-0.0", "0")]:
        assert jsonutil.dumps(Decimal(first)) == jsonutil.dumps(Decimal(second))
    assert jsonutil.dumps([Decimal("0.25"), Decimal("0.250")]) == b"[0.25,0.25]"
    assert jsonutil.dumps(Decimal("1E+2")) == b"100"
    # non-finite values are refused also after finite ones were remembered
    for bad in ("NaN", "sNaN", "-Infinity"):
        with pytest.raises(TypeError):
            jsonutil.dumps({"a": Decimal("1"), "b": Decimal(bad)})


@given(st.lists(st.decimals(allow_nan=False, allow_infinity=False), max_size=20))
def test_dumps_remembered_forms_match_the_computed_ones(values: list[Decimal]) -> None:
    expected = b"[" + b",".join(jsonutil.canonical_decimal(v).encode() for v in values) + b"]"
    assert jsonutil.dumps(values) == expected
    assert jsonutil.dumps(values) == expected  # again, every form now remembered


def test_loads_exact() -> None:
    assert jsonutil.loads(b'{"a": 0.1}') == {"a": Decimal("0.1")}
    assert isinstance(jsonutil.loads("1.5"), Decimal)


def test_canonical_and_json_equal() -> None:
    a = {"b": [Decimal("12.50"), {"y": 1, "x": 2}], "a": Decimal("1E+2")}
    b = {"a": 100, "b": [Decimal("12.5"), {"x": 2, "y": 1}]}
    assert jsonutil.canonical(a) == jsonutil.canonical(b)
    assert jsonutil.canonical(a) == b'{"a":100,"b":[12.5,{"x":2,"y":1}]}'
    assert jsonutil.json_equal(a, b)
    assert not jsonutil.json_equal({"a": Decimal("12.5")}, {"a": Decimal("12.51")})
    assert not jsonutil.json_equal([1, 2], [2, 1])


# any finite decimal, any number of digits: every JSON number must read back equal (api §1.7)
finite_decimals = st.decimals(allow_nan=False, allow_infinity=False)
# up to 21 significant digits in varied spellings (1E+5, 12.500, -0.0): the structural properties
# below should not depend on the long-number case, which test_decimal_round_trip_property covers
spelled_decimals = st.builds(
    lambda digits, exponent: Decimal(digits).scaleb(exponent),
    st.integers(min_value=-(10**21) + 1, max_value=10**21 - 1),
    st.integers(min_value=-12, max_value=12),
)
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**27), max_value=10**27),
    spelled_decimals,
    st.text(max_size=20),
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.dictionaries(st.text(max_size=8), children, max_size=5),
    ),
    max_leaves=25,
)


def numerically_equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool) or a is None or b is None:
        return a is b
    if isinstance(a, int | Decimal) and isinstance(b, int | Decimal):
        return not isinstance(a, float) and not isinstance(b, float) and Decimal(a) == Decimal(b)
    if isinstance(a, str) and isinstance(b, str):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(numerically_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(numerically_equal(a[k], b[k]) for k in a)
    return False


@given(finite_decimals)
@settings(max_examples=200, deadline=None)
def test_decimal_round_trip_property(value: Decimal) -> None:
    text = jsonutil.dumps(value)
    assert CANONICAL_NUMBER.match(text), text
    back = jsonutil.loads(text)
    assert not isinstance(back, float)
    assert back == value


@given(json_values)
@settings(max_examples=150, deadline=None)
def test_json_round_trip_property(value: Any) -> None:
    back = jsonutil.loads(jsonutil.dumps(value))
    assert numerically_equal(back, value)
    # parse_body accepts what dumps writes (depth permitting) with the same result
    assert numerically_equal(jsonutil.parse_body(jsonutil.dumps(value)), value)


def reorder(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: reorder(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [reorder(v) for v in value]
    if isinstance(value, Decimal) and value.is_finite() and not value.is_zero():
        # same number, different spelling: one more trailing zero (exact, no context rounding)
        sign, digits, exponent = value.as_tuple()
        assert isinstance(exponent, int)
        return Decimal((sign, (*digits, 0), exponent - 1))
    return value


@given(json_values)
@settings(max_examples=150, deadline=None)
def test_canonical_ignores_key_order_and_spelling(value: Any) -> None:
    other = reorder(value)
    assert jsonutil.canonical(other) == jsonutil.canonical(value)
    assert jsonutil.json_equal(other, value)


# --- the fast parser agrees with the standard library's -------------------------------------------


def _stdlib_outcome(raw: bytes) -> tuple[str, Any]:
    """What parsing gave before the fast path: the stdlib decoder's value, or its error."""
    try:
        return "value", jsonutil._parse_slowly(raw)
    except JSONError as exc:
        return "error", str(exc)


def _outcome(raw: bytes) -> tuple[str, Any]:
    try:
        return "value", jsonutil.parse_body(raw)
    except JSONError as exc:
        return "error", str(exc)


def same_json(a: Any, b: Any) -> bool:
    """Equal as values and as types: Decimal digits and exponent included."""
    if type(a) is not type(b):
        return False
    if isinstance(a, Decimal):
        return bool(a.as_tuple() == b.as_tuple())
    if isinstance(a, list):
        return len(a) == len(b) and all(same_json(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same_json(a[k], b[k]) for k in a)
    return bool(a == b)


number_texts = st.from_regex(
    r"-?(0|[1-9][0-9]{0,30})(\.[0-9]{1,30})?([eE][+-]?[0-9]{1,4})?", fullmatch=True
)
json_texts = st.recursive(
    st.one_of(number_texts, st.sampled_from(["true", "false", "null", '"a"', '"\\ud800"', "NaN"])),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4).map(lambda xs: "[" + ",".join(xs) + "]"),
        st.lists(st.tuples(st.sampled_from(["a", "b", "é"]), inner), max_size=4).map(
            lambda kv: "{" + ",".join(f'"{k}" : {v}' for k, v in kv) + "}"
        ),
    ),
    max_leaves=12,
)


@given(
    json_texts, st.sampled_from(["", " ", "\ufeff", "\n\t"]), st.sampled_from(["", " ", "x", ","])
)
@settings(max_examples=300, deadline=None)
def test_fast_parse_matches_stdlib(text: str, before: str, after: str) -> None:
    raw = (before + text + after).encode()
    fast, slow = _outcome(raw), _stdlib_outcome(raw)
    assert fast[0] == slow[0], (raw, fast, slow)
    if fast[0] == "value":
        assert same_json(fast[1], slow[1]), (raw, fast, slow)
        if not before:  # stored documents never start with a BOM
            assert same_json(jsonutil.loads(raw), slow[1])
    else:
        assert fast[1] == slow[1]


@given(st.binary(max_size=40))
@settings(max_examples=300, deadline=None)
def test_fast_parse_matches_stdlib_on_any_bytes(raw: bytes) -> None:
    fast, slow = _outcome(raw), _stdlib_outcome(raw)
    assert fast[0] == slow[0], (raw, fast, slow)
    if fast[0] == "value":
        assert same_json(fast[1], slow[1]), (raw, fast, slow)


def confuse(value: Any, data: st.DataObject) -> Any:
    """``value`` with some numbers and booleans swapped for their look-alikes (1 ↔ true,
    0 ↔ false, 12.5 ↔ 12.50), the cases where Python's ``==`` and JSON equality part."""
    if isinstance(value, dict):
        return {k: confuse(v, data) for k, v in value.items()}
    if isinstance(value, list):
        return [confuse(v, data) for v in value]
    if not data.draw(st.booleans()):
        return value
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, Decimal):
        return reorder(value)
    return value


@given(json_values, st.data())
@settings(max_examples=300, deadline=None)
def test_json_equal_fast_path_agrees_with_the_walk(value: Any, data: st.DataObject) -> None:
    other = confuse(value, data)
    for a, b in ((value, other), (other, value), (value, reorder(value)), ([value], [other])):
        assert jsonutil.json_equal(a, b) == jsonutil._walk_equal(a, b), (a, b)
    assert not jsonutil.json_equal({"a": [True]}, {"a": [1]})
    assert not jsonutil.json_equal([False, 2], [0, 2])
    assert jsonutil.json_equal({"a": [Decimal("1.0"), True]}, {"a": [1, True]})
