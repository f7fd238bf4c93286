"""The OpenAPI document (api op 42): generated from the operation table and the very types the
routes validate with, so it says what the server does."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import jsonschema_rs
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from jsonschema import Draft202012Validator

from kassa import openapi
from kassa.callbacks import routes as callback_routes
from kassa.configuration.schemas import BASE, schema_for
from kassa.operations import OPERATIONS
from kassa.orders import routes as order_routes
from kassa.orders.schemas import OrderCreate
from kassa.payments import routes as payment_routes
from kassa.shippings import routes as shipping_routes
from tests.conftest import ORDERS, client_for, create_order

V1 = "/api/v1/checkout/orders"

UNKNOWN = "o_AAAAAAAAAAAAAAAAAAAAAAAAAA"
METHODS = {"get", "put", "post", "delete", "patch"}


@pytest.fixture
async def document(app: FastAPI) -> dict[str, Any]:
    async with client_for(app) as anonymous:
        response = await anonymous.get("/openapi.json")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


def find(document: dict[str, Any], operation_id: str) -> dict[str, Any]:
    [found] = [op for _, _, op in operations(document) if op["operationId"] == operation_id]
    return found


def conforms(document: dict[str, Any], schema: dict[str, Any], instance: Any) -> list[str]:
    """Why ``instance`` does not match ``schema`` (refs resolved in the document).

    jsonschema-rs, as schemathesis uses: it checks ``multipleOf: 1e-06`` on decimals exactly,
    where a float-based validator finds 39.2 not a multiple of 0.000001.
    """
    validator = jsonschema_rs.Draft202012Validator({**schema, "components": document["components"]})
    return [f"{e.instance_path}: {e.message}" for e in validator.iter_errors(instance)]


def response_schema(document: dict[str, Any], operation_id: str, status: int) -> dict[str, Any]:
    response = find(document, operation_id)["responses"][str(status)]
    schema: dict[str, Any] = response["content"]["application/json"]["schema"]
    return schema


async def test_openapi_json_answers_the_document(app: FastAPI) -> None:
    async with client_for(app) as anonymous:  # no key, no headers (api §1.4)
        response = await anonymous.get("/openapi.json")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    document = response.json()
    assert document["openapi"] == "3.1.0"
    assert document == app.openapi()
    Draft202012Validator.check_schema({"components": document["components"]})
    ids = [op["operationId"] for _, _, op in operations(document)]
    # 51 operations, of which the 35 order operations are served under v1 too (v1.md §2.2)
    assert len(ids) == len(set(ids)) == len(OPERATIONS) == 51 + 35
    v1 = {op["operationId"] for path, _, op in operations(document) if path.startswith(V1)}
    assert len(v1) == 35
    assert all(operation_id.endswith("V1") for operation_id in v1)
    assert {operation_id.removesuffix("V1") for operation_id in v1} <= set(ids)


def test_every_route_appears_with_its_operation_id(app: FastAPI, document: dict[str, Any]) -> None:
    served = {
        (str(route.path_format), method.lower()): str(route.operation_id)
        for route in iter_route_contexts(app.routes)
        if isinstance(route.original_route, APIRoute) and route.include_in_schema
        for method in route.methods or ()
    }
    documented = {(path, method): op["operationId"] for path, method, op in operations(document)}
    assert served, "no routes found"
    for key, operation_id in served.items():
        assert documented.get(key) == operation_id, key
    # beyond the routes, only the two pages FastAPI serves itself
    assert set(documented) - set(served) == {("/openapi.json", "get"), ("/docs", "get")}
    assert documented[(f"{ORDERS}/{{order_id}}/customer/billing", "put")] == (
        "UpdateCheckoutOrderCustomerBilling"
    )
    assert documented[("/api/v1/events/{event_id}/retry", "post")] == "RetryEvent"


def test_documented_statuses_follow_the_table(document: dict[str, Any]) -> None:
    for path, _, operation in operations(document):
        entry = OPERATIONS[operation["operationId"]]
        statuses = {int(s) for s in operation["responses"]}
        server = {500, 503} if path.startswith("/api/") else set()
        assert statuses == {entry.status} | entry.errors | server, operation["operationId"]
        assert "default" not in operation["responses"]
        for status, response in operation["responses"].items():
            if status.startswith(("4", "5")) and operation["operationId"] != "HealthReady":
                assert "BaseError" in str(response["content"]["application/json"]["schema"])


async def test_empty_body_writes_are_documented_without_content(
    document: dict[str, Any], client: httpx.AsyncClient
) -> None:
    empty = [
        op for _, _, op in operations(document) if OPERATIONS[op["operationId"]].response == "empty"
    ]
    # api §2.0: fourteen 200 writes and the 204 of DELETE order, on v0 and on v1;
    # adapters §3.2: C4 and C7
    assert len(empty) == 2 * 15 + 2
    for operation in empty:
        [success] = [r for s, r in operation["responses"].items() if s.startswith("2")]
        assert "content" not in success, operation["operationId"]
    # and the server indeed answers 200 with nothing
    order_id = await create_order(client)
    response = await client.patch(f"{ORDERS}/{order_id}/attributes", json={"a": 1})
    assert response.status_code == 200, response.text
    assert response.content == b""
    assert "content" not in find(document, "PatchCheckoutOrderAttributes")["responses"]["200"]
    response = await client.put(f"{ORDERS}/{order_id}/reference", json="r-1")
    assert response.status_code == 200, response.text
    assert response.content == b""


async def test_validate_400_is_a_validation_error_array(
    document: dict[str, Any], client: httpx.AsyncClient
) -> None:
    schema = response_schema(document, "Validate", 400)
    array, base_error = schema["oneOf"]
    assert array["type"] == "array"
    assert array["items"] == {"$ref": "#/components/schemas/ValidationError"}
    assert base_error == {"$ref": "#/components/schemas/BaseError"}
    order_id = await create_order(client)  # an empty cart fails validation (cart-empty)
    response = await client.post(f"{ORDERS}/{order_id}/validate")
    assert response.status_code == 400, response.text
    body = response.json()
    assert isinstance(body, list) and body[0]["code"] == "cart-empty"
    assert conforms(document, schema, body) == []
    assert conforms(document, base_error, body) != []  # not an object: only the array fits
    missing = await client.post(f"{ORDERS}/{order_id}/validate", headers={"x-channel": ""})
    assert missing.status_code == 400, missing.text
    assert missing.json()["code"] == "missing-header"
    assert conforms(document, schema, missing.json()) == []


def test_metrics_are_text_and_the_docs_html(document: dict[str, Any]) -> None:
    assert set(document["paths"]["/metrics"]["get"]["responses"]["200"]["content"]) == {
        "text/plain"
    }
    assert set(document["paths"]["/docs"]["get"]["responses"]["200"]["content"]) == {"text/html"}
    assert document["paths"]["/metrics"]["get"]["security"] == []


def test_headers_are_documented_as_the_server_requires_them(document: dict[str, Any]) -> None:
    def header(operation_id: str, name: str) -> dict[str, Any]:
        parameters: list[dict[str, Any]] = find(document, operation_id)["parameters"]
        [found] = [p for p in parameters if p["in"] == "header" and p["name"] == name]
        return found

    merchant = header("GetCheckoutOrder", "x-merchant")
    assert merchant["required"] is True
    assert (merchant["schema"]["minLength"], merchant["schema"]["maxLength"]) == (1, 128)
    assert header("GetCheckoutOrder", "x-channel")["required"] is True
    assert header("GetEvents", "x-channel")["required"] is False  # api §1.2: ignored there
    key = header("UpdateCheckoutOrderCart", "Idempotency-Key")["schema"]["pattern"]
    assert key == "^[!-~]{1,255}$"
    assert find(document, "GetCheckoutOrder")["security"] == [{"bearer": []}]
    assert all(
        p["name"] != "Idempotency-Key" for p in find(document, "GetCheckoutOrder")["parameters"]
    )


# The documented request body is generated from the type the handler validates with ----------

BODIES: dict[str, tuple[str, str, Any]] = {
    "CreateCheckoutOrder": ("post", ORDERS, {}),
    "PatchCheckoutOrderAttributes": ("patch", f"{ORDERS}/{UNKNOWN}/attributes", {}),
    "UpdateCheckoutOrderCart": ("put", f"{ORDERS}/{UNKNOWN}/cart", {}),
    "CreateCheckoutOrderConsent": ("post", f"{ORDERS}/{UNKNOWN}/consents", {"id": "c"}),
    "PatchCheckoutOrderConsents": ("patch", f"{ORDERS}/{UNKNOWN}/consents", []),
    "PatchCheckoutOrderConsent": ("patch", f"{ORDERS}/{UNKNOWN}/consents/c", {"checked": True}),
    "UpdateCheckoutOrderCustomerBilling": ("put", f"{ORDERS}/{UNKNOWN}/customer/billing", {}),
    "UpdateCheckoutOrderCustomerShipping": ("put", f"{ORDERS}/{UNKNOWN}/customer/shipping", {}),
    "CreateCheckoutOrderHook": ("post", f"{ORDERS}/{UNKNOWN}/hooks", {}),
    "CreateCheckoutOrderNotification": ("post", f"{ORDERS}/{UNKNOWN}/notifications", {}),
    "UpdateCheckoutOrderReference": ("put", f"{ORDERS}/{UNKNOWN}/reference", "r"),
    "UpdateCheckoutOrderState": ("put", f"{ORDERS}/{UNKNOWN}/state", {}),
    "CreateCheckoutOrderValidation": ("post", f"{ORDERS}/{UNKNOWN}/validations", {}),
    "UpdateCheckoutOrderValidation": ("put", f"{ORDERS}/{UNKNOWN}/validations/v", {}),
    "CreateOrderPayment": ("post", f"{ORDERS}/{UNKNOWN}/payments", {}),
    "UpdateOrderPayment": ("put", f"{ORDERS}/{UNKNOWN}/payments/p", {}),
    "AddPaymentAction": ("post", f"{ORDERS}/{UNKNOWN}/payments/p/actions", []),
    "AddTransactionForOrderPayment": ("post", f"{ORDERS}/{UNKNOWN}/payments/p/transactions", {}),
    "CreateOrderShipping": ("post", f"{ORDERS}/{UNKNOWN}/shippings", {}),
    "UpdateOrderShipping": ("put", f"{ORDERS}/{UNKNOWN}/shippings/s", {}),
}
# the v1 routes (v1.md §2) call the same endpoints
BODIES.update(
    {
        operation_id + "V1": (method, V1 + path.removeprefix(ORDERS), body)
        for operation_id, (method, path, body) in BODIES.items()
    }
)


# Configurations are checked against the base schema file (adapters §7.1), not a model
SCHEMA_BODIES = {"PutConfigurations": "array", "PutConfiguration": "object"}


def test_every_operation_with_a_body_is_covered_here(document: dict[str, Any]) -> None:
    with_body = {op["operationId"] for _, _, op in operations(document) if "requestBody" in op}
    assert with_body == set(BODIES) | set(SCHEMA_BODIES)


@pytest.mark.parametrize("operation_id", sorted(SCHEMA_BODIES))
def test_configuration_bodies_are_documented_with_the_base_schema(
    operation_id: str, document: dict[str, Any]
) -> None:
    base = schema_for(BASE)
    del base["$schema"], base["$id"]
    documented = find(document, operation_id)["requestBody"]["content"]["application/json"]
    schema = documented["schema"]
    if SCHEMA_BODIES[operation_id] == "array":
        assert schema["type"] == "array"
        schema = schema["items"]
    assert schema == base


@pytest.mark.parametrize("operation_id", sorted(BODIES))
async def test_documented_body_is_the_schema_of_what_the_handler_validates(
    operation_id: str,
    document: dict[str, Any],
    client: httpx.AsyncClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    used: list[Any] = []

    def spy(real: Any, unwrap: Any) -> Any:
        def validate(model: Any, data: Any) -> Any:
            used.append(unwrap(model))
            return real(model, data)

        return validate

    for module in (order_routes, callback_routes, payment_routes, shipping_routes):
        if hasattr(module, "validate"):
            monkeypatch.setattr(module, "validate", spy(module.validate, lambda m: m))
        if hasattr(module, "validate_as"):
            # a TypeAdapter: the type it was built from
            monkeypatch.setattr(module, "validate_as", spy(module.validate_as, lambda a: a._type))
    method, path, body = BODIES[operation_id]
    response = await client.request(method, path, json=body)
    assert response.status_code in {200, 201, 400, 404}, response.text
    assert len(used) == 1, used
    documented = find(document, operation_id)["requestBody"]["content"]["application/json"]
    generated, components = openapi.schemas_of({"body": (used[0], "validation")})
    assert documented["schema"] == generated["body"]
    for name, schema in components.items():
        assert document["components"]["schemas"][name] == schema, name


def test_order_create_component_is_the_model_schema(document: dict[str, Any]) -> None:
    component = document["components"]["schemas"]["OrderCreate"]
    model = OrderCreate.model_json_schema(by_alias=True, mode="validation")
    assert set(component["properties"]) == set(model["properties"])
    assert component.get("required", []) == model.get("required", [])
    # a known constraint travels from the model's field into the document
    assert {"type": "string", "pattern": "^[A-Za-z]{3}$"} in component["properties"]["currency"][
        "anyOf"
    ]


# Responses conform to the documented schemas ---------------------------------------------------


async def test_a_full_order_conforms_to_the_order_schema(
    document: dict[str, Any], client: httpx.AsyncClient
) -> None:
    body = {
        "reference": "ref-1",
        "currency": "SEK",
        "country": "SE",
        "culture": "sv-SE",
        "cart": {
            "items": [
                {
                    "name": "Bundle",
                    "productType": "Bundle",
                    "quantity": 1,
                    "total": {"includingVat": 12.5, "excludingVat": 10},
                    "items": [{"name": "Part", "quantity": 2}],
                }
            ]
        },
        "customer": {"billing": {"givenName": "Ada", "country": "se"}},
        "consents": [{"id": "terms", "required": True}],
        "hooks": [{"subscribeTo": "/cart", "invoke": "https://hooks.invalid/{order_id}"}],
        "validations": [{"url": "https://validate.invalid/"}],
        "notifications": [{"scope": "/state", "invoke": "https://notify.invalid/"}],
        "attributes": {"nested": {"list": [1, None, "x"]}},
    }
    order_id = await create_order(client, body)
    payment = await client.post(
        f"{ORDERS}/{order_id}/payments",
        json={"amount": 12.5, "actions": [{"adapterId": "a", "type": "capture", "url": "u"}]},
    )
    assert payment.status_code == 201, payment.text
    shipping = await client.post(
        f"{ORDERS}/{order_id}/shippings",
        json={"total": {"includingVat": 49, "excludingVat": 39.2}, "vatRate": 0.25},
    )
    assert shipping.status_code == 201, shipping.text
    for operation_id, path in (
        ("GetCheckoutOrder", f"{ORDERS}/{order_id}"),
        ("GetOrderPayments", f"{ORDERS}/{order_id}/payments"),
        ("GetOrderShippings", f"{ORDERS}/{order_id}/shippings"),
        ("GetCheckoutOrderHistory", f"{ORDERS}/{order_id}/history"),
        ("GetCheckoutOrders", ORDERS),
    ):
        response = await client.get(path)
        assert response.status_code == 200, response.text
        schema = response_schema(document, operation_id, 200)
        assert conforms(document, schema, response.json()) == [], operation_id
    # the document is closed: an undocumented field in an order is a violation
    order = (await client.get(f"{ORDERS}/{order_id}")).json()
    order["surprise"] = 1
    assert conforms(document, response_schema(document, "GetCheckoutOrder", 200), order) != []


async def test_errors_conform_to_base_error(
    document: dict[str, Any], client: httpx.AsyncClient
) -> None:
    response = await client.get(f"{ORDERS}/{UNKNOWN}")
    assert response.status_code == 404, response.text
    assert response.json()["code"] == "order-not-found"
    schema = response_schema(document, "GetCheckoutOrder", 404)
    assert conforms(document, schema, response.json()) == []
    response = await client.put(f"{ORDERS}/{UNKNOWN}/cart", json={"items": [{"quantity": -1}]})
    assert response.status_code == 400, response.text
    assert (
        conforms(
            document, response_schema(document, "UpdateCheckoutOrderCart", 400), response.json()
        )
        == []
    )
