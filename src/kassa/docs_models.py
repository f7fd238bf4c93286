"""Response schemas, for the OpenAPI document only (responses are served from stored JSON).

Stored documents are built from the request models (``WireModel.wire()``) plus fields kassa
sets, so these models reuse the request models for every part a client wrote and add what the
server writes, with the fields that are always present (api §3, "always") required. Every model
here forbids other properties, so an undocumented field in a response is a finding of
``make fuzz``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema
from pydantic.alias_generators import to_camel

from kassa.configuration import schemas as configuration_schemas
from kassa.orders import schemas
from kassa.orders.schemas import OrderVersionField
from kassa.payments.schemas import (
    ActionSnapshot,
    PaymentActionIn,
    PaymentEventField,
    PaymentStateField,
    PaymentTypeField,
    Recurring,
    Upsell,
)
from kassa.schemas_common import (
    Attributes,
    Currency,
    Money,
    Number,
    OrderStatus,
    Pointer,
    Text,
    Url,
    VatRate,
)
from kassa.schemas_common import Price as Amount
from kassa.shippings.schemas import Addon, DeliveryDetails, ShippingStateField

Timestamp = str  # RFC 3339, UTC, milliseconds (api §1.8)


class _Doc(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, serialize_by_alias=True, extra="forbid", strict=True
    )


# Errors -------------------------------------------------------------------------------------


class FieldError(_Doc):
    path: str = Field(
        description="JSON Pointer into the body, ?<name> for a query parameter, or header:<name>"
    )
    message: str


class ValidationError(_Doc):
    code: str = Field(description="Why validation failed, e.g. cart-empty")
    adapter_id: str | None = Field(description='The validation\'s adapterId, "kassa" or null')
    message: str | None = None


class BaseError(_Doc):
    code: str = Field(description="Machine-readable cause, e.g. order-not-found (api §1.9)")
    message: str
    request_id: str
    errors: list[FieldError] | list[ValidationError] | None = Field(
        default=None, description="Field details; ValidationError[] with validation-failed"
    )
    adapter_id: str | None = None
    hook_id: str | None = None
    upstream_status: int | None = None
    reason: Literal["http-error", "timeout", "network-error", "url-not-allowed"] | None = None
    from_: str | None = Field(default=None, alias="from")
    to: str | None = None
    state: str | None = None
    available: Number | None = None
    captured: Number | None = None
    current_e_tag: str | None = Field(default=None, alias="currentETag")


class CreateResponse(_Doc):
    id: str = Field(description="Id of the created object")


# A stored request model: the request model's fields, and no others
_CLOSED = ConfigDict(extra="forbid")


# The order ----------------------------------------------------------------------------------


class Price(_Doc):
    """A computed price: both components always present."""

    including_vat: Amount
    excluding_vat: Amount


class Transition(_Doc):
    status: OrderStatus
    time_stamp: Timestamp


class State(_Doc):
    current_status: OrderStatus
    transitions: list[Transition] = Field(min_length=1)


class CartItem(schemas.Item):
    """A cart line as stored: every line, at every level, has an id."""

    model_config = _CLOSED

    id: str = Field(min_length=1, max_length=128)
    # the stored form narrows the request field: the type checker sees an override
    items: list[CartItem] | None = None  # type: ignore[assignment]


class OrderCart(schemas.Cart):
    model_config = _CLOSED

    items: list[CartItem]  # type: ignore[assignment]  # narrowed: always present
    total: Price  # type: ignore[assignment]  # computed: always, both components


class StoredConsent(schemas.Consent):
    model_config = _CLOSED

    checked: bool
    required: bool


class StoredHook(schemas.Hook):
    model_config = _CLOSED

    id: str
    subscribe_to: Pointer
    scope: Pointer
    version: OrderVersionField


class StoredNotification(schemas.Notification):
    model_config = _CLOSED

    id: str
    version: OrderVersionField


class StoredValidation(schemas.Validation):
    model_config = _CLOSED

    id: str
    url: Url
    invoke: Url


class PaymentAction(PaymentActionIn):
    model_config = _CLOSED

    id: str


class Payment(_Doc):
    id: str
    adapter_id: Text | None = None
    name: Text | None = None
    merchant: str
    channel: str
    currency: Currency | None = None
    type: PaymentTypeField
    order_id: str
    amount: Money
    upper_limit_amount: Money | None = None
    state: PaymentStateField
    reference: Text | None = None
    attributes: Attributes | None = None
    actions: list[PaymentAction]
    recurring: Recurring | None = None
    upsell: Upsell | None = None


class PaymentTransaction(_Doc):
    id: str
    event: PaymentEventField
    psp_event: Text | None = None
    amount: Money | None = None
    is_success: bool
    error_detail: Text | None = None
    psp_status: Text | None = None
    request_json: str | None = None
    response_json: str | None = None
    created: Timestamp
    payment_action: ActionSnapshot | None = None


class Shipping(_Doc):
    id: str
    merchant: str
    channel: str
    state: ShippingStateField
    reference: Text | None = None
    tms_reference: Text | None = None
    order_id: str
    adapter_id: Text | None = None
    name: Text | None = None
    total: schemas.PriceIn
    vat_rate: VatRate
    delivery_details: DeliveryDetails | None = None
    addons: list[Addon] | None = None
    attributes: Attributes | None = None


class Order(_Doc):
    id: str
    merchant: str
    channel: str
    reference: Text | None = None
    created: Timestamp
    last_modified: Timestamp
    state: State
    culture: str | None = None
    currency: str | None = None
    country: str | None = None
    cart: OrderCart
    shippings: list[Shipping]
    payments: list[Payment]
    customer: schemas.Customer | None = None
    consents: list[StoredConsent]
    validations: list[StoredValidation]
    hooks: list[StoredHook]
    notifications: list[StoredNotification]
    total: Price
    attributes: Attributes | None = None


class Pagination(_Doc):
    offset: int
    limit: int = Field(ge=1, le=100)
    size: int
    total_size: int
    value_sum: Number


class OrderPaginationSet(_Doc):
    data: list[Order]
    pagination: Pagination


# History ------------------------------------------------------------------------------------


class Actor(_Doc):
    key_name: str
    adapter_id: str | None


class HookCall(_Doc):
    hook_id: str
    adapter_id: str | None = None
    outcome: Literal["approved", "patched", "failed"]


class PatchOperation(_Doc):
    op: Literal["add", "remove", "replace", "move", "copy", "test"]
    path: str
    from_: str | None = Field(default=None, alias="from")
    value: Any = None


class HistoryEntry(_Doc):
    sequence: int = Field(ge=1)
    at: Timestamp
    actor: Actor
    operation: str
    request_id: str
    patch: list[PatchOperation]
    hook_calls: list[HookCall]
    details: dict[str, Any] | None = None


# Events -------------------------------------------------------------------------------------


class EventAttempt(_Doc):
    number: int
    trigger: Literal["automatic", "manual"]
    started_at: Timestamp
    duration_ms: int = Field(ge=0)
    outcome: Literal["success", "http-error", "timeout", "network-error", "url-not-allowed"]
    status_code: int | None
    error: str | None
    response_excerpt: str = Field(description="First 2,048 characters of the response body")


class EventPayload(_Doc):
    notification: StoredNotification
    order: Order


class Event(_Doc):
    id: str = Field(description="Event id; also the webhook-id of every delivery attempt")
    merchant: str
    channel: str
    order_id: str
    order_version: int
    sequence: int = Field(description="Delivery order within the order: 1, 2, 3 ...")
    notification_id: str
    adapter_id: str | None = None
    reference: str | None = None
    description: str | None = None
    scope: str
    invoke: str = Field(description="Target URL after placeholder replacement")
    status: Literal["pending", "succeeded", "failed"]
    created: Timestamp
    attempt_count: int = Field(ge=0)
    last_attempt_at: Timestamp | None
    last_status_code: int | None
    next_attempt_at: Timestamp | None = Field(description="null unless pending")


class EventDetail(Event):
    """An event from GetEvent: with the payload POSTed and the attempt log."""

    payload: EventPayload = Field(description="Exactly the body POSTed to invoke")
    attempts: list[EventAttempt] = Field(description="Oldest first")


class EventPagination(_Doc):
    offset: int
    limit: int = Field(ge=1, le=100)
    size: int
    total_size: int


class EventPaginationSet(_Doc):
    data: list[Event]
    pagination: EventPagination


# Operations endpoints -------------------------------------------------------------------------


class ReadyChecks(_Doc):
    database: Literal["ok", "failed"]
    migrations: Literal["ok", "failed"]


class HealthStatus(_Doc):
    status: Literal["ok"]
    checks: ReadyChecks | None = Field(default=None, description="Readiness only")


# Configurations (adapters §3.1): any object passing the base schema, documented with that
# very schema (the file the API validates with and serves at C8)
Configuration = Annotated[
    dict[str, Any],
    WithJsonSchema(
        {
            k: v
            for k, v in configuration_schemas.schema_for(configuration_schemas.BASE).items()
            if k not in ("$schema", "$id")
        }
    ),
]


class HealthUnavailable(_Doc):
    status: Literal["unavailable"]
    checks: ReadyChecks
    code: Literal["service-unavailable"]
    message: str
