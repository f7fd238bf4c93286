"""The order document as kassa stores and returns it (api §3), and the ``meta`` kept beside it.

These are TypedDicts: declared field names for the JSON values that rules, mutations and the
write path read and write, so that mypy refuses a misspelt field. They check nothing at run time
(the wire schemas in ``*.schemas`` validate input) and change nothing in the stored JSON: the
documents stay plain dicts, in the field order the code that builds them gives them.

A field is required here when the stored document always has it (api §3 "always"); fields that
are optional on the wire are ``NotRequired`` (or the whole part is ``total=False``). Numbers are
``Decimal`` or ``int``, as ``kassa.jsonutil`` decodes them; timestamps are strings (api §1.8).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any, Literal, NotRequired, TypedDict, TypeVar, cast

Number = Decimal | int
JsonObject = dict[str, Any]  # any JSON object: ``attributes`` (api §3.26), a notification schema

PriceKey = Literal["includingVat", "excludingVat"]

D = TypeVar("D", bound=Mapping[str, object])


def in_field_order(value: D, fields: Iterable[str]) -> D:
    """A copy of ``value`` with its fields in the order of ``fields`` (unlisted ones left out)."""
    return cast(D, {key: value[key] for key in fields if key in value})


class Price(TypedDict, total=False):
    """api §3.7; both components are always present in a price kassa computes."""

    includingVat: Number
    excludingVat: Number


class Transition(TypedDict):
    """api §3.8"""

    status: str
    timeStamp: str


class OrderState(TypedDict):
    """api §3.2 (``State``)"""

    currentStatus: str
    transitions: list[Transition]


# The cart (api §3.3-3.6) ----------------------------------------------------------------------


class Logistics(TypedDict, total=False):
    weight: int
    height: int
    width: int
    length: int
    tags: list[str]
    shippingDate: str


class Discount(TypedDict, total=False):
    type: str
    name: str
    reference: str
    description: str
    code: str
    value: Price
    attributes: JsonObject


class CartItem(TypedDict, total=False):
    """api §3.4 ``Item``; ``id`` is always present once kassa stored the cart (§3.6)."""

    id: str
    reference: str
    name: str
    sku: str
    productType: str
    items: list[CartItem]  # the components of a bundle
    url: str
    imageUrl: str
    quantity: int
    unit: str
    price: Price
    total: Price
    originalTotal: Price
    vatRate: Number
    discounts: list[Discount]
    logistics: Logistics
    upsell: bool
    attributes: JsonObject


class Cart(TypedDict, total=False):
    """api §3.3. A stored order's cart always has ``items`` and ``total``; a request's cart (the
    same type, from ``PUT cart`` or a create body) may leave them to kassa (§3.4)."""

    reference: str
    items: list[CartItem]
    discounts: list[Discount]
    total: Price
    attributes: JsonObject


# The customer and consents (api §3.9, §3.12, §3.13) -------------------------------------------


class Address(TypedDict, total=False):
    type: str
    givenName: str
    familyName: str
    careOf: str
    reference: str
    organizationName: str
    streetAddress: str
    streetAddress2: str
    postalCode: str
    city: str
    region: str
    country: str
    phone: str
    email: str
    nationalIdentificationNumber: str
    organizationIdentificationNumber: str
    attributes: JsonObject


AddressKind = Literal["billing", "shipping"]  # the two addresses of a customer


class Customer(TypedDict, total=False):
    billing: Address
    shipping: Address
    type: str
    attributes: JsonObject


class Consent(TypedDict):
    id: str
    checked: bool
    text: NotRequired[str]
    required: bool


# Callbacks (api §3.14-3.16) -------------------------------------------------------------------


class Hook(TypedDict):
    """Stored with both dialects' path field (``subscribeTo`` and ``scope``, equal)."""

    id: str
    adapterId: NotRequired[str]
    subscribeTo: str
    scope: str
    target: NotRequired[str]
    invoke: str
    version: str
    description: NotRequired[str]
    reference: NotRequired[str]


