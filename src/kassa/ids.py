"""Server-generated identifiers: a prefix and 26 random ASCII letters (api §1.5)."""

from __future__ import annotations

import secrets
import string

_LETTERS = string.ascii_letters.encode()
_KEEP = 256 - 256 % len(_LETTERS)  # bytes below 208 map evenly onto the 52 letters
_MAP = bytes(_LETTERS[b % len(_LETTERS)] for b in range(256))
_DROP = bytes(range(_KEEP, 256))
_LENGTH = 26


def new_id(prefix: str) -> str:
    """``prefix`` + 26 letters drawn uniformly from the system's CSPRNG (random bytes of 208 or
    more are dropped, so that every letter is equally likely)."""
    while True:
        letters = secrets.token_bytes(40).translate(_MAP, _DROP)
        if len(letters) >= _LENGTH:
            return prefix + letters[:_LENGTH].decode()


def order_id() -> str:
    return new_id("o_")


def item_id() -> str:
    return new_id("ci_")


def callback_id() -> str:
    return new_id("oc_")
