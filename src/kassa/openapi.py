"""The OpenAPI document (api op 42), generated from the operation table and its models.

Request bodies are parsed by kassa itself (exact decimals, api §1.9 precedence), so FastAPI
never sees them. Instead every route is declared in ``kassa.operations``; this module walks the
app's routes, looks each one up there, and writes its parameters, request body and responses
with the JSON Schemas pydantic generates from the very types the routes validate with (request
models) and the response models of ``kassa.docs_models``.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import TypeAdapter
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode

from kassa import __version__, docs_models
from kassa.operations import OPERATIONS, Operation
from kassa.schemas_common import ATTRIBUTE_VALUE_SCHEMA, SCHEMA_REF

REF = "#/components/schemas/{model}"
_JSON = "application/json"
_PATH_PARAM = re.compile(r"{([^}]+)}")

_ERRORS = {
    400: "Invalid request (code invalid-request, missing-header, invalid-amount, ...; api §1.9)",
    401: "Missing, unknown or revoked API key",
    403: "The API key is not valid for this merchant or channel",
    404: "Not found (order-not-found, payment-not-found, configuration-not-found, ...)",
    409: "Conflict (state, editability, ledger, idempotency key in flight, concurrency)",
    412: "If-Match does not match the current version (of the order or configuration)",
    413: "Request body larger than 1 MiB",
    415: "The request body is not JSON",
    422: "Idempotency-Key reused for a different request",
    500: "Unexpected fault (internal-error)",
    502: "A hook or payment action failed upstream",
    503: "Database unavailable, migrations pending or shutting down",
}


class _Schema(GenerateJsonSchema):
    """pydantic's generator without a title on every property."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False


def schemas_of(
    types: dict[str, tuple[Any, JsonSchemaMode]],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """JSON Schemas of ``types`` (key -> (type, mode)) and the components they reference."""
    inputs = [(key, mode, TypeAdapter(type_)) for key, (type_, mode) in types.items()]
    by_key, definitions = TypeAdapter.json_schemas(
        inputs, ref_template=REF, schema_generator=_Schema
    )
    components = _resolve_markers(definitions.get("$defs", {}))
    components["AttributeValue"] = _resolve_markers(ATTRIBUTE_VALUE_SCHEMA)
    return {key: _resolve_markers(by_key[(key, mode)]) for key, (_, mode) in types.items()}, (
        components
    )


def _resolve_markers(value: Any) -> Any:
    """Turn the ``SCHEMA_REF`` markers of ``schemas_common`` into ``$ref``."""
    if isinstance(value, dict):
        if set(value) == {SCHEMA_REF}:
            return {"$ref": REF.format(model=value[SCHEMA_REF])}
        return {k: _resolve_markers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve_markers(v) for v in value]
    return value


def _header(name: str, required: bool, schema: dict[str, Any], text: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "header",
        "required": required,
        "schema": schema,
        "description": text,
    }


_ID_HEADER = {"type": "string", "minLength": 1, "maxLength": 128}
# RFC 9110 entity tags; the server splits the list at commas, so a tag holds none
_ETAG = r'[ \t]*(W/)?"[\x21\x23-\x2B\x2D-\x7E]*"[ \t]*'
IF_MATCH_PATTERN = rf"^([ \t]*\*[ \t]*|{_ETAG}(,{_ETAG})*)$"
IDEMPOTENCY_KEY_PATTERN = r"^[!-~]{1,255}$"


# path parameters the server checks beyond "a string" (adapters §3): the tenant of the
# Configuration API and the names a configuration may have
_PATH_SCHEMAS: dict[str, dict[str, Any]] = {
    "merchant": _ID_HEADER,
    "channel": _ID_HEADER,
    "configuration_name": {"type": "string", "pattern": r"^[A-Za-z0-9_.-]{1,128}$"},
}


def _parameters(op: Operation, path: str) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": _PATH_SCHEMAS.get(name, {"type": "string"}),
        }
        for name in _PATH_PARAM.findall(path)
    ]
    if op.channel == "path":
        for name in ("x-merchant", "x-channel"):
            params.append(_header(name, False, {"type": "string"}, "Ignored on this route"))
    elif op.api:
        params.append(_header("x-merchant", True, _ID_HEADER, "Merchant; must be the key's"))
        if op.channel == "required":
            params.append(_header("x-channel", True, _ID_HEADER, "Channel; one of the key's"))
        else:
            params.append(_header("x-channel", False, {"type": "string"}, "Ignored on this route"))
    if op.api:
        params.append(
            _header(
                "x-adapterid",
                False,
                {"type": "string", "maxLength": 128},
                "Adapter making the request: its hooks are skipped; recorded in history",
            )
        )
    if op.write:
        params.append(
            _header(
                "Idempotency-Key",
                False,
                {"type": "string", "pattern": IDEMPOTENCY_KEY_PATTERN},
                "Replays the recorded 2xx answer of an earlier request with this key (api §1.10)",
            )
        )
    if op.if_match:
        params.append(
            _header(
                "If-Match",
                False,
                {"type": "string", "pattern": IF_MATCH_PATTERN},
                'Entity tags of the order version ("7", W/"7") or *: 412 when none matches',
            )
        )
    params.extend(op.query)
    return params


