"""Building blocks shared by every wire schema: strict JSON types, money, enums, pointers.

Bodies arrive already parsed by ``kassa.jsonutil`` (fractions as ``Decimal``), so every type here
validates Python values in strict mode: ``"1"`` is not a number, ``1`` is not a string, ``true`` is
not a number. Money violations raise the error type ``invalid_amount`` so the route layer can
answer ``invalid-amount`` instead of ``invalid-request``.
"""

from __future__ import annotations

import re
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from kassa import money
from kassa.timeutil import is_rfc3339

E = TypeVar("E", bound=StrEnum)

MAX_STRING = 4096
MAX_URL = 2048
MAX_ATTRIBUTE_KEY = 256
MAX_ATTRIBUTE_STRING = 65536


def null_means_absent(schema: dict[str, Any]) -> None:
    """The JSON Schema side of ``_null_is_absent``: an optional property also accepts ``null``."""
    required = set(schema.get("required", ()))
    for name, prop in schema.get("properties", {}).items():
        if name in required or _allows_null(prop):
            continue
        default = prop.pop("default", None)
        description = prop.pop("description", None)
        nullable: dict[str, Any] = {"anyOf": [dict(prop), {"type": "null"}]}
        if description is not None:
            nullable["description"] = description
        if default is not None:
            nullable["default"] = default
        prop.clear()
        prop.update(nullable)


def _allows_null(prop: dict[str, Any]) -> bool:
    return prop.get("type") == "null" or any(
        branch.get("type") == "null" for branch in prop.get("anyOf", ())
    )


class WireModel(BaseModel):
    """Base of every request/response schema: camelCase on the wire, unknown fields ignored."""

    model_config = ConfigDict(
        json_schema_extra=null_means_absent,
        strict=True,
        extra="ignore",
        alias_generator=to_camel,
        validate_by_name=False,
        validate_by_alias=True,
        serialize_by_alias=True,
        use_enum_values=True,
        validate_default=True,
    )

    @model_validator(mode="before")
    @classmethod
    def _null_is_absent(cls, data: Any) -> Any:
        # api §1.6: a known field sent as null is treated as absent (defaults apply)
        if isinstance(data, dict) and None in data.values():
            return {k: v for k, v in data.items() if v is not None}
        return data

    def wire(self) -> dict[str, Any]:
        """The model as stored JSON: aliases, enum values, absent and ``null`` fields left out."""
        return self.model_dump(mode="python", by_alias=True, exclude_none=True)


def _number(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise PydanticCustomError("number_type", "Input should be a number")
    if isinstance(value, int):
        return Decimal(value)
    if not value.is_finite():
        raise PydanticCustomError("number_type", "Input should be a finite number")
    return value


def _price(value: Decimal) -> Decimal:
    problem = money.price_problem(value)
    if problem:
        raise PydanticCustomError("invalid_amount", "Amount {problem}", {"problem": problem})
    return value


def _non_negative_money(value: Decimal) -> Decimal:
    if value < 0:
        raise PydanticCustomError("invalid_amount", "Amount must not be negative")
    return value


def _integer(value: Any) -> Any:
    if isinstance(value, bool):
        raise PydanticCustomError("int_type", "Input should be an integer")
    if isinstance(value, Decimal):
        if value.is_finite() and value == value.to_integral_value():
            return int(value)
        raise PydanticCustomError("int_type", "Input should be an integer")
    return value


def _vat_rate(value: Decimal) -> Decimal:
    if not 0 <= value <= 1:
        raise PydanticCustomError("vat_rate", "vatRate must be between 0 and 1")
    if money.fraction_digits(value) > 6:
        raise PydanticCustomError("vat_rate", "vatRate must have at most 6 fractional digits")
    return value


def _rfc3339(value: str) -> str:
    if not is_rfc3339(value):
        raise PydanticCustomError("date_time", "Input should be an RFC 3339 date-time")
    return value


def _check_attributes(value: dict[str, Any]) -> dict[str, Any]:
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, sub in item.items():
                if len(key) > MAX_ATTRIBUTE_KEY:
                    raise PydanticCustomError(
                        "attribute_key", "Attribute keys must be at most 256 characters"
                    )
                stack.append(sub)
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str) and len(item) > MAX_ATTRIBUTE_STRING:
            raise PydanticCustomError(
                "attribute_value", "Attribute strings must be at most 65536 characters"
            )
    return value


