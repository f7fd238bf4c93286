"""Applying a hook's JSON Patch to a proposal (semantics §5.7).

The patch is applied atomically with ``jsonpatch``; it must not touch the forbidden targets;
afterwards every changed part of the order is checked again by the same schema models and pure
mutations the API uses for it, with editability and payment transitions judged against the
stored order ``S``. Any violation makes the whole patch invalid (``InvalidPatch``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, cast

import jsonpatch
import jsonpointer
from pydantic import TypeAdapter, ValidationError

from kassa.callbacks.changes import segments
from kassa.callbacks.kinds import BY_COLLECTION
from kassa.errors import KassaError
from kassa.jsonutil import copy_json
from kassa.orders import document as doc
from kassa.orders import mutations, rules
from kassa.orders.document import Meta, Order
from kassa.orders.model import Apply, Context
from kassa.orders.rules import Area
from kassa.orders.schemas import Cart, Consent, Customer
from kassa.payments import mutations as payment_mutations
from kassa.payments.schemas import PaymentIn
from kassa.schemas_common import Attributes, OrderStatus, Text, WireModel
from kassa.shippings import mutations as shipping_mutations
from kassa.shippings.schemas import ShippingIn

MAX_OPERATIONS = 100

_FORBIDDEN_TOP = {
    "id",
    "merchant",
    "channel",
    "created",
    "lastModified",
    "total",
    "state",
    "culture",
    "currency",
    "country",
    *BY_COLLECTION,  # a hook never changes the order's callbacks: hooks, notifications, ...
}
_READ_ONLY = {"id", "orderId", "merchant", "channel"}
_EDITABLE_TOP = {"reference", "attributes", "customer", "cart", "consents", "payments", "shippings"}
_TEXT: TypeAdapter[Any] = TypeAdapter(Text)
_ATTRIBUTES: TypeAdapter[Any] = TypeAdapter(Attributes)
_CONSENTS: TypeAdapter[Any] = TypeAdapter(list[Consent])


class InvalidPatch(Exception):
    """The patch cannot be applied; the hook call counts as a failure."""


def _forbidden(pointer: str, proposal: Order) -> bool:
    try:
        parts = segments(pointer)
    except Exception:  # pragma: no cover - segments never raises on strings
        return True
    if not parts:
        return True  # the whole document
    head = parts[0]
    if head in _FORBIDDEN_TOP:
        return True
    if head in {"payments", "shippings"}:
        if len(parts) <= 2:
            return True  # the list itself or whole elements: no adding, removing, replacing
        if parts[2] in _READ_ONLY:
            return True
        if head == "payments" and len(parts) >= 5 and parts[2] == "actions" and parts[4] == "id":
            return True
    if head == "consents" and len(parts) >= 3 and parts[2] == "id":
        return True
    if head == "cart" and "id" in parts:
        # ``…/id`` of an existing cart item: resolve the item the pointer goes through
        index = len(parts) - 1 - parts[::-1].index("id")
        try:
            item = jsonpointer.resolve_pointer(
                proposal, "/" + "/".join(_escape(p) for p in parts[:index])
            )
        except jsonpointer.JsonPointerException:
            return False
        if isinstance(item, dict) and "id" in item and index >= 3 and parts[index - 2] == "items":
            return True
    return False


def _escape(segment: str) -> str:
    return segment.replace("~", "~0").replace("/", "~1")


def _check_operations(patch: list[Any], proposal: Order) -> None:
    if len(patch) > MAX_OPERATIONS:
        raise InvalidPatch(f"more than {MAX_OPERATIONS} operations")
    for operation in patch:
        if not isinstance(operation, dict) or not isinstance(operation.get("path"), str):
            raise InvalidPatch("malformed operation")
        pointers = [operation["path"]]
        if "from" in operation:
            if not isinstance(operation["from"], str):
                raise InvalidPatch("malformed operation")
            pointers.append(operation["from"])
        for pointer in pointers:
            if _forbidden(pointer, proposal):
                raise InvalidPatch(f"{pointer!r} may not be changed by a hook")


def _state_of(order: Order) -> OrderStatus:
    return rules.status_of(order)


def _as_order(patched: dict[str, Any]) -> Order:
    """The patched document as an order, for the pure mutations that check its changed parts and
    for the result once they did: its other parts are the proposal's, which the patch could not
    change (``_check_operations``)."""
    return cast(Order, patched)


def _scratch(stored: Order, proposal: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``proposal`` in the stored order's state, for editability checks."""
    scratch: dict[str, Any] = copy_json(proposal)
    scratch["state"] = copy_json(stored["state"])
    return scratch


def _by_id(items: list[dict[str, Any]] | None) -> dict[str, dict[str, Any]]:
    return {item["id"]: item for item in items or () if isinstance(item, dict) and "id" in item}


