"""The OpenAPI document (api op 42).

Request bodies are parsed by kassa itself (exact decimals), so FastAPI does not see them; routes
declare them with ``body_doc`` and this module adds the schemas of the wire models as components.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from kassa import __version__

_REF = "#/components/schemas/{model}"


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": _REF.format(model=name)}


def body_doc(name: str, *, required: bool = True, array: bool = False) -> dict[str, Any]:
    schema = {"type": "array", "items": _ref(name)} if array else _ref(name)
    return {
        "requestBody": {
            "required": required,
            "content": {"application/json": {"schema": schema}},
        }
    }


def responses_doc(status: int, name: str | None) -> dict[int | str, dict[str, Any]]:
    ok: dict[str, Any] = {"description": "Success"}
    if name is not None:
        ok["content"] = {"application/json": {"schema": _ref(name)}}
    return {
        status: ok,
        "default": {
            "description": "Error",
            "content": {"application/json": {"schema": _ref("BaseError")}},
        },
    }


def _component_models() -> dict[str, type[BaseModel]]:
    from kassa.docs_models import DOC_MODELS
    from kassa.orders import schemas
    from kassa.payments.schemas import PaymentActionIn, PaymentIn, TransactionIn
    from kassa.shippings.schemas import ShippingIn

    models: dict[str, type[BaseModel]] = {
        "OrderCreate": schemas.OrderCreate,
        "Cart": schemas.Cart,
        "Address": schemas.Address,
        "Consent": schemas.Consent,
        "ConsentCheck": schemas.ConsentCheck,
        "ConsentChecked": schemas.ConsentChecked,
        "StateChange": schemas.StateChange,
        "Hook": schemas.Hook,
        "Notification": schemas.Notification,
        "Validation": schemas.Validation,
        "Payment": PaymentIn,
        "PaymentAction": PaymentActionIn,
        "PaymentTransaction": TransactionIn,
        "Shipping": ShippingIn,
    }
    models.update(DOC_MODELS)
    return models


def build_openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema:
        return app.openapi_schema
    document = get_openapi(
        title="kassa",
        version=__version__,
        openapi_version="3.1.0",
        description=(
            "Checkout order management, wire-compatible with the Norce Checkout Order "
            "Management API v0, with idempotency keys, ETags and an order history."
        ),
        routes=app.routes,
    )
    prefix = app.state.kassa.settings.path_prefix
    document["paths"][f"{prefix}/openapi.json"] = {
        "get": {
            "operationId": "OpenApi",
            "summary": "This OpenAPI document",
            "responses": {"200": {"description": "OpenAPI 3.1 JSON"}},
        }
    }
    document["paths"][f"{prefix}/docs"] = {
        "get": {
            "operationId": "Docs",
            "summary": "Interactive API documentation",
            "responses": {"200": {"description": "HTML page", "content": {"text/html": {}}}},
        }
    }
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for name, model in _component_models().items():
        schema = model.model_json_schema(by_alias=True, ref_template=_REF, mode="validation")
        for def_name, definition in schema.pop("$defs", {}).items():
            schemas.setdefault(def_name, definition)
        schemas[name] = schema
    schemas["Attributes"] = {"type": "object", "additionalProperties": True}
    schemas["Reference"] = {"type": "string", "description": "The new order reference."}
    schemas["ValidationErrors"] = {"type": "array", "items": _ref("ValidationError")}
    for plural, single in (
        ("HistoryEntries", "HistoryEntry"),
        ("Payments", "Payment"),
        ("PaymentActions", "PaymentAction"),
        ("PaymentTransactions", "PaymentTransaction"),
        ("Shippings", "Shipping"),
    ):
        schemas[plural] = {"type": "array", "items": _ref(single)}
    app.openapi_schema = document
    return document
