"""Pure mutations that register, change and remove an order's callbacks."""

from __future__ import annotations

from typing import Any, cast

from kassa import ids
from kassa.callbacks.kinds import BY_COLLECTION
from kassa.errors import LimitExceeded, NotFound, field_error
from kassa.orders import rules
from kassa.orders.document import Meta, Order
from kassa.orders.model import Apply, Context
from kassa.orders.rules import Area


class CallbackNotFound(NotFound):
    def __init__(self, kind: str, callback_id: str) -> None:
        registered = BY_COLLECTION[kind]  # ``kind`` is the order array the callback lives in
        super().__init__(f"{registered.title} with id:{callback_id} not found.")
        self.code = registered.not_found or "not-found"


def _registrations(order: Order, kind: str) -> list[dict[str, Any]]:
    """``order[kind]``: the registrations of a kind named at run time (``BY_COLLECTION``)."""
    # hooks, notifications and validations alike: JSON objects with an ``id`` (api §3.14-3.16)
    by_kind = cast("dict[str, list[dict[str, Any]]]", order)
    return by_kind[kind]


def _index(order: Order, kind: str, callback_id: str) -> int:
    for index, entry in enumerate(_registrations(order, kind)):
        if entry["id"] == callback_id:
            return index
    raise CallbackNotFound(kind, callback_id)


def add(kind: str, entry: dict[str, Any]) -> Apply[str]:
    """Register a callback; the result is its new id."""

    def apply(order: Order, meta: Meta, ctx: Context) -> str:
        rules.check_editable(Area.POST_PAYMENT, rules.status_of(order))
        if len(_registrations(order, kind)) >= rules.MAX_CALLBACKS:
            raise LimitExceeded(
                f"An order may hold at most {rules.MAX_CALLBACKS} {kind}.",
                errors=[field_error(f"/{kind}", f"more than {rules.MAX_CALLBACKS} {kind}")],
            )
        callback_id = ids.callback_id()
        _registrations(order, kind).append({"id": callback_id, **entry})
        return callback_id

    return apply


def replace(kind: str, callback_id: str, entry: dict[str, Any]) -> Apply[None]:
    def apply(order: Order, meta: Meta, ctx: Context) -> None:
        index = _index(order, kind, callback_id)
        rules.check_editable(Area.POST_PAYMENT, rules.status_of(order))
        _registrations(order, kind)[index] = {"id": callback_id, **entry}

    return apply


def remove(kind: str, callback_id: str) -> Apply[None]:
    def apply(order: Order, meta: Meta, ctx: Context) -> None:
        index = _index(order, kind, callback_id)
        rules.check_editable(Area.POST_PAYMENT, rules.status_of(order))
        del _registrations(order, kind)[index]

    return apply