def _content(schema: dict[str, Any], media_type: str = _JSON) -> dict[str, Any]:
    return {media_type: {"schema": schema}}


def _success(op: Operation, schema: dict[str, Any] | None) -> dict[str, Any]:
    response: dict[str, Any] = {"description": op.summary}
    if op.response == "empty":
        response["description"] = "No content: an empty body"
    elif op.response == "text":
        response["content"] = _content({"type": "string"}, "text/plain")
    elif op.response == "html":
        response["content"] = _content({"type": "string"}, "text/html")
    elif op.response == "openapi":
        response["content"] = _content({"type": "object"})
    elif op.response == "schema":
        response["content"] = _content({"type": "object"}, "application/schema+json")
    else:
        assert schema is not None
        response["content"] = _content(schema)
    if op.headers:
        response["headers"] = {
            name: {
                "description": text,
                "required": name in ("ETag", "Location"),
                "schema": {"type": "string"},
            }
            for name, text in op.headers.items()
        }
    return response


def _error(op: Operation, status: int, base_error: dict[str, Any]) -> dict[str, Any]:
    if op.id == "HealthReady" and status == 503:
        return {
            "description": "Not ready",
            "content": _content({"$ref": REF.format(model="HealthUnavailable")}),
        }
    if op.norce_id == "Validate" and status == 400:
        failed = {
            "type": "array",
            "items": {"$ref": REF.format(model="ValidationError")},
            "minItems": 1,
            "description": "The order did not pass validation",
        }
        return {
            "description": "Validation failed: a ValidationError array (the only error body "
            "that is not a BaseError); or a BaseError for a bad request",
            "content": _content({"oneOf": [failed, base_error]}),
        }
    return {"description": _ERRORS[status], "content": _content(base_error)}


def _operation(
    op: Operation, path: str, requests: dict[str, Any], responses: dict[str, Any]
) -> dict[str, Any]:
    base_error = {"$ref": REF.format(model="BaseError")}
    errors = sorted(op.errors | ({500, 503} if op.api else set()))
    document: dict[str, Any] = {
        "operationId": op.id,
        "summary": op.summary,
        "tags": [op.tag],
        "parameters": _parameters(op, path),
    }
    if op.request is not None:
        document["requestBody"] = {
            "required": op.request_required,
            "content": _content(requests[op.id]),
        }
    document["responses"] = {
        str(op.status): _success(op, responses.get(op.id)),
        **{str(status): _error(op, status, base_error) for status in errors},
    }
    document["security"] = [{"bearer": []}] if op.api else []
    return document


def _types(ops: list[Operation]) -> dict[str, tuple[Any, JsonSchemaMode]]:
    types: dict[str, tuple[Any, JsonSchemaMode]] = {
        "BaseError": (docs_models.BaseError, "validation"),
        "HealthUnavailable": (docs_models.HealthUnavailable, "validation"),
        "ValidationError": (docs_models.ValidationError, "validation"),
    }
    for op in ops:
        if op.request is not None:
            types["request:" + op.id] = (op.request, "validation")
        if not isinstance(op.response, str):
            types["response:" + op.id] = (op.response, "validation")
    return types


def documented_routes(app: FastAPI) -> list[tuple[str, str, Operation]]:
    """(path, method, operation) of every route in the document, the ops pages included."""
    found = [
        (str(route.path_format), method.lower(), OPERATIONS[str(route.operation_id)])
        for route in iter_route_contexts(app.routes)  # router routes with their prefixes
        if isinstance(route.original_route, APIRoute) and route.include_in_schema
        for method in sorted(route.methods or ())
    ]
    if app.openapi_url:
        found.append((app.openapi_url, "get", OPERATIONS["OpenApi"]))
    if app.docs_url:
        found.append((app.docs_url, "get", OPERATIONS["Docs"]))
    return found


def build_openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema:
        return app.openapi_schema
    routes = documented_routes(app)
    schemas, components = schemas_of(_types([op for _, _, op in routes]))
    requests = {k.split(":", 1)[1]: v for k, v in schemas.items() if k.startswith("request:")}
    responses = {k.split(":", 1)[1]: v for k, v in schemas.items() if k.startswith("response:")}
    paths: dict[str, dict[str, Any]] = {}
    for path, method, op in routes:
        paths.setdefault(path, {})[method] = _operation(op, path, requests, responses)
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "kassa",
            "version": __version__,
            "description": (
                "Checkout order management, wire-compatible with the Norce Checkout Order "
                "Management API v0 and v1 (the same orders under /api/v0/checkout/orders and "
                "/api/v1/checkout/orders; v1 operationIds end in V1), with idempotency keys, "
                "ETags and an order history."
            ),
        },
        "paths": paths,
        "components": {
            "schemas": dict(sorted(components.items())),
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API key (`kassa apikey create`); the bare key without "
                    "'Bearer ' is accepted too",
                }
            },
        },
    }
    app.openapi_schema = document
    return document
