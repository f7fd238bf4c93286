"""Every operation of the API in one declared table (api §2.0): what it reads, what it answers.

Each route takes its decorator arguments from here (``route``), and ``kassa.openapi`` builds the
document from the same entries and the same models the routes validate with, so a route and
its documentation cannot disagree: a route without an entry fails at import, an entry without a
route fails the tests, and the request schema is generated from the model the handler uses.

``errors`` are the error statuses of api §2 (sets A, B, I, O, W, H of §1.13 plus the codes an
operation lists); every operation under ``/api/`` also answers 500 and 503 (api §1.9).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Annotated, Any, Literal

from pydantic import Field

from kassa import docs_models as out
from kassa.orders import schemas as orders
from kassa.payments.schemas import PaymentActionIn, PaymentIn, TransactionIn
from kassa.schemas_common import Attributes, OrderStatus, Text
from kassa.shippings.schemas import ShippingIn

Body = Literal["empty", "text", "html", "openapi", "schema"]
Tag = Literal[
    "Checkout", "Checkout Payment", "Checkout Shipping", "Events", "Configuration", "Operations"
]

# Error sets of api §1.13
A = frozenset({400, 401, 403})  # every route under /api/
B = frozenset({400, 413, 415})  # a request body
I = frozenset({400, 409, 413, 422})  # noqa: E741  writes: Idempotency-Key, body size
O = frozenset({404})  # noqa: E741  below /{order_id}
W = O | {409, 412}  # writes on an existing order
H = frozenset({400, 502})  # writes that run hooks
SERVER = frozenset({500, 503})


@dataclass(frozen=True)
class Operation:
    """One row of the table."""

    id: str
    summary: str
    tag: Tag
    status: int
    response: Any  # a model or type of the body, or a ``Body`` kind ("empty": no content)
    errors: frozenset[int] = frozenset()
    request: Any = None  # the type the handler validates the body with; None: no body read
    request_required: bool = True
    write: bool = False  # Idempotency-Key (and the body size limit) apply
    if_match: bool = False  # If-Match applies
    # x-channel required, or optional and ignored; "path": merchant and channel are path
    # parameters, x-merchant and x-channel optional and ignored (adapters §2.1); "none": no key
    channel: Literal["required", "ignored", "path", "none"] = "required"
    query: tuple[dict[str, Any], ...] = ()
    headers: dict[str, str] = field(default_factory=dict)  # response header -> description

    @property
    def api(self) -> bool:
        return self.channel != "none"

    @property
    def norce_id(self) -> str:
        """The operation's name, the same for its v0 and v1 routes (v1.md §2.2)."""
        return self.id.removesuffix(V1_SUFFIX)


# Response headers
ETAG = {"ETag": 'The order version after the request, e.g. "7" (api §1.11)'}
LOCATION = {"Location": "Path of the new resource, including the path prefix"}
WARNINGS = {"Kassa-Warnings": "hook-failed:<id> and validation-unavailable:<id> tokens"}
REPLAYED = {"Idempotent-Replayed": "true on a response replayed for an Idempotency-Key"}
CONFIGURATION_ETAG = {"ETag": 'The configuration version, e.g. "1" (adapters §3.1)'}
SCHEMA_CACHE = {"Cache-Control": "public, max-age=3600"}

ConsentChecks = list[orders.ConsentCheck]
PaymentActions = Annotated[list[PaymentActionIn], Field(min_length=1)]


