"""The sandbox shipping adapter ``kassa_sandbox_shipping_adapter`` (adapters.md §6).

Delivery options come from the channel's configuration (§7.4), priced on the order as it is
(per item, free from a cart total) and offered to the destination countries each one lists.
Routes S1-S7 below ``sandbox_shipping_path_prefix``. Its state lives in the order: one shipping
(``reference`` = the chosen option's id) and three hooks. The ``/cart`` and
``/customer/shipping`` hooks reprice the shipping in the buyer's own write (so a payment
adapter's ``/total`` hook follows in that write too) or veto a destination the option does not
serve; the ``/state`` hook confirms the shipping with a ``tmsReference`` once the order is
accepted. It takes no real bookings.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from kassa import jsonutil
from kassa.adapters import calls, documents
from kassa.adapters.calls import AdapterContext, ClientCall
from kassa.adapters.client import Caller
from kassa.adapters.converge import OrderSession, converge
from kassa.adapters.documents import status_of
from kassa.adapters.errors import AdapterInactive
from kassa.configuration import schemas
from kassa.errors import (
    ConfigurationNotFound,
    InvalidRequest,
    NotFound,
    OrderNotEditable,
    field_error,
)
from kassa.idempotency import Outcome
from kassa.money import ZERO, as_decimal, minor_unit

ADAPTER_ID = "kassa_sandbox_shipping_adapter"
ORDERS = "/api/checkout/v1/orders/{order_id}/shippings"
CALLBACKS = "/api/checkout/v1/callback/orders/{order_id}/shippings/{shipping_id}"
SCHEMA_PATH = f"/openapi/v1/schemas/{ADAPTER_ID}.json"

_NOT_FOUND = frozenset({"order-not-found", "shipping-not-found"})
CREATE_ERRORS = _NOT_FOUND | {"order-not-editable", "limit-exceeded", "hook-rejected"}
SELECT_ERRORS = _NOT_FOUND | {"order-not-editable", "hook-rejected", "invalid-amount"}
REMOVE_ERRORS = SELECT_ERRORS | {"hook-not-found"}

NOT_AVAILABLE = "shipping-option-not-available"


class ShippingNotFound(NotFound):
    code = "shipping-not-found"

    def __init__(self, shipping_id: str) -> None:
        super().__init__(f"Shipping with id:{shipping_id} not found.")


# the pure part ----------------------------------------------------------------------------------


def options_of(config: dict[str, Any] | None) -> list[dict[str, Any]]:
    options = (config or {}).get("options")
    if not isinstance(options, list):
        return []
    return [o for o in options if isinstance(o, dict) and isinstance(o.get("id"), str)]


def option_by_id(config: dict[str, Any] | None, option_id: Any) -> dict[str, Any] | None:
    for option in options_of(config):
        if option["id"] == option_id:
            return option
    return None


def destination(order: dict[str, Any]) -> str | None:
    """``customer.shipping.country``, else billing, else the order's country (§6)."""
    customer = order.get("customer") or {}
    for part in ("shipping", "billing"):
        address = customer.get(part) if isinstance(customer, dict) else None
        country = address.get("country") if isinstance(address, dict) else None
        if isinstance(country, str) and country:
            return country
    country = order.get("country")
    return country if isinstance(country, str) and country else None


def available(option: dict[str, Any], order: dict[str, Any]) -> bool:
    countries = option.get("countries")
    if not isinstance(countries, list):
        return True
    where = destination(order)
    if where is None:
        return True
    return where.upper() in {str(c).upper() for c in countries}


def _plain(value: Decimal) -> Decimal:
    """Without trailing zeros of the exponent (20.00 → 20), as JSON would show a price."""
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize()


