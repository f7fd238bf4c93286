"""The plain data a pure mutation works on: the write's context and the mutation's type.

A mutation is ``apply(order, meta, ctx) -> result``: it changes ``order`` (the proposed document)
and ``meta`` (what kassa keeps beside it) in place, returns what it created (an id, a list of
actions, or ``None``) and raises a named ``KassaError`` when a rule is broken. It performs no I/O.
``Order`` and ``Meta`` (declared in ``kassa.orders.document``) are importable from here too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from kassa.orders.document import Meta as Meta
from kassa.orders.document import Order as Order

T = TypeVar("T")


@dataclass(frozen=True)
class Actor:
    """Who asked for a write: the API key's name and the adapter it acts for."""

    key_name: str
    adapter_id: str | None = None


@dataclass(frozen=True)
class Context:
    """What a pure mutation may know about its write."""

    now: str  # the write time T (semantics §4.5)
    actor: Actor | None = None
    payment_state_enforcement: bool = True  # KASSA_PAYMENT_STATE_ENFORCEMENT


# ``Apply[T]``: a mutation whose result (what it created) is a ``T``
Apply = Callable[[Order, Meta, Context], T]