class Notification(TypedDict):
    id: str
    adapterId: NotRequired[str]
    reference: NotRequired[str]
    description: NotRequired[str]
    scope: str
    schema: NotRequired[JsonObject]
    invoke: str
    version: str


class Validation(TypedDict):
    """Stored with both shapes' URL field (``url`` and ``invoke``, equal)."""

    id: str
    adapterId: NotRequired[str]
    url: str
    invoke: str
    description: NotRequired[str]
    reference: NotRequired[str]


# Payments (api §3.10-3.11, §3.17-3.18) --------------------------------------------------------


class PaymentAction(TypedDict):
    id: str
    adapterId: str
    type: str
    url: str


class Recurring(TypedDict):
    token: str
    description: NotRequired[str]
    attributes: NotRequired[JsonObject]


class UpsellTransaction(TypedDict, total=False):
    id: str
    state: str
    itemIds: list[str]
    attributes: JsonObject


class Upsell(TypedDict, total=False):
    eligible: bool
    expiration: str
    transactions: list[UpsellTransaction]
    attributes: JsonObject


class Payment(TypedDict):
    id: str
    adapterId: NotRequired[str]
    name: NotRequired[str]
    merchant: str
    channel: str
    currency: NotRequired[str]  # always when the order or the payment has one
    type: str
    orderId: str
    amount: Number
    upperLimitAmount: NotRequired[Number]
    state: str
    reference: NotRequired[str]
    attributes: NotRequired[JsonObject]
    actions: list[PaymentAction]
    recurring: NotRequired[Recurring]
    upsell: NotRequired[Upsell]


# Shippings (api §3.20-3.24) -------------------------------------------------------------------


class Product(TypedDict, total=False):
    reference: str
    name: str


class PickupLocationAddress(TypedDict, total=False):
    streetAddress: str
    city: str
    postalCode: str
    country: str


class PickupLocation(TypedDict, total=False):
    reference: str
    name: str
    address: PickupLocationAddress


# ``class`` is a keyword: the functional form
DeliveryDetails = TypedDict(
    "DeliveryDetails",
    {
        "carrier": str,
        "carrierProductId": str,
        "class": str,
        "product": Product,
        "pickupLocation": PickupLocation,
    },
    total=False,
)


class Addon(TypedDict, total=False):
    reference: str
    price: Number


class Shipping(TypedDict):
    id: str
    merchant: str
    channel: str
    state: str
    reference: NotRequired[str]
    tmsReference: NotRequired[str]
    orderId: str
    adapterId: NotRequired[str]
    name: NotRequired[str]
    total: Price
    vatRate: Number
    deliveryDetails: NotRequired[DeliveryDetails]
    addons: NotRequired[list[Addon]]
    attributes: NotRequired[JsonObject]


# The order (api §3.1) -------------------------------------------------------------------------


class Order(TypedDict):
    id: str
    merchant: str
    channel: str
    reference: NotRequired[str]
    created: str
    lastModified: str
    state: OrderState
    culture: NotRequired[str]
    currency: NotRequired[str]
    country: NotRequired[str]
    cart: Cart
    shippings: list[Shipping]
    payments: list[Payment]
    customer: NotRequired[Customer]
    consents: list[Consent]
    validations: list[Validation]
    hooks: list[Hook]
    notifications: list[Notification]
    total: Price
    attributes: NotRequired[JsonObject]


# What kassa keeps beside the document (the ``meta`` column) -----------------------------------


class LedgerEntry(TypedDict):
    """Running sums of one payment's transactions (semantics §3.5)."""

    captured: str  # a decimal, as text
    refunded: str  # a decimal, as text
    captures: int  # successful captures
    count: int  # transactions of any kind


class Meta(TypedDict, total=False):
    computed: list[PriceKey]  # the cart-total components kassa computes (the others are sent)
    ledger: dict[str, LedgerEntry]  # by payment id
    eventSeq: int  # the sequence of the order's last event (kassa.events.outbox)
