"""The configuration schemas (adapters §7): JSON Schema 2020-12 files shipped in this package,
and the check of a configuration against them, with the rules a schema cannot say.

Other code uses this registry, never the files: ``schema_for(id)`` gives a schema as a dict,
``schema_bytes(id)`` the text to serve (``MEDIA_TYPE``, ``CACHE_CONTROL``), ``validate(doc)``
the ``FieldError`` list of a configuration (empty when it passes). ``BASE`` names the base
schema (``configuration.json``); ``ADAPTER_SCHEMAS`` the built-in adapters that have one.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterator
from decimal import Decimal
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError

from kassa.errors import field_error

BASE = "configuration"
ADAPTER_SCHEMAS = ("nonpsp_adapter", "kassa_sandbox_psp_adapter", "kassa_sandbox_shipping_adapter")
SCHEMA_IDS = (BASE, *ADAPTER_SCHEMAS)
MEDIA_TYPE = "application/schema+json"
CACHE_CONTROL = "public, max-age=3600"
MAX_ERRORS = 50  # FieldErrors reported for one configuration
MAX_MESSAGE = 300  # characters: messages quote the offending value
_DECIMAL = re.compile(r"Decimal\('([^']*)'\)")

_TEXT: dict[str, bytes] = {
    name: resources.files(__package__).joinpath(f"{name}.json").read_bytes() for name in SCHEMA_IDS
}
_SCHEMAS: dict[str, dict[str, Any]] = {name: json.loads(text) for name, text in _TEXT.items()}


def _is_integer(checker: Any, instance: Any) -> bool:
    # bodies are parsed with exact decimals: 2.0 arrives as Decimal("2.0"), an integer in
    # JSON Schema's data model, as 2.0 is for a float-based validator
    if isinstance(instance, bool):
        return False
    if isinstance(instance, Decimal):
        return instance.is_finite() and instance == instance.to_integral_value()
    return isinstance(instance, int)


def _pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[ValidationError]:
    # JSON Schema patterns are ECMA-262: a final "$" matches only at the very end, where
    # Python's also matches before a final newline ("SE\n" would pass "^[A-Za-z]{2}$")
    if not validator.is_type(instance, "string"):
        return
    ecma = (
        pattern[:-1] + r"\Z" if pattern.endswith("$") and not pattern.endswith("\\$") else pattern
    )
    if re.search(ecma, instance) is None:
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


_Exact = validators.extend(
    Draft202012Validator,
    validators={"pattern": _pattern},
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_integer),
)
_VALIDATORS = {name: _Exact(schema) for name, schema in _SCHEMAS.items()}


def schema_for(schema_id: str) -> dict[str, Any]:
    """A copy of the schema ``schema_id`` (``BASE`` or an adapter id); ``KeyError`` if none."""
    return copy.deepcopy(_SCHEMAS[schema_id])


def schema_bytes(schema_id: str) -> bytes:
    """The schema as served at ``<prefix>/openapi/v1/schemas/<schema_id>.json``."""
    return _TEXT[schema_id]


def schema_id_of(doc: Any) -> str:
    """The schema a configuration must pass: its adapter's when ``id`` names a built-in adapter
    with a schema, whatever ``$schema`` says (adapters §3.1 rule 4); else the base schema."""
    if isinstance(doc, dict):
        adapter = doc.get("id")
        if isinstance(adapter, str) and adapter in ADAPTER_SCHEMAS:
            return adapter
    return BASE


def validate(doc: Any, pointer: str = "") -> list[dict[str, Any]]:
    """The ``FieldError``s of one configuration, paths below ``pointer`` (e.g. ``/1`` in a
    bulk body); empty when it passes."""
    schema_id = schema_id_of(doc)
    errors = sorted(
        (e for error in _VALIDATORS[schema_id].iter_errors(doc) for e in _field_errors(error)),
        key=lambda e: (e["path"], e["message"]),
    )
    if not errors:
        errors = list(_EXTRA_RULES.get(schema_id, _none)(doc))
    unique: dict[tuple[str, str], dict[str, Any]] = {}
    for error in errors:
        error["path"] = pointer + error["path"]
        unique.setdefault((error["path"], error["message"]), error)
    return list(unique.values())[:MAX_ERRORS]


def _escape(part: object) -> str:
    return str(part).replace("~", "~0").replace("/", "~1")


def _pointer(parts: Any) -> str:
    return "".join("/" + _escape(p) for p in parts)


def _field_errors(error: ValidationError) -> Iterator[dict[str, Any]]:
    path = _pointer(error.absolute_path)
    if error.validator == "required" and isinstance(error.instance, dict):
        # one error per missing member, pointing at the member
        for name in error.validator_value:
            if name not in error.instance:
                yield field_error(f"{path}/{_escape(name)}", "required property missing")
        return
    yield field_error(path, _message(error.message))


def _message(text: str) -> str:
    # jsonschema quotes the instance with repr(): show exact decimals as JSON shows them
    text = _DECIMAL.sub(r"\1", text)
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"


# The rules beyond the schemas (adapters §7.2, §7.4); they see documents that passed them.


def _none(doc: Any) -> Iterator[dict[str, Any]]:
    return iter(())


def _nonpsp(doc: dict[str, Any]) -> Iterator[dict[str, Any]]:
    seen: set[str] = set()
    preselected = 0
    for i, method in enumerate(doc.get("methods", ())):
        identifier = method["identifier"]
        if identifier in seen:
            yield field_error(f"/methods/{i}/identifier", f"duplicate identifier {identifier!r}")
        seen.add(identifier)
        if method.get("preSelected") is True:
            preselected += 1
            if preselected > 1:
                yield field_error(
                    f"/methods/{i}/preSelected", "at most one method may be preSelected"
                )


def _shipping(doc: dict[str, Any]) -> Iterator[dict[str, Any]]:
    seen: set[str] = set()
    for i, option in enumerate(doc["options"]):
        if option["id"] in seen:
            yield field_error(f"/options/{i}/id", f"duplicate option id {option['id']!r}")
        seen.add(option["id"])
    default = doc.get("defaultOption")
    if default is not None and default not in seen:
        yield field_error("/defaultOption", f"no option has the id {default!r}")


_EXTRA_RULES: dict[str, Callable[[Any], Iterator[dict[str, Any]]]] = {
    "nonpsp_adapter": _nonpsp,
    "kassa_sandbox_shipping_adapter": _shipping,
}
