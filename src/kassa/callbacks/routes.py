"""Registration routes of hooks, notifications and validations (api ops 13-16, 20-22)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from kassa import http, jsonutil
from kassa.callbacks import mutations
from kassa.http import Call, validate
from kassa.idempotency import Outcome
from kassa.operations import route
from kassa.orders import service
from kassa.orders.mutations import Apply
from kassa.orders.routes import write_empty
from kassa.orders.schemas import Hook, Notification, Validation
from kassa.schemas_common import WireModel

router = APIRouter(prefix="/api/v0/checkout/orders/{order_id}", tags=["Checkout"])
JSON = {"Content-Type": "application/json"}


def _create(path: str, kind: str, model: type[WireModel], operation: str) -> None:
    @router.post(path, **route(operation, name=operation))
    async def create(order_id: str, request: Request) -> Response:
        call = await http.start(request, operation, body=True, write=True)

        async def handler(call: Call) -> Outcome:
            entry = validate(model, call.body).wire()
            created: list[str] = []

            def respond(version: int, order: dict[str, Any], result: None) -> Outcome:
                return Outcome(200, jsonutil.dumps({"id": created[-1]}), dict(JSON))

            apply = mutations.add(kind, entry, created)
            return await service.modify(call, order_id, apply, respond)

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
    def build(call: Call) -> Apply:
        entry = validate(Validation, call.body).wire()
        return mutations.replace("validations", validation_id, entry)

    return await write_empty(request, "UpdateCheckoutOrderValidation", order_id, build)
