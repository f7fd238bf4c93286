"""JSON text in and out, numbers exact.

Request bodies are parsed with every fraction as ``Decimal`` (never ``float``); ``NaN`` and
``Infinity`` are refused; nesting deeper than 64 is refused. Output goes through orjson, with
``Decimal`` written in the canonical form of api §1.7 (no exponent, no trailing zeros, ``-0`` as
``0``).
"""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from typing import Any

import msgspec
import orjson

MAX_DEPTH = 64
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


class JSONError(ValueError):
    """The text is not acceptable JSON."""


def _no_constants(name: str) -> Any:
    raise JSONError(f"{name} is not a JSON number")


_decoder = json.JSONDecoder(parse_float=Decimal, parse_constant=_no_constants)
# The fast path: the same values as ``_decoder`` for every text both accept (each fraction is
# handed to ``Decimal`` as written). What it refuses (a BOM, lone surrogates, NaN, deep nesting,
# malformed text) goes to ``_decoder``, which accepts it or says why not, as before.
_fast = msgspec.json.Decoder(float_hook=Decimal)


def canonical_decimal(value: Decimal) -> str:
    if value.is_zero():
        return "0"
    # fixed-point notation of a Decimal is exact (no context, no rounding); then the trailing
    # zeros of the fraction go
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


# the encoded form of recent Decimal values: an order's amounts and rates recur in every
# encoding of it (equal values have one canonical form, so the value is the key)
_FRAGMENTS: dict[Decimal, orjson.Fragment] = {}
_FRAGMENTS_MAX = 4096


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        fragment = _FRAGMENTS.get(value) if not value.is_nan() else None
        if fragment is None:
            if not value.is_finite():
                raise TypeError("non-finite number")
            fragment = orjson.Fragment(canonical_decimal(value).encode())
            if len(_FRAGMENTS) >= _FRAGMENTS_MAX:
                _FRAGMENTS.clear()
            _FRAGMENTS[value] = fragment
        return fragment
    raise TypeError(f"cannot encode {type(value).__name__}")


def _widen_big_ints(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return Decimal(value) if not _INT64_MIN <= value <= _INT64_MAX else value
    if isinstance(value, dict):
        return {k: _widen_big_ints(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_widen_big_ints(v) for v in value]
    return value


def dumps(value: Any, *, sort_keys: bool = False) -> bytes:
    option = orjson.OPT_SORT_KEYS if sort_keys else 0
    try:
        return orjson.dumps(value, default=_default, option=option)
    except orjson.JSONEncodeError:
        # Integers beyond 64 bits are legal JSON; orjson refuses them, so write them as decimals.
        return orjson.dumps(_widen_big_ints(value), default=_default, option=option)


def loads(text: str | bytes) -> Any:
    """Parse trusted JSON (stored documents) with exact decimals."""
    try:
        return _fast.decode(text)
    except (ValueError, RecursionError):
        pass
    if isinstance(text, bytes):
        text = text.decode()
    return _decoder.decode(text)


def copy_json(value: Any) -> Any:
    """A deep copy of a JSON value (dicts, lists and immutable scalars), many times faster than
    ``copy.deepcopy``, which it falls back to for anything else."""
    if isinstance(value, dict):
        return {k: copy_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [copy_json(v) for v in value]
    if value is None or isinstance(value, str | int | float | Decimal | bool):
        return value
    return copy.deepcopy(value)


def check_depth(value: Any, limit: int = MAX_DEPTH) -> None:
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            if depth > limit:
                raise JSONError(f"JSON nesting deeper than {limit}")
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            if depth > limit:
                raise JSONError(f"JSON nesting deeper than {limit}")
            stack.extend((v, depth + 1) for v in item)


def parse_body(raw: bytes) -> Any:
    """Parse a request body; raise ``JSONError`` with a readable message when it is not JSON."""
    try:
        value = _fast.decode(raw)
    except (ValueError, RecursionError):
        return _parse_slowly(raw)
    if raw.count(b"[") + raw.count(b"{") > MAX_DEPTH:  # else it cannot nest that deep
        check_depth(value)
    return value


def _parse_slowly(raw: bytes) -> Any:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise JSONError("the body is not UTF-8") from exc
    if text.startswith("\ufeff"):
        text = text[1:]
    try:
        value = _decoder.decode(text)
    except RecursionError as exc:
        raise JSONError(f"JSON nesting deeper than {MAX_DEPTH}") from exc
    except json.JSONDecodeError as exc:
        raise JSONError(
            f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from exc
    check_depth(value)
    return value


def canonical(value: Any) -> bytes:
    """Sorted keys, no whitespace, canonical numbers: equal JSON values give equal bytes."""
    return dumps(value, sort_keys=True)


def json_equal(a: Any, b: Any) -> bool:
    """JSON equality: numbers by value (``12.50`` equals ``12.5``), ``true`` is not ``1``,
    objects regardless of key order, arrays element by element."""
    if a is b:
        return True
    if isinstance(a, dict | list) and type(a) is type(b):
        # Equal JSON values are equal Python values, so ``!=`` rules out most differences at
        # C speed; Python's ``==`` also takes ``true`` for ``1``, which the canonical texts
        # (sorted keys, canonical numbers) do not
        if a != b:
            return False
        try:
            return canonical(a) == canonical(b)
        except TypeError:  # not JSON (a non-finite number...): compare it the long way
            return _walk_equal(a, b)
    return _walk_equal(a, b)


def _walk_equal(a: Any, b: Any) -> bool:
    if a is b:
        return True
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | Decimal) and isinstance(b, int | Decimal):
        return bool(a == b)
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_walk_equal(v, b[k]) for k, v in a.items())
    if isinstance(a, list):
        return len(a) == len(b) and all(_walk_equal(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _escape(key: str) -> str:
    if "~" not in key and "/" not in key:
        return key
    return key.replace("~", "~0").replace("/", "~1")


_PLAIN = (str, bool, type(None))  # equal as JSON exactly when equal as Python values


def json_diff(old: Any, new: Any, path: str = "") -> list[dict[str, Any]]:
    """An RFC 6902 patch that turns ``old`` into ``new``.

    Objects are compared key by key; anything else that differs (arrays included) is replaced
    as a whole, which keeps the diff linear and the patch easy to read.
    """
    ops: list[dict[str, Any]] = []
    if isinstance(old, dict) and isinstance(new, dict):
        _diff_objects(old, new, path, ops)
    elif not json_equal(old, new):
        ops.append({"op": "replace", "path": path, "value": new})
    return ops


def _diff_objects(
    old: dict[str, Any], new: dict[str, Any], path: str, ops: list[dict[str, Any]]
) -> None:
    for key in old:
        if key not in new:
            ops.append({"op": "remove", "path": f"{path}/{_escape(key)}"})
    for key, value in new.items():
        if key not in old:
            ops.append({"op": "add", "path": f"{path}/{_escape(key)}", "value": value})
            continue
        before = old[key]
        if before is value:
            continue
        if isinstance(before, dict) and isinstance(value, dict):
            _diff_objects(before, value, f"{path}/{_escape(key)}", ops)
            continue
        kind = type(before)
        if kind is type(value) and kind in _PLAIN:
            same = before == value
        else:
            same = json_equal(before, value)
        if not same:
            ops.append({"op": "replace", "path": f"{path}/{_escape(key)}", "value": value})
