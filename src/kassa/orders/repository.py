"""The only module that knows the order tables: documents, index columns, history, listing."""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, func, insert, literal, or_, select
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from kassa import money
from kassa.db.engine import (
    Database,
    Row,
    cached_until_commit,
    execute,
    query_one,
    update_then_insert,
)
from kassa.db.tables import KEY, history, order_payments, orders
from kassa.orders.document import Address, Order

_WS = re.compile(r"\s+")


@dataclass
class StoredOrder:
    doc: str
    version: int
    meta: str


def index_key(value: str, *, lower: bool = True) -> str:
    """The indexed form of a free-text value: equal keys mean equal values.

    NUL (which PostgreSQL text refuses) is escaped; a value longer than the column keeps a
    prefix and a digest of the whole, so exact matching still holds.
    """
    text = value.replace("\x00", "\\u0000")
    if lower:
        text = text.lower()
    if len(text) > KEY:
        digest = hashlib.sha256(text.encode()).hexdigest()
        text = text[: KEY - 65] + "#" + digest
    return text


def _key(value: Any, *, lower: bool = True) -> str | None:
    return index_key(value, lower=lower) if isinstance(value, str) else None


def _full_name(address: Address) -> str | None:
    given, family = address.get("givenName"), address.get("familyName")
    if isinstance(given, str) and isinstance(family, str):
        return f"{given} {family}"
    return None


def _phone(value: Any) -> str | None:
    return index_key(_WS.sub("", value), lower=False) if isinstance(value, str) else None


def index_columns(doc: Order) -> dict[str, Any]:
    """Copies of the searchable fields of ``doc`` for the ``orders`` columns."""
    customer = doc.get("customer") or {}
    billing = customer.get("billing") or {}
    shipping = customer.get("shipping") or {}
    cart = doc.get("cart") or {}
    cart_units, cart_micros = money.split_units(
        money.as_decimal((cart.get("total") or {}).get("includingVat"))
    )
    units, micros = money.split_units(
        money.as_decimal((doc.get("total") or {}).get("includingVat"))
    )
    searchable = [doc.get("id"), doc.get("reference"), cart.get("reference")]
    for address in (billing, shipping):
        searchable += [
            address.get("givenName"),
            address.get("familyName"),
            _full_name(address),
            address.get("email"),
        ]
    return {
        "status": doc["state"]["currentStatus"],
        "reference": _key(doc.get("reference"), lower=False),
        "cart_reference": _key(cart.get("reference"), lower=False),
        "country": _key(doc.get("country")),
        "billing_country": _key(billing.get("country")),
        "shipping_country": _key(shipping.get("country")),
        "billing_email": _key(billing.get("email")),
        "shipping_email": _key(shipping.get("email")),
        "billing_given": _key(billing.get("givenName")),
        "billing_family": _key(billing.get("familyName")),
        "billing_name": _key(_full_name(billing)),
        "shipping_given": _key(shipping.get("givenName")),
        "shipping_family": _key(shipping.get("familyName")),
        "shipping_name": _key(_full_name(shipping)),
        "billing_phone": _phone(billing.get("phone")),
        "shipping_phone": _phone(shipping.get("phone")),
        "cart_total_units": cart_units,
        "cart_total_micros": cart_micros,
        "total_units": units,
        "total_micros": micros,
        "search": "\x1f".join(
            s.replace("\x00", "\\u0000").lower() for s in searchable if isinstance(s, str)
        ),
    }


def payment_ids(doc: Order) -> set[str]:
    return {p["id"] for p in doc.get("payments") or [] if isinstance(p.get("id"), str)}


_GET = (
    "SELECT doc, version, meta FROM orders"
    " WHERE id = :id AND merchant = :merchant AND channel = :channel"
)
_LOCK = _GET + " FOR UPDATE"
_INSERT_HISTORY = (
    "INSERT INTO history (order_id, sequence, entry) VALUES (:order_id, :sequence, :entry)"
)


