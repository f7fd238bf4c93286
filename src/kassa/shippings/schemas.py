"""Wire schemas of shippings (api §3.20-3.24)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from kassa.orders.schemas import PriceIn
from kassa.schemas_common import (
    Attributes,
    Country,
    Price,
    ShippingState,
    Text,
    VatRate,
    WireModel,
    ci_enum,
)

ShippingStateField = Annotated[ShippingState, ci_enum(ShippingState)]


class Product(WireModel):
    reference: Text | None = None
    name: Text | None = None


class PickupLocationAddress(WireModel):
    street_address: Text | None = None
    city: Text | None = None
    postal_code: Text | None = None
    country: Country | None = None


class PickupLocation(WireModel):
    reference: Text | None = None
    name: Text | None = None
    address: PickupLocationAddress | None = None


class DeliveryDetails(WireModel):
    carrier: Text | None = None
    carrier_product_id: Text | None = None
    class_: Text | None = Field(default=None, alias="class")
    product: Product | None = None
    pickup_location: PickupLocation | None = None


class Addon(WireModel):
    reference: Text | None = None
    price: Price | None = None


class ShippingIn(WireModel):
    state: ShippingStateField | None = None
    reference: Text | None = None
    tms_reference: Text | None = None
    adapter_id: Text | None = None
    name: Text | None = None
    total: PriceIn
    vat_rate: VatRate
    delivery_details: DeliveryDetails | None = None
    addons: list[Addon] | None = None
    attributes: Attributes | None = None
