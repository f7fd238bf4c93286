"""Query parameters of ``GET /orders`` (api op 2) parsed into an ``OrderFilter``."""

from __future__ import annotations

from starlette.datastructures import QueryParams

from kassa.errors import InvalidRequest, field_error
from kassa.orders.repository import OrderFilter
from kassa.schemas_common import OrderStatus, parse_enum
from kassa.timeutil import parse_bound

MAX_VALUES = 50
MAX_LIMIT = 100
MAX_INT = 2**53
_ORDER_BY = {"created": "created", "billingemail": "billingEmail", "billingname": "billingName"}
_ORDER_BY["carttotal"] = "cartTotal"


def _bad(name: str, message: str) -> InvalidRequest:
    return InvalidRequest(
        f"Query parameter {name}: {message}", errors=[field_error(f"?{name}", message)]
    )


def _values(params: QueryParams, name: str) -> list[str] | None:
    values = params.getlist(name) + params.getlist(name + "[]")
    if not values:
        return None
    if len(values) > MAX_VALUES:
        raise _bad(name, f"at most {MAX_VALUES} values")
    return values


def _one(params: QueryParams, name: str) -> str | None:
    values = _values(params, name)
    return values[-1] if values else None


def _int(params: QueryParams, name: str, default: int, minimum: int) -> int:
    raw = _one(params, name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _bad(name, "must be an integer") from None
    if value < minimum:
        raise _bad(name, f"must be at least {minimum}")
    if value > MAX_INT:
        raise _bad(name, f"must be at most {MAX_INT}")
    return value


def _date(params: QueryParams, name: str, *, upper: bool) -> tuple[str | None, bool]:
    raw = _one(params, name)
    if raw is None:
        return None, False
    try:
        return parse_bound(raw, upper=upper)
    except ValueError:
        raise _bad(name, "must be an RFC 3339 date or date-time") from None


def parse_filter(params: QueryParams, merchant: str, channel: str) -> OrderFilter:
    statuses = None
    if (raw_statuses := _values(params, "status")) is not None:
        statuses = []
        for raw in raw_statuses:
            status = parse_enum(OrderStatus, raw)
            if status is None:
                raise _bad("status", f"unknown order status {raw!r}")
            statuses.append(status.value)
    order_by_raw = _one(params, "order_by") or "created"
    order_by = _ORDER_BY.get(order_by_raw.lower())
    if order_by is None:
        raise _bad("order_by", "must be created, billingEmail, billingName or cartTotal")
    direction = (_one(params, "order_by_direction") or "desc").lower()
    if direction not in {"asc", "desc"}:
        raise _bad("order_by_direction", "must be asc or desc")
    search = _one(params, "search")
    if search is not None and not 1 <= len(search) <= 200:
        raise _bad("search", "must be 1-200 characters")
    date_from, _ = _date(params, "date_from", upper=False)
    date_to, exclusive = _date(params, "date_to", upper=True)
    return OrderFilter(
        merchant=merchant,
        channel=channel,
        offset=_int(params, "offset", 0, 0),
        limit=min(_int(params, "limit", 20, 1), MAX_LIMIT),
        search=search,
        payment_id=_one(params, "payment_id"),
        reference=_one(params, "reference"),
        cart_reference=_one(params, "cart_reference"),
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