def _stored(row: Sequence[Any] | None) -> StoredOrder | None:
    """A row of ``doc, version, meta``."""
    return StoredOrder(row[0], row[1], row[2]) if row else None


def get(conn: Connection, merchant: str, channel: str, order_id: str) -> StoredOrder | None:
    params = {"id": order_id, "merchant": merchant, "channel": channel}
    return _stored(query_one(conn, _GET, params))


# keys.LOOKUP with the order joined: a GET authenticates and reads in one round trip. The order
# is matched on the x-merchant / x-channel headers as sent; it is only returned after the key
# has been checked against them.
_GET_WITH_KEY = (
    "SELECT k.name, k.merchant, k.channels, k.adapter_id, k.created, k.revoked,"
    " o.doc, o.version, o.meta FROM api_keys k LEFT JOIN orders o"
    " ON o.id = :id AND o.merchant = :merchant AND o.channel = :channel"
    " WHERE k.key_hash = :key_hash"
)


async def fetch_with_key(
    db: Database,
    key_params: dict[str, str],
    merchant: str | None,
    channel: str | None,
    order_id: str,
) -> tuple[Sequence[Any] | None, StoredOrder | None]:
    """The API key row (``keys.LOOKUP``'s columns) and the order it would read, if any."""
    params = {**key_params, "id": order_id, "merchant": merchant, "channel": channel}
    return _key_and_order(await db.fetch_one(_GET_WITH_KEY, params))


def _key_and_order(
    row: Sequence[Any] | None,
) -> tuple[Sequence[Any] | None, StoredOrder | None]:
    """A row of ``keys.LOOKUP``'s six columns, then ``doc, version, meta`` (null: no order)."""
    if row is None:
        return None, None
    return row[:6], _stored(row[6:]) if row[6] is not None else None


async def fetch(db: Database, merchant: str, channel: str, order_id: str) -> StoredOrder | None:
    """``get`` as a point read of its own (no transaction around it)."""
    params = {"id": order_id, "merchant": merchant, "channel": channel}
    return _stored(await db.fetch_one(_GET, params))


# keys.LOOKUP and the order read locked (PostgreSQL): a write authenticates and locks in one
# round trip. The order is only locked when the key exists for the x-merchant sent, and only
# used after the key has been checked against the headers.
_LOCK_WITH_KEY = (
    "WITH k AS (SELECT name, merchant, channels, adapter_id, created, revoked FROM api_keys"
    " WHERE key_hash = :key_hash),"
    " o AS (SELECT doc, version, meta FROM orders"
    " WHERE id = :id AND merchant = :merchant AND channel = :channel"
    " AND EXISTS (SELECT 1 FROM k WHERE k.merchant IN (:merchant, '') AND k.revoked IS NULL)"
    " FOR UPDATE)"
    " SELECT k.name, k.merchant, k.channels, k.adapter_id, k.created, k.revoked,"
    " o.doc, o.version, o.meta FROM k LEFT JOIN o ON true"
)


def lock_with_key(
    conn: Connection,
    key_params: dict[str, str],
    merchant: str | None,
    channel: str | None,
    order_id: str,
) -> tuple[Sequence[Any] | None, StoredOrder | None]:
    """``fetch_with_key`` inside a write transaction, the order row locked (PostgreSQL)."""
    params = {**key_params, "id": order_id, "merchant": merchant, "channel": channel}
    return _key_and_order(query_one(conn, _LOCK_WITH_KEY, params))


def lock(conn: Connection, merchant: str, channel: str, order_id: str) -> StoredOrder | None:
    """Read an order inside a write transaction, holding its row until commit.

    PostgreSQL locks the row; on SQLite the writer already holds the database's write lock.
    """
    statement = _LOCK if conn.dialect.name == "postgresql" else _GET
    params = {"id": order_id, "merchant": merchant, "channel": channel}
    return _stored(query_one(conn, statement, params))