# The JSON Schema of each type states exactly what its validators accept (the document is
# generated from these models, and `make fuzz` holds the server to it).
_PRICE_STEP = Decimal(1).scaleb(-money.PRICE_MAX_FRACTION_DIGITS)
Number = Annotated[Decimal, BeforeValidator(_number), WithJsonSchema({"type": "number"})]
Price = Annotated[
    Decimal,
    BeforeValidator(_number),
    AfterValidator(_price),
    WithJsonSchema(
        {
            "type": "number",
            "minimum": 0,
            "exclusiveMaximum": int(money.PRICE_LIMIT),
            "multipleOf": float(_PRICE_STEP),
            "description": "Major currency units; at most 6 fractional digits.",
        }
    ),
]
Money = Annotated[
    Decimal,
    BeforeValidator(_number),
    AfterValidator(_non_negative_money),
    WithJsonSchema(
        {
            "type": "number",
            "minimum": 0,
            "description": "Major currency units; must fit the minor unit of the currency "
            "(e.g. 2 decimals for SEK), checked against the order.",
        }
    ),
]
Count = Annotated[
    int,
    BeforeValidator(_integer),
    Field(ge=0, le=1_000_000_000),
    WithJsonSchema({"type": "integer", "minimum": 0, "maximum": 1_000_000_000}),
]
VatRate = Annotated[
    Decimal,
    BeforeValidator(_number),
    AfterValidator(_vat_rate),
    WithJsonSchema(
        {"type": "number", "minimum": 0, "maximum": 1, "multipleOf": float(_PRICE_STEP)}
    ),
]
Text = Annotated[str, Field(max_length=MAX_STRING)]
Url = Annotated[str, Field(min_length=1, max_length=MAX_URL)]
DateTime = Annotated[
    str,
    Field(max_length=64),
    AfterValidator(_rfc3339),
    WithJsonSchema({"type": "string", "format": "date-time", "maxLength": 64}),
]
# Attribute values nest; their schema is the component ``AttributeValue``. pydantic resolves
# every "$ref" it meets, so the reference is written as a marker that ``kassa.openapi`` turns
# into "$ref" when it builds the document.
SCHEMA_REF = "x-kassa-ref"
ATTRIBUTE_VALUE_REF = {SCHEMA_REF: "AttributeValue"}
ATTRIBUTE_VALUE_SCHEMA: dict[str, Any] = {
    "description": "Any JSON value; object keys at most 256 and strings at most 65,536 "
    "characters, at every depth.",
    "anyOf": [
        {"type": "string", "maxLength": MAX_ATTRIBUTE_STRING},
        {"type": ["number", "boolean", "null"]},
        {"type": "array", "items": ATTRIBUTE_VALUE_REF},
        {
            "type": "object",
            "propertyNames": {"maxLength": MAX_ATTRIBUTE_KEY},
            "additionalProperties": ATTRIBUTE_VALUE_REF,
        },
    ],
}
Attributes = Annotated[
    dict[str, Any],
    AfterValidator(_check_attributes),
    WithJsonSchema(
        {
            "type": "object",
            "description": "Custom data: every key and JSON value is stored as sent.",
            "propertyNames": {"maxLength": MAX_ATTRIBUTE_KEY},
            "additionalProperties": ATTRIBUTE_VALUE_REF,
        }
    ),
]
Country = Annotated[str, Field(pattern=r"^[A-Za-z]{2}$")]
Currency = Annotated[str, Field(pattern=r"^[A-Za-z]{3}$")]
Culture = Annotated[str, Field(pattern=r"^[A-Za-z]{2,3}(?:-[A-Za-z]{2})*$", max_length=64)]