def _q(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


def _many(items: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": items, "maxItems": 50}


_TEXT = {"type": "string"}
_MAX_INT = 2**53
_OFFSET = _q(
    "offset", {"type": "integer", "minimum": 0, "maximum": _MAX_INT, "default": 0}, "Skipped"
)
_DATE = {
    "anyOf": [
        {"type": "string", "format": "date", "pattern": r"^\d{4}-\d{2}-\d{2}$"},
        {"type": "string", "format": "date-time"},
    ]
}
_STATUSES = {"type": "string", "enum": [s.value for s in OrderStatus]}

ORDER_QUERY = (
    _OFFSET,
    _q(
        "limit",
        {"type": "integer", "minimum": 1, "default": 20},
        "Page size; values above 100 are served as 100",
    ),
    _q(
        "search",
        {"type": "string", "minLength": 1, "maxLength": 200},
        "Case-insensitive substring of id, references, billing/shipping names and emails",
    ),
    _q("payment_id", _TEXT, "Orders with a payment of this id"),
    _q("reference", _TEXT, "reference equals"),
    _q("cart_reference", _TEXT, "cart.reference equals"),
    _q("status", _many(_STATUSES), "state.currentStatus is one of (case-insensitive)"),
    _q("countries", _many(_TEXT), "country is one of (case-insensitive)"),
    *(
        _q(f"{kind}_{what}", _many(_TEXT), f"{kind} address {what[:-1]} is one of")
        for kind in ("billing", "shipping")
        for what in ("countries", "emails", "names", "phones")
    ),
    _q("date_from", _DATE, "created at or after (RFC 3339 date or date-time)"),
    _q("date_to", _DATE, "created at or before (a date means the whole day)"),
    _q(
        "order_by",
        {"type": "string", "enum": ["created", "billingEmail", "billingName", "cartTotal"]},
        "Sort key (case-insensitive), default created",
    ),
    _q(
        "order_by_direction",
        {"type": "string", "enum": ["asc", "desc"]},
        "Sort direction (case-insensitive), default desc",
    ),
)

EVENT_QUERY = (
    _q("order_id", _TEXT, "Events of this order (alias orderId)"),
    _q("orderId", _TEXT, "Alias of order_id"),
    _q("adapter_id", _TEXT, "The notification's adapterId (alias adapterId)"),
    _q("adapterId", _TEXT, "Alias of adapter_id"),
    _q("reference", _TEXT, "The notification's reference"),
    _q("channel", _TEXT, "Channel of the order"),
    _q(
        "status",
        _many({"type": "string", "enum": ["pending", "succeeded", "failed"]}),
        "Event status, repeatable (case-insensitive)",
    ),
    _OFFSET,
    _q(
        "limit",
        {"type": "integer", "minimum": 1, "default": 10},
        "Page size; values above 100 are served as 100",
    ),
)

# the Configuration API requires no header; a bad x-adapterid is still a 400
_CONFIG = frozenset({400, 401, 403})
_BODY_WRITE = A | B | I | W | H  # a write of an order part that runs hooks
_WRITE = A | I | W | H  # the same without a body


def _write(
    id: str, summary: str, request: Any, *, tag: Tag = "Checkout", errors: frozenset[int] = A
) -> Operation:
    """A write answering 200 with an empty body (api §2.0)."""
    return Operation(
        id,
        summary,
        tag,
        200,
        "empty",
        (_BODY_WRITE if request is not None else _WRITE) | errors | {409},
        request=request,
        write=True,
        if_match=True,
        headers={**ETAG, **WARNINGS, **REPLAYED},
    )


_OPERATIONS = [
    # 2.1 Checkout
    Operation(
        "CreateCheckoutOrder",
        "Create an order",
        "Checkout",
        201,
        out.CreateResponse,
        A | B | I,
        request=orders.OrderCreate,
        request_required=False,
        write=True,
        headers={**LOCATION, **ETAG, **REPLAYED},
    ),
    Operation(
        "GetCheckoutOrders",
        "List orders",
        "Checkout",
        200,
        out.OrderPaginationSet,
        A,
        query=ORDER_QUERY,
    ),
    Operation("GetCheckoutOrder", "Get an order", "Checkout", 200, out.Order, A | O, headers=ETAG),
    Operation(
        "DeleteCheckoutOrder",
        "Delete an order",
        "Checkout",
        204,
        "empty",
        A | I | W,
        write=True,
        if_match=True,
        headers=REPLAYED,
    ),
    _write("PatchCheckoutOrderAttributes", "Merge into the order's attributes", Attributes),
    _write("UpdateCheckoutOrderCart", "Replace the cart", orders.Cart),
    _write("CreateCheckoutOrderConsent", "Add a consent", orders.Consent),
    _write("PatchCheckoutOrderConsents", "Set checked of several consents", ConsentChecks),
    _write("RemoveCheckoutOrderConsent", "Remove a consent", None),
    _write("PatchCheckoutOrderConsent", "Set checked of a consent", orders.ConsentChecked),
    _write("UpdateCheckoutOrderCustomerBilling", "Replace the billing address", orders.Address),
    _write("UpdateCheckoutOrderCustomerShipping", "Replace the shipping address", orders.Address),
    *(
        Operation(
            id,
            summary,
            "Checkout",
            200,
            out.CreateResponse,
            _BODY_WRITE | {409},
            request=model,
            write=True,
            if_match=True,
            headers={**ETAG, **WARNINGS, **REPLAYED},
        )
        for id, summary, model in (
            ("CreateCheckoutOrderHook", "Register a hook", orders.Hook),
            ("CreateCheckoutOrderNotification", "Register a notification", orders.Notification),
            ("CreateCheckoutOrderValidation", "Register a validation", orders.Validation),
        )
    ),
    _write("DeleteCheckoutOrderHook", "Remove a hook", None),
    _write("DeleteCheckoutOrderNotification", "Remove a notification", None),
    _write("UpdateCheckoutOrderReference", "Set the order reference (a JSON string)", Text),
    _write("UpdateCheckoutOrderState", "Change the order state", orders.StateChange),
    Operation(
        "Validate",
        "Run the validations (400: a ValidationError array)",
        "Checkout",
        200,
        list[out.ValidationError],
        A | I | O,
        write=True,
        headers={**WARNINGS, **REPLAYED},
    ),
    _write("UpdateCheckoutOrderValidation", "Replace a validation", orders.Validation),
    _write("RemoveCheckoutOrderValidation", "Remove a validation", None),
    Operation(
        "GetCheckoutOrderHistory",
        "The order's history",
        "Checkout",
        200,
        list[out.HistoryEntry],
        A | O,
    ),
    # 2.2 Checkout Payment
    Operation(
        "GetOrderPayments",
        "List payments",
        "Checkout Payment",
        200,
        list[out.Payment],
        A | O,
        headers=ETAG,
    ),
    Operation(
        "CreateOrderPayment",
        "Add a payment",
        "Checkout Payment",
        201,
        out.CreateResponse,
        _BODY_WRITE | {409},
        request=PaymentIn,
        request_required=False,
        write=True,
        if_match=True,
        headers={**LOCATION, **ETAG, **WARNINGS, **REPLAYED},
    ),
    Operation(
        "GetOrderPayment",
        "Get a payment",
        "Checkout Payment",
        200,
        out.Payment,
        A | O,
        headers=ETAG,
    ),
    Operation(
        "UpdateOrderPayment",
        "Replace a payment",
        "Checkout Payment",
        200,
        out.Payment,
        _BODY_WRITE | {409},
        request=PaymentIn,
        write=True,
        if_match=True,
        headers={**ETAG, **WARNINGS, **REPLAYED},
    ),
    Operation(
        "AddPaymentAction",
        "Add payment actions",
        "Checkout Payment",
        200,
        list[out.PaymentAction],
        _BODY_WRITE | {409},
        request=PaymentActions,
        write=True,
        if_match=True,
        headers={**ETAG, **WARNINGS, **REPLAYED},
    ),
    Operation(
        "ExecutePaymentAction",
        "Execute a payment action",
        "Checkout Payment",
        200,
        out.PaymentTransaction,
        A | I | O | {400, 409, 412, 502},
        write=True,
        if_match=True,
        headers={**ETAG, **REPLAYED},
    ),
    Operation(
        "GetTransactionsForOrderPayment",
        "List a payment's transactions",
        "Checkout Payment",
        200,
        list[out.PaymentTransaction],
        A | O,
    ),
    Operation(
        "AddTransactionForOrderPayment",
        "Append a transaction to a payment's ledger",
        "Checkout Payment",
        200,
        out.PaymentTransaction,
        A | B | I | O | {409, 412},
        request=TransactionIn,
        write=True,
        if_match=True,
        headers={**ETAG, **REPLAYED},
    ),
    # 2.3 Checkout Shipping
    Operation(
        "GetOrderShippings",
        "List shippings",
        "Checkout Shipping",
        200,
        list[out.Shipping],
        A | O,
        headers=ETAG,
    ),
    Operation(
        "CreateOrderShipping",
        "Add a shipping",
        "Checkout Shipping",
        201,
        out.CreateResponse,
        _BODY_WRITE | {409},
        request=ShippingIn,
        write=True,
        if_match=True,
        headers={**LOCATION, **ETAG, **WARNINGS, **REPLAYED},
    ),
    Operation(
        "GetOrderShipping",
        "Get a shipping",
        "Checkout Shipping",
        200,
        out.Shipping,
        A | O,
        headers=ETAG,
    ),
    Operation(
        "UpdateOrderShipping",
        "Replace a shipping",
        "Checkout Shipping",
        200,
        out.Shipping,
        _BODY_WRITE | {409},
        request=ShippingIn,
        write=True,
        if_match=True,
        headers={**ETAG, **WARNINGS, **REPLAYED},
    ),
    # 2.4 kassa extensions
    Operation(
        "GetEvents",
        "List notification events",
        "Events",
        200,
        out.EventPaginationSet,
        A,
        channel="ignored",
        query=EVENT_QUERY,
    ),
    Operation(
        "GetEvent",
        "Get one event with its payload and attempts",
        "Events",
        200,
        out.EventDetail,
        A | {404},
        channel="ignored",
    ),
    Operation(
        "RetryEvent",
        "Schedule a manual delivery attempt (replay a finished event)",
        "Events",
        202,
        out.Event,
        A | I | {404},
        write=True,
        channel="ignored",
        headers=REPLAYED,
    ),
    # Configuration API (adapters §3.2)
    Operation(
        "GetConfigurationChannels",
        "List the merchant's channels that hold configurations (the key's channels only)",
        "Configuration",
        200,
        list[str],
        _CONFIG,
        channel="path",
    ),
    Operation(
        "GetConfigurations",
        "List a channel's configurations, ascending by id",
        "Configuration",
        200,
        list[out.Configuration],
        _CONFIG,
        channel="path",
    ),
    Operation(
        "PutConfigurations",
        "Set or replace the listed configurations (all or nothing); others are kept",
        "Configuration",
        200,
        list[out.Configuration],
        _CONFIG | B | I,
        request=list[out.Configuration],
        write=True,
        channel="path",
        headers=REPLAYED,
    ),
    Operation(
        "DeleteConfigurations",
        "Delete every configuration of a channel",
        "Configuration",
        204,
        "empty",
        _CONFIG | I,
        write=True,
        channel="path",
        headers=REPLAYED,
    ),
    Operation(
        "GetConfiguration",
        "Get a configuration",
        "Configuration",
        200,
        out.Configuration,
        _CONFIG | {404},
        channel="path",
        headers=CONFIGURATION_ETAG,
    ),
    Operation(
        "PutConfiguration",
        "Create or fully replace a configuration",
        "Configuration",
        200,
        out.Configuration,
        _CONFIG | B | I | {404, 412},
        request=out.Configuration,
        write=True,
        if_match=True,
        channel="path",
        headers={**CONFIGURATION_ETAG, **REPLAYED},
    ),
    Operation(
        "DeleteConfiguration",
        "Delete a configuration",
        "Configuration",
        204,
        "empty",
        _CONFIG | I | {404, 412},
        write=True,
        if_match=True,
        channel="path",
        headers=REPLAYED,
    ),
    Operation(
        "GetConfigurationSchema",
        "The base configuration schema (JSON Schema 2020-12)",
        "Configuration",
        200,
        "schema",
        channel="none",
        headers=SCHEMA_CACHE,
    ),
    Operation("HealthLive", "Liveness", "Operations", 200, out.HealthStatus, channel="none"),
    Operation(
        "HealthReady",
        "Readiness: database reachable and schema current",
        "Operations",
        200,
        out.HealthStatus,
        frozenset({503}),
        channel="none",
    ),
    Operation("Metrics", "Prometheus metrics", "Operations", 200, "text", channel="none"),
    Operation("OpenApi", "This OpenAPI document", "Operations", 200, "openapi", channel="none"),
    Operation("Docs", "Interactive API documentation", "Operations", 200, "html", channel="none"),
]

# The Order API v1 (v1.md §2): each order operation (api ops 1-35) is served once more under
# /api/v1/checkout/orders. One document cannot repeat an operationId, so the v1 routes carry the
# Norce id plus ``V1`` (§2.2); only /openapi.json shows it: the endpoint, shared with v0, names
# the operation by its Norce id everywhere else (history, logs).
V1_SUFFIX = "V1"
ORDER_TAGS: frozenset[Tag] = frozenset({"Checkout", "Checkout Payment", "Checkout Shipping"})
_OPERATIONS += [replace(op, id=op.id + V1_SUFFIX) for op in _OPERATIONS if op.tag in ORDER_TAGS]

OPERATIONS: dict[str, Operation] = {op.id: op for op in _OPERATIONS}
assert len(OPERATIONS) == len(_OPERATIONS), "duplicate operation id"


def route(operation_id: str, **extra: Any) -> dict[str, Any]:
    """Decorator arguments of the route serving ``operation_id``."""
    op = OPERATIONS[operation_id]
    return {
        "operation_id": op.id,
        "summary": op.summary,
        "status_code": op.status,
        "tags": [op.tag],
        "response_model": None,
        **extra,
    }
