"""The Order API v1 routes (spec v1.md): the v0 order routes once more, under
``/api/v1/checkout/orders``.

v1 is a second set of routes over the same orders, not a second implementation: each v1 route
calls the endpoint of its v0 twin. Only the route differs — its template (the v1 base path and the
camelCase path parameter names of v1.md §1.1, which are also the metrics ``route`` label and the
``/openapi.json`` path key) and its operationId in the document (the Norce id plus ``V1``,
§2.2). ``Dispatch`` hands a v1 route's path parameters to the endpoint under their v0 names
(``ENDPOINT_NAMES``). The endpoint names the operation by its Norce id (history, logs) and builds
a ``Location`` from the path it was called through (``http.orders_collection``).
"""

from __future__ import annotations

import re

from fastapi import APIRouter
from fastapi.routing import APIRoute

from kassa.callbacks.routes import router as callbacks_router
from kassa.operations import V1_SUFFIX, route
from kassa.orders.routes import router as orders_router
from kassa.payments.routes import router as payments_router
from kassa.shippings.routes import router as shippings_router

V0_BASE = "/api/v0/checkout/orders"
V1_BASE = "/api/v1/checkout/orders"

# v0 path parameter name -> v1 name (v1.md §1.1)
PATH_PARAMETERS = {
    "order_id": "orderId",
    "consent_id": "consentId",
    "hook_id": "hookId",
    "notification_id": "notificationId",
    "validation_id": "validationId",
    "payment_id": "paymentId",
    "shipping_id": "shippingId",
    "action_id": "actionId",
}
# what ``Dispatch`` needs: a v1 name -> the endpoint argument it fills
ENDPOINT_NAMES = {v1: v0 for v0, v1 in PATH_PARAMETERS.items()}

_PARAMETER = re.compile(r"{([^}]+)}")


def v1_path(v0_path: str) -> str:
    """The v1 template of a v0 order route template (both without the deployment prefix)."""
    if not v0_path.startswith(V0_BASE):
        raise ValueError(f"not an order route: {v0_path}")
    rest = v0_path[len(V0_BASE) :]
    return V1_BASE + _PARAMETER.sub(lambda m: "{" + PATH_PARAMETERS[m.group(1)] + "}", rest)


def mirror(*routers: APIRouter) -> APIRouter:
    """A router with the v1 twin of every route of ``routers``, in the same order."""
    v1 = APIRouter()
    for source in routers:
        for v0 in source.routes:
            if not isinstance(v0, APIRoute):
                continue
            operation = str(v0.operation_id) + V1_SUFFIX
            v1.add_api_route(
                v1_path(v0.path),
                v0.endpoint,
                methods=sorted(v0.methods or ()),
                **route(operation, name=operation),
            )
    return v1


router = mirror(orders_router, callbacks_router, payments_router, shippings_router)
