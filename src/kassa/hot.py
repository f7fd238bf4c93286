"""The hot read, served without the router: ``GetCheckoutOrder``.

Reading one order is the request a checkout makes most, and the framework's routing, dependency
solving and exception layers cost several times the read itself. ``HotReads`` sits inside
``KassaMiddleware`` (request id, metrics, access log and the last-resort 500 still apply) and
answers ``GET {prefix}/api/v0/checkout/orders/{order_id}`` itself, with exactly the route's
behaviour: ``orders.service.read_as_caller`` does the checks and the read, a ``KassaError``
becomes the same error body. Everything else goes on to the application.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from kassa import http
from kassa.error_responses import error_response
from kassa.errors import KassaError
from kassa.middleware import request_id_of
from kassa.orders import service

ORDERS = "/api/v0/checkout/orders/"


@dataclass(frozen=True)
class RouteTemplate:
    """What ``scope["route"]`` offers the metrics and the access log: the route's template."""

    path: str


class HotReads:
    def __init__(self, app: ASGIApp, *, prefix: str) -> None:
        self.app = app
        self.base = prefix + ORDERS
        self.route = RouteTemplate(self.base + "{order_id}")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            path: str = scope["path"]
            if path.startswith(self.base):
                order_id = path[len(self.base) :]
                if order_id and "/" not in order_id:
                    scope["route"] = self.route
                    response = await _get_order(Request(scope, receive), order_id)
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)


async def _get_order(request: Request, order_id: str) -> Response:
    try:
        _, stored = await service.read_as_caller(request, order_id)
    except KassaError as exc:
        return error_response(exc, request_id_of(request.scope))
    return Response(
        stored.doc, media_type="application/json", headers={"ETag": http.etag(stored.version)}
    )
