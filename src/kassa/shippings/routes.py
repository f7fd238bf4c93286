"""HTTP routes of shippings (api §2.3)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from kassa import http, jsonutil
from kassa.http import Call, validate
from kassa.idempotency import Outcome
from kassa.operations import route
from kassa.orders import service
from kassa.orders.routes import read_part
from kassa.shippings import mutations
from kassa.shippings.schemas import ShippingIn

router = APIRouter(
    prefix="/api/v0/checkout/orders/{order_id}/shippings", tags=["Checkout Shipping"]
)
JSON = {"Content-Type": "application/json"}


def _find(order: dict[str, Any], shipping_id: str) -> dict[str, Any]:
    shipping: dict[str, Any] = order["shippings"][mutations.shipping_index(order, shipping_id)]
    return shipping


@router.get("", **route("GetOrderShippings"))
async def list_shippings(order_id: str, request: Request) -> Response:
    return await read_part(request, "GetOrderShippings", order_id, lambda o: o["shippings"])


@router.post("", **route("CreateOrderShipping"))
async def create_shipping(order_id: str, request: Request) -> Response:
    call = await http.start(request, "CreateOrderShipping", body=True, write=True)

    async def handler(call: Call) -> Outcome:
        body = validate(ShippingIn, call.body).wire()
        created: list[str] = []
        prefix = call.app.settings.path_prefix

        def respond(version: int, order: dict[str, Any], result: None) -> Outcome:
            location = f"{prefix}/api/v0/checkout/orders/{order_id}/shippings/{created[-1]}"
            return Outcome(201, jsonutil.dumps({"id": created[-1]}), {**JSON, "Location": location})

        apply = mutations.add_shipping(body, created)
        return await service.modify(call, order_id, apply, respond)

    return await http.run(call, handler)


@router.get("/{shipping_id}", **route("GetOrderShipping"))
async def get_shipping(order_id: str, shipping_id: str, request: Request) -> Response:
    return await read_part(request, "GetOrderShipping", order_id, lambda o: _find(o, shipping_id))


@router.put("/{shipping_id}", **route("UpdateOrderShipping"))
async def put_shipping(order_id: str, shipping_id: str, request: Request) -> Response:
    call = await http.start(request, "UpdateOrderShipping", body=True, write=True)

    async def handler(call: Call) -> Outcome:
        body = validate(ShippingIn, call.body).wire()

        def respond(version: int, order: dict[str, Any], result: None) -> Outcome:
            return service.json_outcome(_find(order, shipping_id), version)

        apply = mutations.put_shipping(shipping_id, body)
        return await service.modify(call, order_id, apply, respond)

    return await http.run(call, handler)