def _recheck(
    stored: Order,
    before: Order,
    after: dict[str, Any],
    meta: Meta,
    enforce: bool,
) -> Order:
    """Validate and canonicalise every part the patch changed; returns the checked proposal."""
    ctx = Context(now=before.get("lastModified", ""), payment_state_enforcement=enforce)
    status = _state_of(stored)
    result = copy_json(after)
    keys = set(before) | set(after)
    for key in sorted(keys):
        if key in _FORBIDDEN_TOP or before.get(key, _MISSING) == after.get(key, _MISSING):
            continue
        if key not in _EDITABLE_TOP:
            raise InvalidPatch(f"/{key} is not part of an order")
        value = after.get(key, _MISSING)
        if key == "reference":
            rules.check_editable(Area.POST_PAYMENT, status)
            if value is not _MISSING:
                result["reference"] = _TEXT.validate_python(value)
        elif key == "attributes":
            rules.check_editable(Area.POST_PAYMENT, status)
            if value is not _MISSING:
                result["attributes"] = _ATTRIBUTES.validate_python(value)
        elif key == "customer":
            rules.check_editable(Area.CUSTOMER, status)
            if value is not _MISSING:
                result["customer"] = Customer.model_validate(value).wire()
        elif key == "consents":
            rules.check_editable(Area.CONSENTS, status)
            consents = [c.wire() for c in _CONSENTS.validate_python(value)]
            if len({c["id"] for c in consents}) != len(consents):
                raise InvalidPatch("duplicate consent id")
            if len(consents) > rules.MAX_CONSENTS:
                raise InvalidPatch("too many consents")
            result["consents"] = consents
        elif key == "cart":
            result["cart"] = _cart(stored, before, after, meta, ctx)
        elif key == "payments":
            put_payment = payment_mutations.put_payment
            result["payments"] = _elements(
                "payments", PaymentIn, put_payment, stored, before, result, meta, ctx
            )
        elif key == "shippings":
            put = shipping_mutations.put_shipping
            result["shippings"] = _elements(
                "shippings", ShippingIn, put, stored, before, result, meta, ctx
            )
    return _as_order(result)


_MISSING = object()


def _cart(
    stored: Order,
    before: Order,
    after: dict[str, Any],
    meta: Meta,
    ctx: Context,
) -> doc.Cart:
    if "cart" not in after:
        raise InvalidPatch("the cart may not be removed")
    body = copy_json(after["cart"])
    if isinstance(body, dict) and body.get("total") == before["cart"].get("total"):
        # totals kassa computed are computed again for the patched cart
        total = dict(body.get("total") or {})
        for component in meta.get("computed", ()):
            total.pop(component, None)
        if total:
            body["total"] = total
        else:
            body.pop("total", None)
    cart = Cart.model_validate(body).wire()
    scratch = _scratch(stored, after)
    mutations.put_cart(cart)(_as_order(scratch), meta, ctx)
    cart_after: doc.Cart = scratch["cart"]
    return cart_after


def _elements(
    kind: str,
    model: type[WireModel],
    put: Callable[[str, dict[str, Any]], Apply[None]],
    stored: Order,
    before: Order,
    after: dict[str, Any],
    meta: Meta,
    ctx: Context,
) -> Any:
    """Payments or shippings changed by a patch, each re-done as its PUT route would."""
    # the lists of ``kind``, a key named at run time
    stored_json: Mapping[str, Any] = stored
    before_json: Mapping[str, Any] = before
    stored_by_id = _by_id(stored_json.get(kind))
    scratch = _scratch(stored, after)
    for index, (old, new) in enumerate(zip(before_json[kind], after[kind], strict=True)):
        if old == new:
            continue
        body = model.model_validate({k: v for k, v in new.items() if k not in _READ_ONLY}).wire()
        # state changes are judged against the element as stored (or as this request made it)
        origin = stored_by_id.get(old["id"], old)
        scratch[kind][index] = {**old, "state": origin["state"]}
        put(old["id"], body)(_as_order(scratch), meta, ctx)
    return scratch[kind]


def apply_hook_patch(
    stored: Order,
    proposal: Order,
    meta: Meta,
    patch: list[Any],
    enforce: bool,
) -> Order:
    """``proposal`` with ``patch`` applied, re-checked and its totals recomputed; raises
    ``InvalidPatch``."""
    _check_operations(patch, proposal)
    try:
        patched = jsonpatch.JsonPatch(patch).apply(copy_json(proposal), in_place=True)
    except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException) as exc:
        raise InvalidPatch(str(exc)) from exc
    except (TypeError, KeyError, IndexError, ValueError) as exc:
        raise InvalidPatch(f"malformed patch: {exc}") from exc
    if not isinstance(patched, dict):
        raise InvalidPatch("the patch must leave an order object")
    scratch_meta = copy_json(meta)
    try:
        checked = _recheck(stored, proposal, patched, scratch_meta, enforce)
    except ValidationError as exc:
        raise InvalidPatch(f"invalid order after patch: {exc.errors()[0]['msg']}") from exc
    except KassaError as exc:
        raise InvalidPatch(f"{exc.code}: {exc.message}") from exc
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        # a patched part of an unexpected shape (e.g. a payment without its actions list)
        raise InvalidPatch(f"invalid order after patch: {exc!r}") from exc
    replaced = cast("dict[str, Any]", meta)  # no clear() on a TypedDict
    replaced.clear()
    replaced.update(scratch_meta)
    rules.compute_totals(checked, meta.get("computed", ()))
    return checked
