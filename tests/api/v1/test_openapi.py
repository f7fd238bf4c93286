"""The v1 routes in ``/openapi.json`` (v1.md §2.2, §5 case 17): camelCase path parameters,
operationIds of their own, otherwise the documentation of their v0 twins."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import client_for
from tests.support.v1 import V0, V1

METHODS = {"get", "put", "post", "delete", "patch"}


@pytest.fixture
async def document(app: FastAPI) -> dict[str, Any]:
    async with client_for(app) as anonymous:
        response = await anonymous.get("/openapi.json")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def operations(document: dict[str, Any], base: str) -> dict[tuple[str, str], dict[str, Any]]:
    """(path below ``base``, method) -> operation."""
    return {
        (path.removeprefix(base), method): operation
        for path, item in document["paths"].items()
        if path == base or path.startswith(base + "/")
        for method, operation in item.items()
        if method in METHODS
    }


def test_v1_payment_path_with_camel_case_parameters(document: dict[str, Any]) -> None:
    item = document["paths"][f"{V1}/{{orderId}}/payments/{{paymentId}}"]
    assert set(item) == {"get", "put"}
    for operation in item.values():
        path_parameters = [p for p in operation["parameters"] if p["in"] == "path"]
        assert [p["name"] for p in path_parameters] == ["orderId", "paymentId"]
        assert all(p["required"] is True for p in path_parameters)
    assert item["get"]["operationId"] == "GetOrderPaymentV1"
    assert item["put"]["operationId"] == "UpdateOrderPaymentV1"
    execute = f"{V1}/{{orderId}}/payments/{{paymentId}}/actions/{{actionId}}/execute"
    assert document["paths"][execute]["post"]["operationId"] == "ExecutePaymentActionV1"
    for path in document["paths"]:
        if path.startswith(V1):
            assert "_id}" not in path, path


def test_operation_ids_unique_and_v1_ones_suffixed(document: dict[str, Any]) -> None:
    ids = [
        operation["operationId"]
        for item in document["paths"].values()
        for method, operation in item.items()
        if method in METHODS
    ]
    assert len(ids) == len(set(ids))
    v0, v1 = operations(document, V0), operations(document, V1)
    assert len(v0) == len(v1) == 35  # api ops 1-35, history included
    assert {op["operationId"] for op in v1.values()} == {
        op["operationId"] + "V1" for op in v0.values()
    }
    assert v1[("/{orderId}/history", "get")]["operationId"] == "GetCheckoutOrderHistoryV1"
    assert v1[("", "post")]["operationId"] == "CreateCheckoutOrderV1"
    # the events routes are a kassa extension, not part of the Order API v1
    assert document["paths"]["/api/v1/events"]["get"]["operationId"] == "GetEvents"


def test_v1_operation_documented_as_its_v0_twin(document: dict[str, Any]) -> None:
    v0 = operations(document, V0)
    renamed = {
        f"{{{snake}}}": f"{{{camel}}}"
        for snake, camel in (
            ("order_id", "orderId"),
            ("consent_id", "consentId"),
            ("hook_id", "hookId"),
            ("notification_id", "notificationId"),
            ("validation_id", "validationId"),
            ("payment_id", "paymentId"),
            ("shipping_id", "shippingId"),
            ("action_id", "actionId"),
        )
    }
    v1 = operations(document, V1)
    for (path, method), twin in v0.items():
        for snake, camel in renamed.items():
            path = path.replace(snake, camel)
        operation = v1[(path, method)]
        assert operation["operationId"] == twin["operationId"] + "V1"
        assert operation["responses"] == twin["responses"], path
        assert operation.get("requestBody") == twin.get("requestBody"), path
        headers = [p for p in operation["parameters"] if p["in"] != "path"]
        assert headers == [p for p in twin["parameters"] if p["in"] != "path"], path
        assert operation["security"] == twin["security"] == [{"bearer": []}]
    created = v1[("", "post")]["responses"]["201"]
    assert created["headers"]["Location"]["required"] is True


async def test_v1_paths_in_the_document_are_served(
    document: dict[str, Any], client: httpx.AsyncClient
) -> None:
    # every documented v1 path answers as a route (no route-not-found), even for unknown ids
    for (path, method), _ in operations(document, V1).items():
        concrete = V1 + path.replace("{orderId}", "o_" + "Q" * 26)
        for name in ("consentId", "hookId", "notificationId", "validationId"):
            concrete = concrete.replace(f"{{{name}}}", "x")
        concrete = concrete.replace("{paymentId}", "p_x").replace("{shippingId}", "s_x")
        concrete = concrete.replace("{actionId}", "pa_x")
        response = await client.request(method, concrete, json={})
        assert response.status_code not in (405, 500), (method, concrete, response.text)
        if response.status_code == 404:
            assert response.json()["code"] == "order-not-found", (method, concrete)
