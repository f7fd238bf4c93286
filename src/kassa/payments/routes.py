"""HTTP routes of payments, actions and transactions (api §2.2)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import TypeAdapter
from starlette.requests import Request
from starlette.responses import Response

from kassa import http, jsonutil, unit_of_work
from kassa.http import Call, validate, validate_as
from kassa.idempotency import ABSENT, Outcome
from kassa.operations import PaymentActions, route
from kassa.orders import service as orders_service
from kassa.orders.document import Order, PaymentAction
from kassa.orders.routes import read_part
from kassa.payments import mutations
from kassa.payments import service as payments
from kassa.payments.schemas import PaymentIn, TransactionIn
from kassa.unit_of_work import Change

router = APIRouter(prefix="/api/v0/checkout/orders/{order_id}/payments", tags=["Checkout Payment"])

_actions = TypeAdapter(PaymentActions)
JSON = {"Content-Type": "application/json"}


@router.get("", **route("GetOrderPayments"))
async def list_payments(order_id: str, request: Request) -> Response:
    return await read_part(request, "GetOrderPayments", order_id, lambda o: o["payments"])


@router.post("", **route("CreateOrderPayment"))
async def create_payment(order_id: str, request: Request) -> Response:
    call = await http.start(request, "CreateOrderPayment", body=True, write=True, defer_auth=True)

    async def handler(call: Call) -> Outcome:
        data = {} if call.body is ABSENT else call.body
        body = validate(PaymentIn, data).wire()
        collection = http.orders_collection(call)

        def respond(version: int, order: Order, payment_id: str) -> Outcome:
            location = f"{collection}/{order_id}/payments/{payment_id}"
            return Outcome(201, jsonutil.dumps({"id": payment_id}), {**JSON, "Location": location})

        change = Change(order_id, mutations.add_payment(body), respond)
        return await unit_of_work.execute(call, change)

    return await http.run(call, handler)


@router.get("/{payment_id}", **route("GetOrderPayment"))
async def get_payment(order_id: str, payment_id: str, request: Request) -> Response:
    return await read_part(
        request, "GetOrderPayment", order_id, lambda o: mutations.find_payment(o, payment_id)
    )


@router.put("/{payment_id}", **route("UpdateOrderPayment"))
async def put_payment(order_id: str, payment_id: str, request: Request) -> Response:
    call = await http.start(request, "UpdateOrderPayment", body=True, write=True, defer_auth=True)

    async def handler(call: Call) -> Outcome:
        body = validate(PaymentIn, call.body).wire()

        def respond(version: int, order: Order, result: None) -> Outcome:
            return http.json_outcome(mutations.find_payment(order, payment_id), version)

        change = Change(order_id, mutations.put_payment(payment_id, body), respond)
        return await unit_of_work.execute(call, change)

    return await http.run(call, handler)


@router.post("/{payment_id}/actions", **route("AddPaymentAction"))
async def add_actions(order_id: str, payment_id: str, request: Request) -> Response:
    call = await http.start(request, "AddPaymentAction", body=True, write=True, defer_auth=True)

    async def handler(call: Call) -> Outcome:
        actions = [a.wire() for a in validate_as(_actions, call.body)]

        def respond(version: int, order: Order, created: list[PaymentAction]) -> Outcome:
            return http.json_outcome(created, version)

        change = Change(order_id, mutations.add_actions(payment_id, actions), respond)
        return await unit_of_work.execute(call, change)

    return await http.run(call, handler)


@router.post("/{payment_id}/actions/{action_id}/execute", **route("ExecutePaymentAction"))
async def execute_action(
    order_id: str, payment_id: str, action_id: str, request: Request
) -> Response:
    call = await http.start(request, "ExecutePaymentAction", write=True)

    async def handler(call: Call) -> Outcome:
        return await payments.execute_action(call, order_id, payment_id, action_id)

    return await http.run(call, handler)


@router.get("/{payment_id}/transactions", **route("GetTransactionsForOrderPayment"))
async def list_transactions(order_id: str, payment_id: str, request: Request) -> Response:
    call, stored = await orders_service.read_as_caller(
        request, order_id, "GetTransactionsForOrderPayment"
    )
    body = await payments.list_transactions(call, stored, order_id, payment_id)
    return Response(body, media_type="application/json")


@router.post("/{payment_id}/transactions", **route("AddTransactionForOrderPayment"))
async def add_transaction(order_id: str, payment_id: str, request: Request) -> Response:
    call = await http.start(
        request, "AddTransactionForOrderPayment", body=True, write=True, defer_auth=True
    )

    async def handler(call: Call) -> Outcome:
        body = validate(TransactionIn, call.body).wire()
        return await payments.add_transaction(call, order_id, payment_id, body)

    return await http.run(call, handler)