def price(option: dict[str, Any], order: dict[str, Any]) -> dict[str, Decimal]:
    """The option's total on the order: ``{includingVat, excludingVat}`` (§6)."""
    quantity = sum(
        (as_decimal(i.get("quantity")) for i in (order.get("cart") or {}).get("items") or []),
        ZERO,
    )
    cart_total = as_decimal(((order.get("cart") or {}).get("total") or {}).get("includingVat"))
    free_from = option.get("freeFrom")
    if free_from is not None and cart_total >= as_decimal(free_from):
        incl = ZERO
    else:
        incl = as_decimal(option.get("price")) + as_decimal(option.get("perItem")) * quantity
    quantum = Decimal(1).scaleb(-minor_unit(order.get("currency")))
    excl = (incl / (1 + as_decimal(option.get("vatRate")))).quantize(
        quantum, rounding=ROUND_HALF_UP
    )
    return {"includingVat": _plain(incl), "excludingVat": _plain(excl)}


def shipping_fields(option: dict[str, Any], order: dict[str, Any]) -> dict[str, Any]:
    """The data fields of a shipping for ``option`` (S1, S3)."""
    delivery: dict[str, Any] = {"product": {"reference": option["id"], "name": option["name"]}}
    if isinstance(option.get("carrier"), str):
        delivery = {"carrier": option["carrier"], **delivery}
    return {
        "adapterId": ADAPTER_ID,
        "name": option["name"],
        "reference": option["id"],
        "total": price(option, order),
        "vatRate": option["vatRate"],
        "deliveryDetails": delivery,
    }


def view(shipping: dict[str, Any], config: dict[str, Any] | None, order: dict[str, Any]) -> Any:
    """The ShippingSession answer of S1-S3."""
    return {
        "shippingId": shipping["id"],
        "selectedOption": shipping.get("reference"),
        "state": shipping.get("state"),
        "options": [
            {
                "id": o["id"],
                "name": o.get("name"),
                "carrier": o.get("carrier"),
                "total": price(o, order),
                "vatRate": o.get("vatRate"),
                "available": available(o, order),
            }
            for o in options_of(config)
        ],
    }


def own_shipping(order: dict[str, Any], shipping_id: str) -> tuple[int, dict[str, Any]]:
    found = documents.owned(order, "shippings", ADAPTER_ID, shipping_id)
    if found is None:
        raise ShippingNotFound(shipping_id)
    return found


def current_shipping(order: dict[str, Any]) -> dict[str, Any] | None:
    return documents.current(order, "shippings", ADAPTER_ID)


def hooks_for(callback_base: str, order_id: str, shipping_id: str) -> list[dict[str, Any]]:
    """The hooks of §6 for one shipping."""
    base = callback_base + CALLBACKS.format(order_id=order_id, shipping_id=shipping_id)
    return documents.hooks(
        ADAPTER_ID,
        "/shippings",
        base,
        shipping_id,
        (
            ("/cart", "update-shipping", "update-shipping-cart"),
            ("/customer/shipping", "update-shipping", "update-shipping-customer"),
            ("/state", "state-changed", "state-changed"),
        ),
    )


class OptionNotAvailable(Exception):
    """S5's veto: the chosen option does not serve the order any more."""


def update_shipping(
    order: dict[str, Any], shipping_id: str, config: dict[str, Any] | None
) -> list[dict[str, Any]]:
    """S5: the patch repricing the shipping; ``OptionNotAvailable`` for a veto."""
    for i, shipping in enumerate(order.get("shippings") or []):
        if shipping.get("id") != shipping_id or not isinstance(shipping, dict):
            continue
        if shipping.get("state") == "removed" or config is None:
            return []
        option = option_by_id(config, shipping.get("reference"))
        if option is None or not available(option, order):
            raise OptionNotAvailable()
        total = price(option, order)
        current = shipping.get("total") or {}
        if all(jsonutil.json_equal(total[k], current.get(k)) for k in total):
            return []
        return [{"op": "replace", "path": f"/shippings/{i}/total", "value": total}]
    return []


