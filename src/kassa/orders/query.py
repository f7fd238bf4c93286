"""Query parameters of ``GET /orders`` (api op 2) parsed into an ``OrderFilter``."""

from __future__ import annotations

from starlette.datastructures import QueryParams

from kassa import queryparams as qp
from kassa.orders.repository import OrderFilter
from kassa.schemas_common import OrderStatus, parse_enum
from kassa.timeutil import parse_bound


def _values(params: QueryParams, name: str) -> list[str] | None:
    """The values of a list filter; ``None`` when the parameter is absent (no filter)."""
    return qp.values(params, name) or None


_ORDER_BY = {"created": "created", "billingemail": "billingEmail", "billingname": "billingName"}
_ORDER_BY["carttotal"] = "cartTotal"


def _date(params: QueryParams, name: str, *, upper: bool) -> tuple[str | None, bool]:
    raw = qp.one(params, name)
    if raw is None:
        return None, False
    try:
        return parse_bound(raw, upper=upper)
    except ValueError:
        raise qp.bad(name, "must be an RFC 3339 date or date-time") from None


def parse_filter(params: QueryParams, merchant: str, channel: str) -> OrderFilter:
    statuses = None
    if (raw_statuses := _values(params, "status")) is not None:
        statuses = []
        for raw in raw_statuses:
            status = parse_enum(OrderStatus, raw)
            if status is None:
                raise qp.bad("status", f"unknown order status {raw!r}")
            statuses.append(status.value)
    # an empty value is a bad enum value (400), not the default
    order_by_raw = qp.one(params, "order_by")
    order_by = _ORDER_BY.get("created" if order_by_raw is None else order_by_raw.lower())
    if order_by is None:
        raise qp.bad("order_by", "must be created, billingEmail, billingName or cartTotal")
    direction_raw = qp.one(params, "order_by_direction")
    direction = "desc" if direction_raw is None else direction_raw.lower()
    if direction not in {"asc", "desc"}:
        raise qp.bad("order_by_direction", "must be asc or desc")
    search = qp.one(params, "search")
    if search is not None and not 1 <= len(search) <= 200:
        raise qp.bad("search", "must be 1-200 characters")
    date_from, _ = _date(params, "date_from", upper=False)
    date_to, exclusive = _date(params, "date_to", upper=True)
    return OrderFilter(
        merchant=merchant,
        channel=channel,
        offset=qp.integer(params, "offset", 0, 0),
        limit=qp.integer(params, "limit", 20, 1, served_at_most=qp.MAX_LIMIT),
        search=search,
        payment_id=qp.one(params, "payment_id"),
        reference=qp.one(params, "reference"),
        cart_reference=qp.one(params, "cart_reference"),
        statuses=statuses,
        countries=_values(params, "countries"),
        billing_countries=_values(params, "billing_countries"),
        shipping_countries=_values(params, "shipping_countries"),
        billing_emails=_values(params, "billing_emails"),
        shipping_emails=_values(params, "shipping_emails"),
        billing_names=_values(params, "billing_names"),
        shipping_names=_values(params, "shipping_names"),
        billing_phones=_values(params, "billing_phones"),
        shipping_phones=_values(params, "shipping_phones"),
        date_from=date_from,
        date_to=date_to,
        date_to_exclusive=exclusive,
        order_by=order_by,
        descending=direction == "desc",
    )
