"""Checks a notification ``schema`` is a usable JSON Schema 2020-12 without remote references."""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError


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


def schema_problem(schema: dict[str, Any]) -> str | None:
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        return str(exc.message)
    for ref in _refs(schema):
        if not ref.startswith("#"):
            return f"non-local $ref {ref!r} is not allowed"
    return None