def state_changed(order: dict[str, Any], shipping_id: str) -> list[dict[str, Any]]:
    """S6: an accepted order confirms its shipping, with a deterministic ``tmsReference``."""
    if status_of(order) not in {"accepted", "completed"}:
        return []
    for i, shipping in enumerate(order.get("shippings") or []):
        if shipping.get("id") != shipping_id or not isinstance(shipping, dict):
            continue
        if shipping.get("state") not in {"intent", "processing"}:
            return []
        reference = f"SBX-{shipping_id}"
        op = "replace" if "tmsReference" in shipping else "add"
        return [
            {"op": "replace", "path": f"/shippings/{i}/state", "value": "confirmed"},
            {"op": op, "path": f"/shippings/{i}/tmsReference", "value": reference},
        ]
    return []


# the routes -------------------------------------------------------------------------------------


def mount(ctx: AdapterContext) -> Any:
    """The adapter's router (FastAPI ``APIRouter``) for ``ctx``."""
    router = calls.router_for(ctx)
    upstream = ctx.upstream

    async def usable_configuration(call: ClientCall) -> dict[str, Any]:
        config = await upstream.configuration(call.caller, ADAPTER_ID)
        if config is None:
            raise ConfigurationNotFound(ADAPTER_ID)
        if config.get("active") is not True:
            raise AdapterInactive(ADAPTER_ID)
        return config

    @router.post(ORDERS)
    async def create(order_id: str, request: Request) -> Response:
        call = await calls.start(ctx, request, order_id, write=True, listed=CREATE_ERRORS)

        async def handler(call: ClientCall) -> Outcome:
            config = await usable_configuration(call)

            async def plan(s: OrderSession) -> dict[str, Any]:
                if status_of(s.order) != "checkout":
                    raise OrderNotEditable(status_of(s.order), "Creating a shipping")
                shipping = current_shipping(s.order)
                hooks = s.order.get("hooks") or []
                if shipping is None:
                    option = option_by_id(config, config.get("defaultOption"))
                    if option is None or not available(option, s.order):
                        option = next(
                            (o for o in options_of(config) if available(o, s.order)), None
                        )
                    if option is None:
                        raise AdapterInactive(
                            ADAPTER_ID, "No delivery option serves this destination."
                        )
                    body = {**shipping_fields(option, s.order), "state": "intent"}
                    reply = await s.write("POST", "/shippings", body)
                    shipping = {**body, "id": str(reply.body["id"])}
                    hooks = []
                shipping_id = str(shipping["id"])
                present = {h.get("reference") for h in hooks if h.get("adapterId") == ADAPTER_ID}
                for hook in hooks_for(ctx.callback_base, order_id, shipping_id):
                    if hook["reference"] not in present:
                        await s.write("POST", "/hooks", hook)
                return shipping

            # answered from the shipping as found or written, and the order as read (its cart
            # and destination price the options; these writes change neither): no read after
            shipping = await converge(call.session, plan)
            return calls.json_outcome(view(shipping, config, call.session.order))

        return await calls.run(ctx, call, handler)

    @router.get(ORDERS + "/{shipping_id}")
    async def get(order_id: str, shipping_id: str, request: Request) -> Response:
        call = await calls.start(ctx, request, order_id, listed=_NOT_FOUND)
        assert isinstance(call, ClientCall)
        order = call.session.order
        _, shipping = own_shipping(order, shipping_id)
        config = await upstream.configuration(call.caller, ADAPTER_ID)
        return Response(jsonutil.dumps(view(shipping, config, order)), media_type=_JSON)

    @router.put(ORDERS + "/{shipping_id}")
    async def select(order_id: str, shipping_id: str, request: Request) -> Response:
        call = await calls.start(
            ctx, request, order_id, body=True, write=True, listed=SELECT_ERRORS
        )

        async def handler(call: ClientCall) -> Outcome:
            config = await usable_configuration(call)
            choice = call.body.get("selectedOption") if isinstance(call.body, dict) else None
            option = option_by_id(config, choice)
            if option is None:
                problem = "required" if choice is None else "not a configured option"
                raise InvalidRequest(
                    f"selectedOption is {problem}.",
                    errors=[field_error("/selectedOption", problem)],
                )

            async def plan(s: OrderSession) -> dict[str, Any]:
                _, shipping = own_shipping(s.order, shipping_id)
                if status_of(s.order) != "checkout":
                    raise OrderNotEditable(status_of(s.order), "Selecting a delivery option")
                if shipping.get("state") == "removed":
                    raise InvalidRequest("The shipping is removed.")
                if not available(option, s.order):
                    raise InvalidRequest(
                        "selectedOption does not serve this destination.",
                        errors=[field_error("/selectedOption", "not available")],
                    )
                fields = shipping_fields(option, s.order)
                wanted = {**shipping, **fields}
                if jsonutil.canonical(wanted) == jsonutil.canonical(shipping):
                    return shipping
                reply = await s.write("PUT", f"/shippings/{shipping_id}", wanted)
                return dict(reply.body)  # op 34 answers the shipping as stored, hooks applied

            shipping = await converge(call.session, plan)
            return calls.json_outcome(view(shipping, config, call.session.order))

        return await calls.run(ctx, call, handler)

    @router.post(ORDERS + "/{shipping_id}/remove")
    async def remove(order_id: str, shipping_id: str, request: Request) -> Response:
        call = await calls.start(ctx, request, order_id, write=True, listed=REMOVE_ERRORS)

        async def handler(call: ClientCall) -> Outcome:
            async def plan(s: OrderSession) -> None:
                _, shipping = own_shipping(s.order, shipping_id)
                if status_of(s.order) != "checkout":
                    raise OrderNotEditable(status_of(s.order), "Removing a shipping")
                if shipping.get("state") != "removed":
                    await s.write(
                        "PUT", f"/shippings/{shipping_id}", {**shipping, "state": "removed"}
                    )
                prefix = f"{ADAPTER_ID}/{shipping_id}/"
                for hook in s.order.get("hooks") or []:
                    reference = str(hook.get("reference") or "")
                    if hook.get("adapterId") == ADAPTER_ID and reference.startswith(prefix):
                        await s.write("DELETE", f"/hooks/{hook['id']}", has_body=False)

            await converge(call.session, plan)
            return calls.empty_outcome()

        return await calls.run(ctx, call, handler)

    async def callback(order_id: str, request: Request) -> tuple[Caller, dict[str, Any]]:
        raw = await calls.read_body(request)
        caller = await calls.authenticate_callback(ctx, request, raw, order_id)
        order = calls.parse_json(request, raw)
        if not isinstance(order, dict) or not isinstance(order.get("shippings", []), list):
            raise InvalidRequest(
                "The body must be an order object.", errors=[field_error("", "not an order")]
            )
        return caller, order

    @router.post(CALLBACKS + "/update-shipping")
    async def on_update(order_id: str, shipping_id: str, request: Request) -> Response:
        caller, order = await callback(order_id, request)
        config = await upstream.configuration(caller, ADAPTER_ID)
        try:
            patch = update_shipping(order, shipping_id, config)
        except OptionNotAvailable:
            body = {
                "code": NOT_AVAILABLE,
                "message": "The selected delivery option does not serve this destination.",
            }
            return Response(jsonutil.dumps(body), status_code=400, media_type=_JSON)
        return Response(jsonutil.dumps(patch), media_type=_JSON)

    @router.post(CALLBACKS + "/state-changed")
    async def on_state(order_id: str, shipping_id: str, request: Request) -> Response:
        _, order = await callback(order_id, request)
        return Response(jsonutil.dumps(state_changed(order, shipping_id)), media_type=_JSON)

    @router.get(SCHEMA_PATH)
    async def schema() -> Response:
        return Response(
            schemas.schema_bytes(ADAPTER_ID),
            media_type=schemas.MEDIA_TYPE,
            headers={"Cache-Control": schemas.CACHE_CONTROL},
        )

    return router


_JSON = "application/json"
