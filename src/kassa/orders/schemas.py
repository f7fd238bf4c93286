"""Wire schemas of the order resource (api §3.1-3.16) as request bodies.

These models validate input only; responses are the stored documents themselves, which were
produced from these models and carry the same field names.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from kassa.schemas_common import (
    Attributes,
    Count,
    Country,
    Culture,
    Currency,
    CustomerType,
    DateTime,
    DiscountType,
    OrderStatus,
    OrderVersion,
    Pointer,
    Price,
    ProductType,
    Text,
    Url,
    VatRate,
    WireModel,
    ci_enum,
    null_means_absent,
)

CustomerTypeField = Annotated[CustomerType, ci_enum(CustomerType)]
DiscountTypeField = Annotated[DiscountType, ci_enum(DiscountType)]
ProductTypeField = Annotated[ProductType, ci_enum(ProductType)]
OrderVersionField = Annotated[OrderVersion, ci_enum(OrderVersion)]
OrderStatusField = Annotated[OrderStatus, ci_enum(OrderStatus)]


class PriceIn(WireModel):
    including_vat: Price | None = None
    excluding_vat: Price | None = None


class Discount(WireModel):
    type: DiscountTypeField | None = None
    name: Text | None = None
    reference: Text | None = None
    description: Text | None = None
    code: Text | None = None
    value: PriceIn | None = None
    attributes: Attributes | None = None


class Logistics(WireModel):
    weight: Count | None = None
    height: Count | None = None
    width: Count | None = None
    length: Count | None = None
    tags: list[Text] | None = None
    shipping_date: DateTime | None = None


class Item(WireModel):
    id: str | None = Field(default=None, min_length=1, max_length=128)
    reference: Text | None = None
    name: Text | None = None
    sku: Text | None = None
    product_type: ProductTypeField | None = None
    items: list[Item] | None = None
    url: Text | None = None
    image_url: Text | None = None
    quantity: Count | None = None
    unit: Text | None = None
    price: PriceIn | None = None
    total: PriceIn | None = None
    original_total: PriceIn | None = None
    vat_rate: VatRate | None = None
    discounts: list[Discount] | None = None
    logistics: Logistics | None = None
    upsell: bool | None = None
    attributes: Attributes | None = None


class Cart(WireModel):
    reference: Text | None = None
    items: list[Item] | None = None
    discounts: list[Discount] | None = None
    total: PriceIn | None = None
    attributes: Attributes | None = None


class Address(WireModel):
    type: CustomerTypeField | None = None
    given_name: Text | None = None
    family_name: Text | None = None
    care_of: Text | None = None
    reference: Text | None = None
    organization_name: Text | None = None
    street_address: Text | None = None
    street_address2: Text | None = Field(default=None, alias="streetAddress2")
    postal_code: Text | None = None
    city: Text | None = None
    region: Text | None = None
    country: Country | None = None
    phone: Text | None = None
    email: Text | None = None
    national_identification_number: Text | None = None
    organization_identification_number: Text | None = None
    attributes: Attributes | None = None


class Customer(WireModel):
    billing: Address | None = None
    shipping: Address | None = None
    type: CustomerTypeField | None = None
    attributes: Attributes | None = None


class Consent(WireModel):
    id: str = Field(min_length=1, max_length=128)
    checked: bool = False
    text: Text | None = None
    required: bool = False


class ConsentCheck(WireModel):
    """PATCH consents element: ``id`` and ``checked``, nothing else is read."""

    id: str = Field(min_length=1, max_length=128)
    checked: bool


class ConsentChecked(WireModel):
    """PATCH one consent: only ``checked`` is read."""

    checked: bool


def _one_of(first: str, second: str, rule: str) -> ConfigDict:
    """Document a model-validator rule: ``first`` or ``second`` (non-null) is required."""

    def extra(schema: dict[str, Any]) -> None:
        null_means_absent(schema)
        schema["anyOf"] = [
            {"required": [name], "properties": {name: {"type": "string"}}}
            for name in (first, second)
        ]
        schema["description"] = rule

    return ConfigDict(json_schema_extra=extra)


class Hook(WireModel):
    model_config = _one_of(
        "subscribeTo",
        "scope",
        "One of subscribeTo (v0) or scope (v1) is required; when both are sent they must be "
        "equal. Output carries both.",
    )

    adapter_id: Text | None = None
    subscribe_to: Pointer | None = None
    scope: Pointer | None = None
    target: Pointer | None = None
    invoke: Url
    version: OrderVersionField = OrderVersion.v0
    description: Text | None = None
    reference: Text | None = None

    @model_validator(mode="after")
    def _one_path(self) -> Hook:
        path = self.subscribe_to or self.scope
        if path is None:
            raise PydanticCustomError("missing", "One of subscribeTo or scope is required")
        if self.subscribe_to and self.scope and self.subscribe_to != self.scope:
            raise PydanticCustomError("mismatch", "subscribeTo and scope must be equal")
        self.subscribe_to = self.scope = path
        return self

    def stored(self, hook_id: str) -> dict[str, Any]:
        return {"id": hook_id, **self.wire()}


class Notification(WireModel):
    adapter_id: Text | None = None
    reference: Text | None = None
    description: Text | None = None
    scope: Pointer
    schema_: dict[str, Any] | None = Field(
        default=None,
        alias="schema",
        description="JSON Schema 2020-12 (local $ref only) the new value must match.",
    )
    invoke: Url
    version: OrderVersionField = OrderVersion.v0

    @model_validator(mode="after")
    def _valid_schema(self) -> Notification:
        if self.schema_ is not None:
            from kassa.jsonschema_check import schema_problem

            problem = schema_problem(self.schema_)
            if problem:
                raise PydanticCustomError("json_schema", "Invalid JSON Schema: {p}", {"p": problem})
        return self

    def stored(self, notification_id: str) -> dict[str, Any]:
        return {"id": notification_id, **self.wire()}


class Validation(WireModel):
    model_config = _one_of(
        "url",
        "invoke",
        "One of url (v0) or invoke (v1) is required; when both are sent they must be equal. "
        "Output carries both.",
    )

    adapter_id: Text | None = None
    url: Url | None = None
    invoke: Url | None = None
    description: Text | None = None
    reference: Text | None = None

    @model_validator(mode="after")
    def _one_url(self) -> Validation:
        target = self.url or self.invoke
        if target is None:
            raise PydanticCustomError("missing", "One of url or invoke is required")
        if self.url and self.invoke and self.url != self.invoke:
            raise PydanticCustomError("mismatch", "url and invoke must be equal")
        self.url = self.invoke = target
        return self

    def stored(self, validation_id: str) -> dict[str, Any]:
        return {"id": validation_id, **self.wire()}


class OrderCreate(WireModel):
    reference: Text | None = None
    culture: Culture | None = None
    currency: Currency | None = None
    country: Country | None = None
    cart: Cart | None = None
    customer: Customer | None = None
    consents: list[Consent] | None = None
    validations: list[Validation] | None = None
    hooks: list[Hook] | None = None
    notifications: list[Notification] | None = None
    attributes: Attributes | None = None


class StateChange(WireModel):
    current_status: OrderStatusField
