"""Server-generated identifiers: a prefix and 26 random ASCII letters (api §1.5)."""

from __future__ import annotations

import secrets
import string

_LETTERS = string.ascii_letters


def new_id(prefix: str) -> str:
    return prefix + "".join(secrets.choice(_LETTERS) for _ in range(26))


def order_id() -> str:
    return new_id("o_")


def item_id() -> str:
    return new_id("ci_")


def callback_id() -> str:
    return new_id("oc_")
