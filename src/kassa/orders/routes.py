"""HTTP routes of the order resource (api §2.1). Thin: parse, call the service, answer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter
from pydantic import TypeAdapter
from starlette.requests import Request
from starlette.responses import Response

from kassa import http, ids, jsonutil, timeutil, unit_of_work
from kassa.callbacks import validations
from kassa.errors import InvalidRequest, field_error
from kassa.http import Call, validate, validate_as
from kassa.idempotency import ABSENT, Outcome
from kassa.operations import ConsentChecks, route
from kassa.orders import mutations, rules, service
from kassa.orders.document import AddressKind, Order
from kassa.orders.model import Apply
from kassa.orders.query import parse_filter
from kassa.orders.schemas import (
    Address,
    Cart,
    Consent,
    ConsentChecked,
    OrderCreate,
    StateChange,
)
from kassa.schemas_common import Attributes, OrderStatus, Text
from kassa.unit_of_work import Change, NewOrder, Record, Remove

router = APIRouter(prefix="/api/v0/checkout/orders", tags=["Checkout"])

EMPTY = b""
_consent_checks = TypeAdapter(ConsentChecks)
_attributes = TypeAdapter(Attributes)
_reference = TypeAdapter(Text)


def _empty_ok(version: int, order: Order, result: object) -> Outcome:
    return Outcome(200)


async def read_part(
    request: Request, operation: str, order_id: str, pick: Callable[[Order], Any]
) -> Response:
    """Answer a part of the stored order (``pick`` may raise its 404) with the order's ETag."""
    _, stored = await service.read_as_caller(request, order_id, operation)
    part = pick(jsonutil.loads(stored.doc))
    return http.json_response(part, headers={"ETag": http.etag(stored.version)})


async def write_empty(
    request: Request, operation: str, order_id: str, build: Callable[[Call], Apply[Any]]
) -> Response:
    """A write that answers 200 with an empty body; ``build(call)`` returns the mutation."""
    call = await http.start(request, operation, body=True, write=True, defer_auth=True)

    async def handler(call: Call) -> Outcome:
        return await unit_of_work.execute(call, Change(order_id, build(call), _empty_ok))

    return await http.run(call, handler)


@router.post("", **route("CreateCheckoutOrder"))
async def create_order(request: Request) -> Response:
    call = await http.start(request, "CreateCheckoutOrder", body=True, write=True)

    async def handler(call: Call) -> Outcome:
        data = {} if call.body is ABSENT else call.body
        body = validate(OrderCreate, data).wire()
        collection = http.orders_collection(call)

        def respond(order_id: str) -> Outcome:
            return Outcome(
                201,
                jsonutil.dumps({"id": order_id}),
                {"Content-Type": "application/json", "Location": f"{collection}/{order_id}"},
            )

        principal = call.principal
        order, computed = rules.new_order(
            body,
            order_id=ids.order_id(),
            merchant=principal.merchant,
            channel=principal.channel,
            created=timeutil.now_text(),
            channel_notifications=call.app.settings.channel_notifications.get(
                (principal.merchant, principal.channel), ()
            ),
        )
        return await unit_of_work.execute(call, NewOrder(order, computed, respond))

    return await http.run(call, handler)


@router.get("", **route("GetCheckoutOrders"))
async def list_orders(request: Request) -> Response:
    call = await http.start_read(request, "GetCheckoutOrders")
    f = parse_filter(request.query_params, call.principal.merchant, call.principal.channel)
    docs, total_size, value_sum = await service.list_orders(call, f)
    pagination = jsonutil.dumps(
        {
            "offset": f.offset,
            "limit": f.limit,
            "size": len(docs),
            "totalSize": total_size,
            "valueSum": value_sum,
        }
    )
    body = b'{"data":[' + ",".join(docs).encode() + b'],"pagination":' + pagination + b"}"
    return Response(body, media_type="application/json")


@router.get("/{order_id}", **route("GetCheckoutOrder"))
async def get_order(order_id: str, request: Request) -> Response:
    _, stored = await service.read_as_caller(request, order_id)
    return Response(
        stored.doc, media_type="application/json", headers={"ETag": http.etag(stored.version)}
    )


@router.delete("/{order_id}", **route("DeleteCheckoutOrder"))
async def delete_order(order_id: str, request: Request) -> Response:
    call = await http.start(request, "DeleteCheckoutOrder", write=True)

    async def handler(call: Call) -> Outcome:
        return await unit_of_work.execute(call, Remove(order_id, Outcome(204)))

    return await http.run(call, handler)


@router.patch("/{order_id}/attributes", **route("PatchCheckoutOrderAttributes"))
async def patch_attributes(order_id: str, request: Request) -> Response:
    def build(call: Call) -> Apply[None]:
        if not isinstance(call.body, dict):
            raise InvalidRequest(
                "The body must be a JSON object.", errors=[field_error("", "expected an object")]
            )
        return mutations.patch_attributes(validate_as(_attributes, call.body))

    return await write_empty(request, "PatchCheckoutOrderAttributes", order_id, build)


