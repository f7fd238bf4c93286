"""HTTP routes of shippings (api §2.3)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from kassa import http, jsonutil, unit_of_work
from kassa.http import Call, validate
from kassa.idempotency import Outcome
from kassa.operations import route
from kassa.orders.document import Order, Shipping
from kassa.orders.routes import read_part
from kassa.shippings import mutations
from kassa.shippings.schemas import ShippingIn
from kassa.unit_of_work import Change

router = APIRouter(
    prefix="/api/v0/checkout/orders/{order_id}/shippings", tags=["Checkout Shipping"]
)
JSON = {"Content-Type": "application/json"}


def _find(order: Order, shipping_id: str) -> Shipping:
    shipping: Shipping = order["shippings"][mutations.shipping_index(order, shipping_id)]
    return shipping


@router.get("", **route("GetOrderShippings"))
async def list_shippings(order_id: str, request: Request) -> Response:
    return await read_part(request, "GetOrderShippings", order_id, lambda o: o["shippings"])


@router.post("", **route("CreateOrderShipping"))
async def create_shipping(order_id: str, request: Request) -> Response:
    call = await http.start(request, "CreateOrderShipping", body=True, write=True, defer_auth=True)

    async def handler(call: Call) -> Outcome:
        body = validate(ShippingIn, call.body).wire()
        collection = http.orders_collection(call)

        def respond(version: int, order: Order, shipping_id: str) -> Outcome:
            location = f"{collection}/{order_id}/shippings/{shipping_id}"
            return Outcome(201, jsonutil.dumps({"id": shipping_id}), {**JSON, "Location": location})

        change = Change(order_id, mutations.add_shipping(body), respond)
        return await unit_of_work.execute(call, change)

    return await http.run(call, handler)


@router.get("/{shipping_id}", **route("GetOrderShipping"))
async def get_shipping(order_id: str, shipping_id: str, request: Request) -> Response:
    return await read_part(request, "GetOrderShipping", order_id, lambda o: _find(o, shipping_id))


@router.put("/{shipping_id}", **route("UpdateOrderShipping"))
async def put_shipping(order_id: str, shipping_id: str, request: Request) -> Response:
    call = await http.start(request, "UpdateOrderShipping", body=True, write=True, defer_auth=True)

    async def handler(call: Call) -> Outcome:
        body = validate(ShippingIn, call.body).wire()

        def respond(version: int, order: Order, result: None) -> Outcome:
            return http.json_outcome(_find(order, shipping_id), version)

        change = Change(order_id, mutations.put_shipping(shipping_id, body), respond)
        return await unit_of_work.execute(call, change)

    return await http.run(call, handler)
