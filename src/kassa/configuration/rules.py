"""The write rules of configurations (adapters §3.1), pure: a request body in, the documents to
store out, or the error of the first rule broken.

A configuration is stored as sent (key order kept, numbers canonical, api §1.7), so the text
made here is what C5 answers byte for byte.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from kassa import jsonutil
from kassa.configuration import schemas
from kassa.errors import InvalidConfiguration, InvalidRequest, LimitExceeded, field_error

NAME = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
MAX_BYTES = 262_144  # one configuration, as stored
MAX_PER_CHANNEL = 100


@dataclass(frozen=True)
class Configuration:
    """One configuration to store: its name (``id``) and its text."""

    name: str
    text: str


def valid_name(name: str) -> bool:
    return NAME.fullmatch(name) is not None


def one(body: Any, name: str) -> Configuration:
    """The configuration of C6 (``name`` from the path): 400 ``invalid-request`` for a body that
    is not an object, ``invalid-configuration``, ``limit-exceeded`` (size)."""
    if not isinstance(body, dict):
        raise InvalidRequest(
            "The body must be a JSON object.", errors=[field_error("", "expected an object")]
        )
    errors = schemas.validate(body)
    if not errors and body["id"] != name:
        errors = [field_error("/id", f"must equal the configuration name {name!r}")]
    _raise_invalid(errors)
    return _sized(body, "")


def many(body: Any) -> list[Configuration]:
    """The configurations of C3, in request order: 400 ``invalid-request`` for a body that is
    not an array, ``limit-exceeded`` beyond ``MAX_PER_CHANNEL`` elements or for one too large,
    ``invalid-configuration`` (an element breaking a rule, an id not usable as a name, an id
    twice)."""
    if not isinstance(body, list):
        raise InvalidRequest(
            "The body must be a JSON array.", errors=[field_error("", "expected an array")]
        )
    if len(body) > MAX_PER_CHANNEL:
        raise LimitExceeded(
            f"At most {MAX_PER_CHANNEL} configurations per channel.",
            errors=[field_error(f"/{MAX_PER_CHANNEL}", "too many configurations")],
        )
    errors: list[dict[str, Any]] = []
    seen: set[str] = set()
    for i, doc in enumerate(body):
        found = schemas.validate(doc, f"/{i}")
        if not found:
            name = doc["id"]
            if not valid_name(name):
                found = [field_error(f"/{i}/id", f"must match {NAME.pattern}")]
            elif name in seen:
                found = [field_error(f"/{i}/id", f"duplicate id {name!r}")]
            seen.add(name)
        errors.extend(found)
    _raise_invalid(errors)
    return [_sized(doc, f"/{i}") for i, doc in enumerate(body)]


def _raise_invalid(errors: list[dict[str, Any]]) -> None:
    if errors:
        first = errors[0]
        raise InvalidConfiguration(
            f"Invalid configuration at {first['path'] or '/'}: {first['message']}",
            errors=errors[: schemas.MAX_ERRORS],
        )


def _sized(doc: dict[str, Any], pointer: str) -> Configuration:
    text = jsonutil.dumps(doc).decode()
    if len(text.encode()) > MAX_BYTES:
        raise LimitExceeded(
            f"A configuration may hold at most {MAX_BYTES} bytes.",
            errors=[field_error(pointer, f"larger than {MAX_BYTES} bytes")],
        )
    return Configuration(doc["id"], text)


def check_count(count: int) -> None:
    """The channel's configurations after a write (adapters §3.1 rule 5)."""
    if count > MAX_PER_CHANNEL:
        raise LimitExceeded(
            f"At most {MAX_PER_CHANNEL} configurations per channel.",
            errors=[field_error("", f"the channel would hold {count} configurations")],
        )
