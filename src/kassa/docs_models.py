"""Response schemas, for the OpenAPI document only (responses are served from stored JSON)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from kassa.orders import schemas


class _Doc(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, serialize_by_alias=True)


class BaseError(_Doc):
    code: str = Field(description="Machine-readable cause, e.g. order-not-found")
    message: str
    request_id: str
    errors: list[dict[str, Any]] | None = None


class CreateResponse(_Doc):
    id: str


class Price(_Doc):
    including_vat: Decimal
    excluding_vat: Decimal


class Transition(_Doc):
    status: str
    time_stamp: str


class State(_Doc):
    current_status: str
    transitions: list[Transition]


class StoredHook(schemas.Hook):
    id: str


class StoredNotification(schemas.Notification):
    id: str


class StoredValidation(schemas.Validation):
    id: str


class Order(_Doc):
    id: str
    merchant: str
    channel: str
    reference: str | None = None
    created: str
    last_modified: str
    state: State
    culture: str | None = None
    currency: str | None = None
    country: str | None = None
    cart: schemas.Cart
    shippings: list[dict[str, Any]]
    payments: list[dict[str, Any]]
    customer: schemas.Customer | None = None
    consents: list[schemas.Consent]
    validations: list[StoredValidation]
    hooks: list[StoredHook]
    notifications: list[StoredNotification]
    total: Price
    attributes: dict[str, Any] | None = None


class Pagination(_Doc):
    offset: int
    limit: int
    size: int
    total_size: int
    value_sum: Decimal


class OrderPaginationSet(_Doc):
    data: list[Order]
    pagination: Pagination


class ValidationError(_Doc):
    code: str
    adapter_id: str | None
    message: str | None = None


class Actor(_Doc):
    key_name: str
    adapter_id: str | None


class HistoryEntry(_Doc):
    sequence: int
    at: str
    actor: Actor
    operation: str
    request_id: str
    patch: list[dict[str, Any]]
    hook_calls: list[dict[str, Any]]
    details: dict[str, Any] | None = None


class EventAttempt(_Doc):
    number: int
    trigger: Literal["automatic", "manual"]
    started_at: str
    duration_ms: int
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
    created: str
    attempt_count: int
    last_attempt_at: str | None
    last_status_code: int | None
    next_attempt_at: str | None = Field(description="null unless pending")
    payload: EventPayload | None = Field(default=None, description="Only from GetEvent")
    attempts: list[EventAttempt] | None = Field(
        default=None, description="Only from GetEvent; oldest first"
    )


class EventPagination(_Doc):
    offset: int
    limit: int
    size: int
    total_size: int


class EventPaginationSet(_Doc):
    data: list[Event]
    pagination: EventPagination


class HealthStatus(_Doc):
    status: str
    checks: dict[str, str] | None = None


DOC_MODELS: dict[str, type[BaseModel]] = {
    "BaseError": BaseError,
    "CreateResponse": CreateResponse,
    "Order": Order,
    "OrderPaginationSet": OrderPaginationSet,
    "ValidationError": ValidationError,
    "HistoryEntry": HistoryEntry,
    "HealthStatus": HealthStatus,
    "Event": Event,
    "EventAttempt": EventAttempt,
    "EventPaginationSet": EventPaginationSet,
}
