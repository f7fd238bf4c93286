"""Registration routes of hooks, notifications and validations (api ops 13-16, 20-22)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from kassa import http, jsonutil, unit_of_work
from kassa.callbacks import mutations
from kassa.http import Call, validate
from kassa.idempotency import Outcome
from kassa.operations import route
from kassa.orders.document import Order
from kassa.orders.model import Apply
from kassa.orders.routes import write_empty
from kassa.orders.schemas import Hook, Notification, Validation
from kassa.schemas_common import WireModel
from kassa.unit_of_work import Change

router = APIRouter(prefix="/api/v0/checkout/orders/{order_id}", tags=["Checkout"])
JSON = {"Content-Type": "application/json"}


def _create(path: str, kind: str, model: type[WireModel], operation: str) -> None:
    @router.post(path, **route(operation, name=operation))
    async def create(order_id: str, request: Request) -> Response:
        call = await http.start(request, operation, body=True, write=True, defer_auth=True)

        async def handler(call: Call) -> Outcome:
            entry = validate(model, call.body).wire()

            def respond(version: int, order: Order, callback_id: str) -> Outcome:
                return Outcome(200, jsonutil.dumps({"id": callback_id}), dict(JSON))

            change = Change(order_id, mutations.add(kind, entry), respond)
            return await unit_of_work.execute(call, change)

        return await http.run(call, handler)


def _delete(kind: str, param: str, operation: str) -> None:
    @router.delete(f"/{kind}/{{{param}}}", **route(operation, name=operation))
    async def delete(order_id: str, request: Request) -> Response:
        callback_id = request.path_params[param]
        return await write_empty(
            request, operation, order_id, lambda call: mutations.remove(kind, callback_id)
        )


_create("/hooks", "hooks", Hook, "CreateCheckoutOrderHook")
_delete("hooks", "hook_id", "DeleteCheckoutOrderHook")
_create("/notifications", "notifications", Notification, "CreateCheckoutOrderNotification")
_delete("notifications", "notification_id", "DeleteCheckoutOrderNotification")
_create("/validations", "validations", Validation, "CreateCheckoutOrderValidation")
_delete("validations", "validation_id", "RemoveCheckoutOrderValidation")


@router.put("/validations/{validation_id}", **route("UpdateCheckoutOrderValidation"))
async def put_validation(order_id: str, validation_id: str, request: Request) -> Response:
    def build(call: Call) -> Apply[None]:
        entry = validate(Validation, call.body).wire()
        return mutations.replace("validations", validation_id, entry)

    return await write_empty(request, "UpdateCheckoutOrderValidation", order_id, build)