@functools.lru_cache(maxsize=512)
def _update_sql(columns: tuple[str, ...]) -> str:
    assignments = ", ".join(f"{c} = :{c}" for c in ("doc", "meta", *columns))
    return (
        f"UPDATE orders SET {assignments}, version = :new_version"
        " WHERE id = :id AND version = :version"
    )


def insert_order(conn: Connection, doc: Order, text: str, meta: str, version: int = 1) -> None:
    conn.execute(
        insert(orders).values(
            id=doc["id"],
            merchant=doc["merchant"],
            channel=doc["channel"],
            version=version,
            doc=text,
            meta=meta,
            created=doc["created"],
            **index_columns(doc),
        )
    )
    ids = payment_ids(doc)
    if ids:
        conn.execute(
            insert(order_payments), [{"order_id": doc["id"], "payment_id": p} for p in ids]
        )


def update_order(
    conn: Connection,
    old: Order,
    new: Order,
    *,
    text: str,
    meta: str,
    version: int,
    rows: Sequence[Row] = (),
) -> bool:
    """Compare-and-set: store ``new`` as ``version + 1`` only if the row is still ``version``,
    and only then insert ``rows`` (its history entry...) in the same round trip.

    Only index columns whose value changed are written, so unchanged indexes are not touched.
    """
    before, after = index_columns(old), index_columns(new)
    changed = {k: v for k, v in after.items() if before.get(k) != v}
    params = {
        **changed,
        "doc": text,
        "meta": meta,
        "new_version": version + 1,
        "id": new["id"],
        "version": version,
    }
    if not update_then_insert(conn, _update_sql(tuple(sorted(changed))), params, rows):
        return False
    old_ids, new_ids = payment_ids(old), payment_ids(new)
    if new_ids - old_ids:
        conn.execute(
            insert(order_payments),
            [{"order_id": new["id"], "payment_id": p} for p in sorted(new_ids - old_ids)],
        )
    return True


_TOUCH = (
    "UPDATE orders SET doc = :doc, meta = :meta, version = :new_version"
    " WHERE id = :id AND version = :version"
)


def touch_order(
    conn: Connection,
    order_id: str,
    *,
    text: str,
    meta: str,
    version: int,
    rows: Sequence[Row] = (),
) -> bool:
    """Compare-and-set for a write that changes no indexed field (only ``lastModified``), and
    ``rows`` inserted with it."""
    params = {
        "doc": text,
        "meta": meta,
        "new_version": version + 1,
        "id": order_id,
        "version": version,
    }
    return update_then_insert(conn, _TOUCH, params, rows)


def delete_order(conn: Connection, order_id: str) -> None:
    conn.execute(delete(history).where(history.c.order_id == order_id))
    conn.execute(delete(order_payments).where(order_payments.c.order_id == order_id))
    conn.execute(delete(orders).where(orders.c.id == order_id))


def history_row(order_id: str, sequence: int, entry: str) -> Row:
    return Row("history", {"order_id": order_id, "sequence": sequence, "entry": entry})


def insert_history(conn: Connection, order_id: str, sequence: int, entry: str) -> None:
    execute(conn, _INSERT_HISTORY, {"order_id": order_id, "sequence": sequence, "entry": entry})


def list_history(conn: Connection, order_id: str) -> list[str]:
    rows = conn.execute(
        select(history.c.entry).where(history.c.order_id == order_id).order_by(history.c.sequence)
    )
    return [row.entry for row in rows]


# Listing (api op 2) ---------------------------------------------------------------------------


@dataclass
class OrderFilter:
    merchant: str
    channel: str
    offset: int = 0
    limit: int = 20
    search: str | None = None
    payment_id: str | None = None
    reference: str | None = None
    cart_reference: str | None = None
    statuses: list[str] | None = None
    countries: list[str] | None = None
    billing_countries: list[str] | None = None
    shipping_countries: list[str] | None = None
    billing_emails: list[str] | None = None
    shipping_emails: list[str] | None = None
    billing_names: list[str] | None = None
    shipping_names: list[str] | None = None
    billing_phones: list[str] | None = None
    shipping_phones: list[str] | None = None
    date_from: str | None = None
    date_to: str | None = None
    date_to_exclusive: bool = False
    order_by: str = "created"
    descending: bool = True