def ci_enum(enum: type[StrEnum]) -> Any:
    """A before-validator: ``enum`` accepted in any letter case, turned into its member."""
    lookup = {member.value.lower(): member for member in enum}

    def canonical(value: Any) -> Any:
        if isinstance(value, str):
            member = lookup.get(value.lower())
            if member is None:
                allowed = ", ".join(m.value for m in enum)
                raise PydanticCustomError(
                    "enum", "Input should be one of: {allowed}", {"allowed": allowed}
                )
            return member
        return value

    return BeforeValidator(canonical)


def parse_enum(enum: type[E], value: str) -> E | None:
    lowered = value.lower()
    for member in enum:
        if member.value.lower() == lowered:
            return member
    return None


class OrderStatus(StrEnum):
    checkout = "checkout"
    processing = "processing"
    accepted = "accepted"
    completed = "completed"
    declined = "declined"
    removed = "removed"


class CustomerType(StrEnum):
    person = "person"
    organization = "organization"


class DiscountType(StrEnum):
    item = "item"
    shipping = "shipping"


class ProductType(StrEnum):
    physical = "physical"
    digital = "digital"
    gift_card = "giftCard"
    bundle = "bundle"


class OrderVersion(StrEnum):
    v0 = "v0"
    v1 = "v1"


# JSON Pointers (semantics §5.1) ---------------------------------------------------------------

_ARRAY_PATHS = (
    "/state/transitions",
    "/cart/items",
    "/cart/discounts",
    "/shippings",
    "/payments",
    "/consents",
    "/hooks",
    "/notifications",
    "/validations",
)
_ESCAPE = re.compile(r"~(?![01])")


def _pointer(value: str) -> str:
    if not value.startswith("/") or len(value) > 256:
        raise PydanticCustomError(
            "json_pointer", "Must be a JSON Pointer starting with / (at most 256 characters)"
        )
    if any(segment == "" for segment in value[1:].split("/")) or _ESCAPE.search(value):
        raise PydanticCustomError("json_pointer", "Invalid JSON Pointer")
    for array in _ARRAY_PATHS:
        if value.startswith(array + "/"):
            raise PydanticCustomError(
                "json_pointer", "A pointer must not go below the array {array}", {"array": array}
            )
    return value


Pointer = Annotated[
    str,
    AfterValidator(_pointer),
    WithJsonSchema(
        {
            "type": "string",
            "description": "JSON Pointer into the order (semantics §5.1), not below an array.",
            "maxLength": 256,
            "pattern": r"^(/([^/~]|~[01])+)+$",
            "not": {"pattern": "^/(" + "|".join(p[1:] for p in _ARRAY_PATHS) + ")/"},
        }
    ),
]


class PaymentState(StrEnum):
    intent = "intent"
    removed = "removed"
    processing = "processing"
    failed = "failed"
    confirmed = "confirmed"
    pending = "pending"
    declined = "declined"
    reserved = "reserved"
    credited = "credited"
    captured = "captured"
    cancelled = "cancelled"
    refunded = "refunded"


class PaymentType(StrEnum):
    default = "default"
    prepaid = "prepaid"
    voucher = "voucher"


class PaymentEvent(StrEnum):
    open = "open"
    process = "process"
    confirm = "confirm"
    reopen = "reopen"
    cancel = "cancel"
    payment_action = "paymentAction"
    capture = "capture"
    refund = "refund"


class ShippingState(StrEnum):
    intent = "intent"
    removed = "removed"
    processing = "processing"
    failed = "failed"
    confirmed = "confirmed"


class UpsellState(StrEnum):
    created = "created"
    action_required = "actionRequired"
    completed = "completed"
    failed = "failed"
