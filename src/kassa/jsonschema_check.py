"""Checks a notification ``schema`` is a usable JSON Schema 2020-12 without remote references."""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from kassa import jsonutil


def _refs(value: Any) -> list[str]:
    found: list[str] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, sub in item.items():
                if key in {"$ref", "$dynamicRef"} and isinstance(sub, str):
                    found.append(sub)
                else:
                    stack.append(sub)
        elif isinstance(item, list):
            stack.extend(item)
    return found


# answers by canonical schema text: adapters register the same few schemas on every order, and
# checking one against the meta-schema costs more than the rest of the request
_ANSWERS: dict[bytes, str | None] = {}
_MAX_ANSWERS = 512


def schema_problem(schema: dict[str, Any]) -> str | None:
    key = jsonutil.canonical(schema)
    try:
        return _ANSWERS[key]
    except KeyError:
        pass
    problem = _problem(schema)
    if len(_ANSWERS) >= _MAX_ANSWERS:
        _ANSWERS.clear()
    _ANSWERS[key] = problem
    return problem


def _problem(schema: dict[str, Any]) -> str | None:
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        return str(exc.message)
    for ref in _refs(schema):
        if not ref.startswith("#"):
            return f"non-local $ref {ref!r} is not allowed"
    return None
