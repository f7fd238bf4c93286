"""The only module that knows the order tables: documents, index columns, history, listing."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import re
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.engine import Connection

from kassa import money
from kassa.db.engine import (
    SNAPSHOT_SQL,
    Database,
    Row,
    cached_until_commit,
    execute,
    insert_row,
    listed,
    query_all,
    query_one,
    snapshot_lookup,
    snapshot_remember,
    update_then_insert,
    update_then_insert_statement,
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
        "currency": _key(str(doc.get("currency")).upper(), lower=False)
        if isinstance(doc.get("currency"), str)
        else None,
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
# the order as it is now, with a compare-and-set that did not match (update_statement)
_CURRENT = "SELECT doc, version, meta FROM orders WHERE id = :id"
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


async def fetch_in_merchant(
    db: Database, merchant: str, order_id: str
) -> tuple[str, StoredOrder] | None:
    """An order of ``merchant`` in whichever channel it is, and that channel (the console)."""
    params = {"id": order_id, "merchant": merchant}
    row = await db.fetch_one(_GET_IN_MERCHANT, params)
    return (row[3], StoredOrder(row[0], row[1], row[2])) if row else None


_GET_IN_MERCHANT = (
    "SELECT doc, version, meta, channel FROM orders WHERE id = :id AND merchant = :merchant"
)


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
    """``fetch_with_key`` inside a write transaction, the order row locked (PostgreSQL; on
    SQLite the writer already holds the database's write lock)."""
    params = {**key_params, "id": order_id, "merchant": merchant, "channel": channel}
    statement = _LOCK_WITH_KEY if conn.dialect.name == "postgresql" else _GET_WITH_KEY
    return _key_and_order(query_one(conn, statement, params))


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
    for row in order_rows(doc, text, meta, version):
        insert_row(conn, row.table, row.values)


def order_rows(doc: Order, text: str, meta: str, version: int = 1) -> list[Row]:
    """The rows a new order is stored as: its ``orders`` row, then its ``order_payments``."""
    values = {
        "id": doc["id"],
        "merchant": doc["merchant"],
        "channel": doc["channel"],
        "version": version,
        "doc": text,
        "meta": meta,
        "created": doc["created"],
        **index_columns(doc),
    }
    payments = sorted(payment_ids(doc))
    return [
        Row("orders", values),
        *(Row("order_payments", {"order_id": doc["id"], "payment_id": p}) for p in payments),
    ]


@dataclass(frozen=True)
class IndexChange:
    """What a write changes besides the document: the index columns whose value changed, and
    the payments it adds (``order_payments``). Computed before the write's transaction."""

    columns: dict[str, Any]
    new_payments: tuple[str, ...]


UNCHANGED = IndexChange({}, ())


def index_change(old: Order, new: Order) -> IndexChange:
    before, after = index_columns(old), index_columns(new)
    columns = {k: v for k, v in after.items() if before.get(k) != v}
    return IndexChange(columns, tuple(sorted(payment_ids(new) - payment_ids(old))))


def _update_parts(
    order_id: str, change: IndexChange, text: str, meta: str, version: int, rows: Sequence[Row]
) -> tuple[str, dict[str, Any], list[Row]]:
    """The compare-and-set ``UPDATE`` of a write, its parameters, and the rows inserted only if
    it matched: ``rows``, then the ``order_payments`` of payments the write adds."""
    params = {
        **change.columns,
        "doc": text,
        "meta": meta,
        "new_version": version + 1,
        "id": order_id,
        "version": version,
    }
    added = [
        Row("order_payments", {"order_id": order_id, "payment_id": payment_id})
        for payment_id in change.new_payments
    ]
    return _update_sql(tuple(sorted(change.columns))), params, [*rows, *added]


def update_order(
    conn: Connection,
    order_id: str,
    change: IndexChange,
    *,
    text: str,
    meta: str,
    version: int,
    rows: Sequence[Row] = (),
) -> bool:
    """Compare-and-set: store ``text`` as ``version + 1`` only if the row is still ``version``,
    and only then insert ``rows`` (its history entry...) in the same round trip.

    Only index columns whose value changed are written, so unchanged indexes are not touched
    (``UNCHANGED``: a write that changes no indexed field, only ``lastModified``).
    """
    return update_then_insert(conn, *_update_parts(order_id, change, text, meta, version, rows))


def update_statement(
    order_id: str,
    change: IndexChange,
    *,
    text: str,
    meta: str,
    version: int,
    rows: Sequence[Row] = (),
    then: tuple[str, dict[str, Any]] | None = None,
) -> tuple[str, dict[str, Any]]:
    """``update_order`` as one PostgreSQL statement and its parameters, to run on its own. It
    answers one row: whether it stored, then, when it did not, the order as it is now (see
    ``found_instead``). ``then``: a statement that runs with it if it stores
    (``update_then_insert_statement``)."""
    update, params, inserted = _update_parts(order_id, change, text, meta, version, rows)
    return update_then_insert_statement(update, params, inserted, then, _CURRENT)


def found_instead(row: Sequence[Any], version: int) -> StoredOrder | None:
    """The order ``update_statement`` found instead of ``version``, from its answer when it did
    not store; None when the order is gone, or when the statement's snapshot predates the write
    that came first (it waited for that write's row lock): then only a new read can tell."""
    if row[1] is None or row[2] <= version:
        return None
    return StoredOrder(row[1], row[2], row[3])


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
    channel: str | None  # None: every channel of the merchant (or of ``channels``)
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
    channels: list[str] | None = None  # with ``channel`` None: only these channels
    currencies: list[str] | None = None  # the console's currency filter


def _lowered(values: list[str]) -> list[str]:
    return [index_key(v) for v in values]


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class _Where:
    """The WHERE clause of a list in plain SQL, with its ``:name`` parameters.

    Lists are built as text rather than SQLAlchemy expressions: building, cache-keying and
    compiling the expression cost more CPU than the database spent answering (docs/performance.md).
    """

    def __init__(self, postgres: bool) -> None:
        self.postgres = postgres
        self.parts: list[str] = []
        self.params: dict[str, Any] = {}

    def equal(self, column: str, value: Any) -> None:
        self.params[column] = value
        self.parts.append(f"{column} = :{column}")

    def one_of(self, name: str, values: list[str], columns: tuple[str, ...]) -> None:
        """Any of ``columns`` equal to any of ``values``."""
        if len(values) == 1:  # PostgreSQL's generic plan for ``= ANY(array)`` cannot use an
            # index's order (the array might hold several values): the list by status read
            # ~1,200 index entries a page on another index instead of 20
            self.params[name] = values[0]
            tests = [f"{column} = :{name}" for column in columns]
        elif self.postgres:  # one array parameter: one statement shape whatever the count
            self.params[name] = values
            tests = [f"{column} = ANY(:{name})" for column in columns]
        else:
            placeholders, params = listed(name, values)
            self.params.update(params)
            tests = [f"{column} IN ({placeholders})" for column in columns]
        self.parts.append(tests[0] if len(tests) == 1 else "(" + " OR ".join(tests) + ")")

    def compare(self, column: str, operator: str, name: str, value: str) -> None:
        self.params[name] = value
        self.parts.append(f"{column} {operator} :{name}")

    @property
    def sql(self) -> str:
        return " AND ".join(self.parts)


def _where(f: OrderFilter, postgres: bool) -> _Where:
    w = _Where(postgres)
    w.equal("merchant", f.merchant)
    if f.channel is not None:
        w.equal("channel", f.channel)
    elif f.channels is not None:
        w.one_of("channels", f.channels, ("channel",))
    if f.search:
        pattern = "%" + _like_escape(f.search.replace("\x00", "\\u0000").lower()) + "%"
        w.params["search"] = pattern
        w.parts.append("search LIKE :search ESCAPE '\\'")
    if f.payment_id is not None:
        w.params["payment_id"] = f.payment_id
        w.parts.append("id IN (SELECT order_id FROM order_payments WHERE payment_id = :payment_id)")
    if f.reference is not None:
        w.equal("reference", index_key(f.reference, lower=False))
    if f.cart_reference is not None:
        w.equal("cart_reference", index_key(f.cart_reference, lower=False))
    if f.statuses:
        w.one_of("statuses", f.statuses, ("status",))
    if f.currencies:
        w.one_of("currencies", f.currencies, ("currency",))
    for values, column in (
        (f.countries, "country"),
        (f.billing_countries, "billing_country"),
        (f.shipping_countries, "shipping_country"),
        (f.billing_emails, "billing_email"),
        (f.shipping_emails, "shipping_email"),
    ):
        if values:
            w.one_of(column, _lowered(values), (column,))
    for values, side in ((f.billing_names, "billing"), (f.shipping_names, "shipping")):
        if values:
            columns = (f"{side}_given", f"{side}_family", f"{side}_name")
            w.one_of(f"{side}_names", _lowered(values), columns)
    for values, column in (
        (f.billing_phones, "billing_phone"),
        (f.shipping_phones, "shipping_phone"),
    ):
        if values:
            w.one_of(column, [index_key(_WS.sub("", v), lower=False) for v in values], (column,))
    if f.date_from is not None:
        w.compare("created", ">=", "date_from", f.date_from)
    if f.date_to is not None:
        w.compare("created", "<" if f.date_to_exclusive else "<=", "date_to", f.date_to)
    return w


_ORDER_COLUMNS = {
    "created": ("created",),
    "billingEmail": ("billing_email",),
    "billingName": ("billing_name",),
    "cartTotal": ("cart_total_units", "cart_total_micros"),
}


def _ordering(f: OrderFilter) -> str:
    columns = _ORDER_COLUMNS[f.order_by]
    direction = " DESC" if f.descending else " ASC"
    ordering = [columns[0] + " IS NULL"] if f.order_by in {"billingEmail", "billingName"} else []
    # ^ missing values last in both directions (false sorts before true)
    ordering += [column + direction for column in columns]
    ordering.append("id ASC")
    return ", ".join(ordering)


def _filter_key(f: OrderFilter) -> tuple[Any, ...]:
    """What decides ``totalSize``/``valueSum``: every filter, not paging or sorting."""
    paging = {"offset", "limit", "order_by", "descending"}
    return tuple(
        (name, tuple(value) if isinstance(value, list) else value)
        for name, value in vars(f).items()
        if name not in paging
    )


_TOTALS = "count(*), coalesce(sum(total_units), 0), coalesce(sum(total_micros), 0)"


def _statements(f: OrderFilter, postgres: bool) -> tuple[str, str, dict[str, Any]]:
    """The page and the totals statements of a list, and their parameters."""
    where = _where(f, postgres)
    snapshot = ", " + SNAPSHOT_SQL if postgres else ""
    page = (
        f"SELECT doc{snapshot} FROM orders WHERE {where.sql}"
        f" ORDER BY {_ordering(f)} LIMIT :limit OFFSET :offset"
    )
    totals = f"SELECT {_TOTALS}{snapshot} FROM orders WHERE {where.sql}"
    return page, totals, {**where.params, "limit": f.limit, "offset": f.offset}


def _listed(docs: list[str], totals: Sequence[Any]) -> tuple[list[str], int, Decimal]:
    count, units, micros = totals[:3]
    return docs, int(count), money.join_units(int(units), int(micros))


def list_orders(conn: Connection, f: OrderFilter) -> tuple[list[str], int, Decimal]:
    """A page of a list and its totals on SQLite (the totals remembered until a commit)."""
    page, totals, params = _statements(f, postgres=False)
    docs = [row[0] for row in query_all(conn, page, params)]
    counted = cached_until_commit(conn, _filter_key(f), lambda: query_one(conn, totals, params))
    assert counted is not None
    return _listed(docs, counted)


async def list_orders_postgres(db: Database, f: OrderFilter) -> tuple[list[str], int, Decimal]:
    """A page of a list and its totals on PostgreSQL, each a single statement on the point-read
    pool; the totals are remembered for the page's MVCC snapshot (``snapshot_lookup``)."""
    page, totals, params = _statements(f, postgres=True)
    rows = await db.fetch_all(page, params)
    key = _filter_key(f)
    counted = snapshot_lookup(db.url, key, rows[0][1]) if rows else None
    if counted is None:
        if rows:  # requests whose pages saw the same snapshot share one count
            counting = _count_once(db, (key, rows[0][1]), totals, params)
        else:
            counting = db.fetch_all(totals, params)
        (*counted, snapshot), *_ = await counting
        snapshot_remember(db.url, key, snapshot, counted)
    return _listed([row[0] for row in rows], counted)


# totals statements running now, by database, filter and the snapshot their pages saw
_COUNTING: dict[tuple[str, Hashable], asyncio.Future[list[Sequence[Any]]]] = {}


async def _count_once(
    db: Database, flight: Hashable, totals: str, params: dict[str, Any]
) -> list[Sequence[Any]]:
    """Run ``totals``, or wait for the same statement that another request of this process is
    running for the same filter and page snapshot. Once anything commits, every list request
    misses the remembered totals at once; without this, each of them counted ~30,000 rows
    (the list by status) at the same time, and the database stalled them all for up to a
    second."""
    slot = (db.url, flight)
    running = _COUNTING.get(slot)
    if running is None:
        running = asyncio.ensure_future(db.fetch_all(totals, params))
        _COUNTING[slot] = running
        running.add_done_callback(lambda done: _counted(slot, done))
    return await asyncio.shield(running)  # a request that goes away leaves it to the others


def _counted(slot: tuple[str, Hashable], done: asyncio.Future[list[Sequence[Any]]]) -> None:
    _COUNTING.pop(slot, None)
    if not done.cancelled():
        done.exception()  # retrieved: every waiter may have gone