def _lowered(values: list[str]) -> list[str]:
    return [index_key(v) for v in values]


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _conditions(f: OrderFilter) -> list[ColumnElement[bool]]:
    c = orders.c
    where: list[ColumnElement[bool]] = [c.merchant == f.merchant, c.channel == f.channel]
    if f.search:
        pattern = "%" + _like_escape(f.search.replace("\x00", "\\u0000").lower()) + "%"
        where.append(c.search.like(pattern, escape="\\"))
    if f.payment_id is not None:
        where.append(
            c.id.in_(
                select(order_payments.c.order_id).where(order_payments.c.payment_id == f.payment_id)
            )
        )
    if f.reference is not None:
        where.append(c.reference == index_key(f.reference, lower=False))
    if f.cart_reference is not None:
        where.append(c.cart_reference == index_key(f.cart_reference, lower=False))
    if f.statuses:
        where.append(c.status.in_(f.statuses))
    for values, column in (
        (f.countries, c.country),
        (f.billing_countries, c.billing_country),
        (f.shipping_countries, c.shipping_country),
        (f.billing_emails, c.billing_email),
        (f.shipping_emails, c.shipping_email),
    ):
        if values:
            where.append(column.in_(_lowered(values)))
    for values, columns in (
        (f.billing_names, (c.billing_given, c.billing_family, c.billing_name)),
        (f.shipping_names, (c.shipping_given, c.shipping_family, c.shipping_name)),
    ):
        if values:
            lowered = _lowered(values)
            where.append(or_(*(col.in_(lowered) for col in columns)))
    for values, column in (
        (f.billing_phones, c.billing_phone),
        (f.shipping_phones, c.shipping_phone),
    ):
        if values:
            phones = [index_key(_WS.sub("", v), lower=False) for v in values]
            where.append(column.in_(phones))
    if f.date_from is not None:
        where.append(c.created >= f.date_from)
    if f.date_to is not None:
        where.append(c.created < f.date_to if f.date_to_exclusive else c.created <= f.date_to)
    return where


def _ordering(f: OrderFilter) -> list[Any]:
    c = orders.c
    keys: dict[str, tuple[Any, ...]] = {
        "created": (c.created,),
        "billingEmail": (c.billing_email,),
        "billingName": (c.billing_name,),
        "cartTotal": (c.cart_total_units, c.cart_total_micros),
    }
    columns = keys[f.order_by]
    ordering: list[Any] = []
    if f.order_by in {"billingEmail", "billingName"}:
        ordering.append(columns[0].is_(None))  # missing values last in both directions
    ordering += [col.desc() if f.descending else col.asc() for col in columns]
    ordering.append(c.id.asc())
    return ordering


def _filter_key(f: OrderFilter) -> tuple[Any, ...]:
    """What decides ``totalSize``/``valueSum``: every filter, not paging or sorting."""
    paging = {"offset", "limit", "order_by", "descending"}
    return tuple(
        (name, tuple(value) if isinstance(value, list) else value)
        for name, value in vars(f).items()
        if name not in paging
    )


def list_orders(conn: Connection, f: OrderFilter) -> tuple[list[str], int, Decimal]:
    where = _conditions(f)
    page = conn.execute(
        select(orders.c.doc).where(*where).order_by(*_ordering(f)).offset(f.offset).limit(f.limit)
    )
    docs = [row.doc for row in page]
    totals = select(
        func.count(),
        func.coalesce(func.sum(orders.c.total_units), literal(0)),
        func.coalesce(func.sum(orders.c.total_micros), literal(0)),
    ).where(*where)
    key = _filter_key(f)
    count, units, micros = cached_until_commit(conn, key, lambda: conn.execute(totals).one())
    return docs, int(count), money.join_units(int(units), int(micros))
