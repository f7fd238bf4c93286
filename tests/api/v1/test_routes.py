"""The v1 routes are the v0 endpoints under other templates (kassa.v1), dispatched with their
parameters renamed (kassa.dispatch)."""

from __future__ import annotations

import pytest
from fastapi import APIRouter
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

from kassa import v1
from kassa.app import ORDER_ROUTERS
from kassa.dispatch import Dispatch, Mount
from tests.support.v1 import V0, V1


def _routes(router: APIRouter) -> list[APIRoute]:
    return [r for r in router.routes if isinstance(r, APIRoute)]


def test_every_v0_order_route_has_a_v1_twin_on_the_same_endpoint() -> None:
    v0 = [r for router in ORDER_ROUTERS for r in _routes(router) if r.path.startswith(V0)]
    twins = _routes(v1.router)
    assert len(v0) == len(twins) == 35
    for route, twin in zip(v0, twins, strict=True):
        assert twin.endpoint is route.endpoint, route.path
        assert twin.methods == route.methods, route.path
        assert twin.path == v1.v1_path(route.path)
        assert twin.operation_id == f"{route.operation_id}V1"
        assert twin.status_code == route.status_code
    assert v1.v1_path(f"{V0}/{{order_id}}/payments/{{payment_id}}/actions/{{action_id}}") == (
        f"{V1}/{{orderId}}/payments/{{paymentId}}/actions/{{actionId}}"
    )
    with pytest.raises(ValueError, match="not an order route"):
        v1.v1_path("/api/v1/events/{event_id}")


async def _endpoint(order_id: str, request: Request) -> Response:
    return Response(order_id)


def test_dispatch_refuses_a_template_that_does_not_supply_an_argument() -> None:
    router = APIRouter()
    router.add_api_route(f"{V1}/{{orderId}}", _endpoint, methods=["GET"])

    async def app(scope: object, receive: object, send: object) -> None:
        raise AssertionError("not called")

    with pytest.raises(ValueError, match="order_id"):
        Dispatch(app, mounts=[Mount("", (router,))])
    dispatch = Dispatch(app, mounts=[Mount("", (router,))], renames=v1.ENDPOINT_NAMES)
    assert dispatch.routes[0].renames == {"orderId": "order_id"}