@router.put("/{order_id}/cart", **route("UpdateCheckoutOrderCart"))
async def put_cart(order_id: str, request: Request) -> Response:
    def build(call: Call) -> Apply[None]:
        return mutations.put_cart(validate(Cart, call.body).wire())

    return await write_empty(request, "UpdateCheckoutOrderCart", order_id, build)


@router.post("/{order_id}/consents", **route("CreateCheckoutOrderConsent"))
async def create_consent(order_id: str, request: Request) -> Response:
    def build(call: Call) -> Apply[None]:
        return mutations.add_consent(validate(Consent, call.body).wire())

    return await write_empty(request, "CreateCheckoutOrderConsent", order_id, build)


@router.patch("/{order_id}/consents", **route("PatchCheckoutOrderConsents"))
async def patch_consents(order_id: str, request: Request) -> Response:
    def build(call: Call) -> Apply[None]:
        checks = validate_as(_consent_checks, call.body)
        return mutations.patch_consents([c.wire() for c in checks])

    return await write_empty(request, "PatchCheckoutOrderConsents", order_id, build)


@router.delete("/{order_id}/consents/{consent_id}", **route("RemoveCheckoutOrderConsent"))
async def delete_consent(order_id: str, consent_id: str, request: Request) -> Response:
    return await write_empty(
        request,
        "RemoveCheckoutOrderConsent",
        order_id,
        lambda call: mutations.delete_consent(consent_id),
    )


@router.patch("/{order_id}/consents/{consent_id}", **route("PatchCheckoutOrderConsent"))
async def patch_consent(order_id: str, consent_id: str, request: Request) -> Response:
    def build(call: Call) -> Apply[None]:
        return mutations.patch_consent(consent_id, validate(ConsentChecked, call.body).checked)

    return await write_empty(request, "PatchCheckoutOrderConsent", order_id, build)


def _address_route(kind: AddressKind, operation: str) -> None:
    @router.put(f"/{{order_id}}/customer/{kind}", **route(operation, name=operation))
    async def put_address(order_id: str, request: Request) -> Response:
        def build(call: Call) -> Apply[None]:
            return mutations.put_address(kind, validate(Address, call.body).wire())

        return await write_empty(request, operation, order_id, build)


_address_route("billing", "UpdateCheckoutOrderCustomerBilling")
_address_route("shipping", "UpdateCheckoutOrderCustomerShipping")


@router.put("/{order_id}/reference", **route("UpdateCheckoutOrderReference"))
async def put_reference(order_id: str, request: Request) -> Response:
    def build(call: Call) -> Apply[None]:
        if not isinstance(call.body, str):
            raise InvalidRequest(
                "The body must be a JSON string.", errors=[field_error("", "expected a string")]
            )
        return mutations.put_reference(validate_as(_reference, call.body))

    return await write_empty(request, "UpdateCheckoutOrderReference", order_id, build)


@router.put("/{order_id}/state", **route("UpdateCheckoutOrderState"))
async def put_state(order_id: str, request: Request) -> Response:
    def build(call: Call) -> Apply[None]:
        status = OrderStatus(validate(StateChange, call.body).current_status)
        return mutations.put_state(status)

    return await write_empty(request, "UpdateCheckoutOrderState", order_id, build)


@router.post("/{order_id}/validate", **route("Validate"))
async def validate_order(order_id: str, request: Request) -> Response:
    call = await http.start(request, "Validate", write=True)

    async def handler(call: Call) -> Outcome:
        stored = await service.read(call, order_id)
        checked = await validations.validate(call.app, jsonutil.loads(stored.doc))
        body = jsonutil.dumps(checked.errors)
        headers = {"Content-Type": "application/json", **http.warnings_headers(checked.warnings)}
        if checked.errors:
            # 400 with a bare ValidationError array: not recorded, like every non-2xx
            raise _ValidationResult(body, headers)
        return await unit_of_work.execute(call, Record(Outcome(200, body, headers)))

    try:
        return await http.run(call, handler)
    except _ValidationResult as result:
        return Response(result.body, status_code=400, headers=result.headers)


class _ValidationResult(Exception):
    def __init__(self, body: bytes, headers: dict[str, str]) -> None:
        super().__init__("validation failed")
        self.body = body
        self.headers = headers


@router.get("/{order_id}/history", **route("GetCheckoutOrderHistory"))
async def get_history(order_id: str, request: Request) -> Response:
    call = await http.start_read(request, "GetCheckoutOrderHistory")
    entries = await service.history(call, order_id)
    return Response(b"[" + ",".join(entries).encode() + b"]", media_type="application/json")
