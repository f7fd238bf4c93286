"""Seed data for ``make bench`` (bench/run.sh).

Subcommands:

``bulk``
    Insert many orders straight into a migrated database, fast (100,000 orders in seconds),
    through kassa's own document code: ``OrderCreate`` validation, ``rules.new_order``,
    ``jsonutil.dumps``, ``repository.index_columns`` and ``history.entry``, so the rows have
    the same shape as rows the API writes (doc JSON text, ``{"computed": [...]}`` meta, version
    1, index columns, history entry 1). Billing emails, names, countries, statuses and creation
    times vary so that list filters are meaningful. Writes sample filter values (emails that
    exist) to ``--out-dir`` for the wrk scripts. The ``orders`` secondary indexes the migrations
    made are dropped for the bulk insert and re-created from their own SQL afterwards (faster
    than maintaining 18 indexes row by row), then ``ANALYZE`` runs. ``--database`` is an SQLite
    file (stdlib ``sqlite3``, ``executemany`` in transactions of 5,000 rows) or a PostgreSQL URL
    (asyncpg ``COPY`` in batches of 5,000 rows, the session's commits not waiting for the disk;
    ``VACUUM ANALYZE``, so that index-only scans need not visit the table, as after autovacuum).

    Differences from API-made orders, on purpose: ids come from a seeded fast generator (same
    ``o_``/``ci_`` + 26 letters format) instead of ``secrets``; orders in a status other than
    ``checkout`` get a plausible ``state.transitions`` list and ``lastModified`` but no payments,
    and only history entry 1 (an order moved on through the API would carry payments and one
    history entry per change).

``indexes``
    Report how many of the ``orders`` indexes declared in ``kassa.db.tables`` exist in the
    database, SQLite file or PostgreSQL URL (printed in the summary header: list timings mean
    little without them).

``database``
    One line naming the database and the settings that matter for the figures (the summary
    header's server line).

``api``
    Create the orders the GET, PATCH and transaction scenarios use through the running server
    (HTTP), and write their ids to ``--out-dir``: one order with 3 cart items and 1 consent
    (GET, ``get_id.txt``), N orders for PATCH attributes (``patch_ids.txt``), and M orders with
    one payment each for POST transactions (``tx_targets.txt``: ``order_id payment_id`` lines).
    A payment holds at most 1,000 transactions, so M bounds how many transactions a run can
    post (see docs/performance.md).

Run with the kassa virtualenv's Python (``.venv/bin/python bench/seed.py ...``).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import random
import sqlite3
import string
import sys
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from kassa import ids, jsonutil, timeutil
from kassa.db.tables import history, orders
from kassa.orders import history as history_of
from kassa.orders import rules
from kassa.orders.model import Actor
from kassa.orders.repository import index_columns
from kassa.orders.schemas import OrderCreate

GIVEN = [
    "Anna", "Erik", "Maria", "Lars", "Karin", "Johan", "Eva", "Anders", "Sara", "Per",
    "Emma", "Nils", "Ida", "Olof", "Linnea", "Jonas", "Elin", "Mikael", "Hanna", "Fredrik",
    "Sofia", "Henrik", "Lena", "Oskar", "Maja", "Gustav", "Alice", "Viktor", "Klara", "Axel",
]  # fmt: skip
FAMILY = [
    "Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Olsson",
    "Persson", "Svensson", "Gustafsson", "Pettersson", "Jonsson", "Jansson", "Hansson",
    "Bengtsson", "Lindberg", "Lindqvist", "Lindgren", "Berg", "Axelsson", "Hedlund", "Lund",
]  # fmt: skip
# (country, weight)
COUNTRIES = [("SE", 50), ("NO", 15), ("DK", 10), ("FI", 10), ("DE", 10), ("NL", 5)]
# (status, weight); the path of states an order went through to get there
STATUSES = [("checkout", 35), ("processing", 5), ("accepted", 15), ("completed", 30),
            ("declined", 10), ("removed", 5)]  # fmt: skip
PATHS = {
    "checkout": [],
    "processing": ["processing"],
    "accepted": ["processing", "accepted"],
    "completed": ["processing", "accepted", "completed"],
    "declined": ["processing", "declined"],
    "removed": ["removed"],
}
PRODUCTS = [
    ("Wool sweater", "SW-100", Decimal("899")),
    ("Rain jacket", "RJ-220", Decimal("1499.50")),
    ("Socks 3-pack", "SO-003", Decimal("129")),
    ("Beanie", "BE-010", Decimal("249.90")),
    ("Trail shoes", "TS-404", Decimal("1299")),
    ("Water bottle", "WB-050", Decimal("199.99")),
    ("Gloves", "GL-777", Decimal("349")),
    ("Backpack 20 l", "BP-020", Decimal("999")),
]
VAT = Decimal("0.25")


def _fast_ids(seed: int) -> None:
    """Swap kassa's ``secrets``-based id generator for a seeded one (same format, ~30x faster)."""
    rng = random.Random(seed)
    letters = string.ascii_letters

    def new_id(prefix: str) -> str:
        return prefix + "".join(rng.choices(letters, k=26))

    ids.new_id = new_id


def _item(rng: random.Random, product: tuple[str, str, Decimal]) -> dict[str, Any]:
    name, sku, unit_price = product
    quantity = rng.randint(1, 3)
    total = unit_price * quantity
    cent = Decimal("0.01")
    return {
        "name": name,
        "sku": sku,
        "productType": "physical",
        "quantity": quantity,
        "unit": "pcs",
        "vatRate": VAT,
        "price": {
            "includingVat": unit_price,
            "excludingVat": (unit_price / (1 + VAT)).quantize(cent),
        },
        "total": {"includingVat": total, "excludingVat": (total / (1 + VAT)).quantize(cent)},
    }


@functools.cache
def _customer(number: int) -> dict[str, Any]:
    """Customer ``number`` of the pool: always the same name, email and country (not mutated)."""
    rng = random.Random(number)
    given, family = rng.choice(GIVEN), rng.choice(FAMILY)
    country = rng.choices([c for c, _ in COUNTRIES], [w for _, w in COUNTRIES])[0]
    address = {
        "type": "person",
        "givenName": given,
        "familyName": family,
        "streetAddress": f"{rng.choice(FAMILY)}vägen {rng.randint(1, 120)}",
        "postalCode": f"{rng.randint(10000, 99999)}",
        "city": "Bench City",
        "country": country,
        "phone": f"+46 70 {rng.randint(100, 999)} {rng.randint(1000, 9999)}",
        "email": email_of(number, given, family),
    }
    return address


def email_of(number: int, given: str, family: str) -> str:
    return f"{given}.{family}.{number}@example.com".lower()


def order_body(rng: random.Random, number: int, customers: int) -> dict[str, Any]:
    customer = _customer(rng.randrange(customers))
    items = [_item(rng, p) for p in rng.sample(PRODUCTS, rng.randint(1, 4))]
    body: dict[str, Any] = {
        "reference": f"bench-{number:07d}",
        "culture": "sv-SE",
        "currency": "SEK",
        "country": customer["country"],
        "cart": {"reference": f"cart-{number:07d}", "items": items},
        "customer": {"billing": customer, "shipping": dict(customer), "type": "person"},
    }
    if rng.random() < 0.5:
        body["consents"] = [{"id": "newsletter", "checked": rng.random() < 0.5, "text": "News"}]
    return body


BATCH = 5000


def is_postgres(database: str) -> bool:
    return database.startswith(("postgresql", "postgres://"))


def asyncpg_dsn(url: str) -> str:
    """``postgresql+asyncpg://u@h:p/db`` (kassa's URL) as the DSN asyncpg itself takes."""
    return "postgresql://" + url.split("://", 1)[1]


class _Seeded:
    """What a bulk seed leaves behind for the report: statuses and sample e-mails."""

    def __init__(self, statuses: list[str]) -> None:
        self.status_count: dict[str, int] = dict.fromkeys(statuses, 0)
        self.sample_emails: list[str] = []


def _batches(
    args: argparse.Namespace, seeded: _Seeded
) -> Iterator[tuple[list[dict[str, Any]], list[dict[str, Any]]]]:
    """The orders and history rows, ``BATCH`` orders at a time."""
    _fast_ids(args.seed)
    rng = random.Random(args.seed)
    statuses = list(seeded.status_count)
    weights = [w for _, w in STATUSES]
    end = datetime.now(UTC).replace(microsecond=0)
    span = int(timedelta(days=365).total_seconds())
    actor = Actor(args.key_name)
    order_cols = set(orders.columns.keys())
    batch_orders: list[dict[str, Any]] = []
    batch_history: list[dict[str, Any]] = []
    for number in range(args.count):
        body = OrderCreate.model_validate(order_body(rng, number, args.customers)).wire()
        created_at = end - timedelta(seconds=rng.randrange(span), milliseconds=rng.randrange(1000))
        created = timeutil.fmt(created_at)
        order, computed = rules.new_order(
            body,
            order_id=ids.order_id(),
            merchant=args.merchant,
            channel=args.channel,
            created=created,
        )
        # history entry 1 describes the order as created (before any state change)
        patch = [{"op": "add", "path": "", "value": history_of.without_last_modified(order)}]
        entry = history_of.entry(
            sequence=1,
            at=created,
            actor=actor,
            operation="CreateCheckoutOrder",
            request_id=f"{rng.getrandbits(64):016x}",
            patch=patch,
        )
        status = rng.choices(statuses, weights)[0]
        seeded.status_count[status] += 1
        moment = created_at
        for step in PATHS[status]:
            moment += timedelta(minutes=rng.randint(1, 600))
            stamp = timeutil.fmt(moment)
            order["state"]["currentStatus"] = step
            order["state"]["transitions"].append({"status": step, "timeStamp": stamp})
            order["lastModified"] = stamp
        row = {
            "id": order["id"],
            "merchant": order["merchant"],
            "channel": order["channel"],
            "version": 1,
            "doc": jsonutil.dumps(order).decode(),
            "meta": orjson.dumps({"computed": computed}).decode(),
            "created": order["created"],
            **index_columns(order),
        }
        if number == 0 and set(row) != order_cols:
            sys.exit(f"seed.py: column mismatch: {sorted(set(row) ^ order_cols)}")
        batch_orders.append(row)
        if args.history:
            batch_history.append({"order_id": order["id"], "sequence": 1, "entry": entry.decode()})
        if len(seeded.sample_emails) < args.samples and rng.random() < 0.05:
            seeded.sample_emails.append(row["billing_email"])
        if len(batch_orders) >= BATCH:
            yield batch_orders, batch_history
            batch_orders, batch_history = [], []
    if batch_orders:
        yield batch_orders, batch_history


def _bulk_sqlite(args: argparse.Namespace, seeded: _Seeded) -> int:
    conn = sqlite3.connect(args.database, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")  # seeding only; the server uses FULL
    # secondary indexes as the migrations made them (autoindexes have no SQL and stay)
    secondary = conn.execute(
        "SELECT name, sql FROM sqlite_master "
        "WHERE type = 'index' AND tbl_name = 'orders' AND sql IS NOT NULL"
    ).fetchall()
    for name, _sql in secondary:
        conn.execute(f'DROP INDEX "{name}"')
    order_cols = list(orders.columns.keys())
    insert_order = (
        f"INSERT INTO orders ({', '.join(order_cols)}) "
        f"VALUES ({', '.join(':' + c for c in order_cols)})"
    )
    history_cols = list(history.columns.keys())
    insert_history = (
        f"INSERT INTO history ({', '.join(history_cols)}) "
        f"VALUES ({', '.join(':' + c for c in history_cols)})"
    )
    for batch_orders, batch_history in _batches(args, seeded):
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(insert_order, batch_orders)
        if batch_history:
            conn.executemany(insert_history, batch_history)
        conn.execute("COMMIT")
    for _name, sql in secondary:
        conn.execute(sql)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("ANALYZE")
    conn.close()
    return len(secondary)


# the orders indexes that are not a constraint's own (the primary key stays)
_PG_SECONDARY = (
    "SELECT indexname, indexdef FROM pg_indexes "
    "WHERE schemaname = current_schema() AND tablename = 'orders' AND indexname NOT IN "
    "(SELECT conname FROM pg_constraint WHERE conrelid = 'orders'::regclass)"
)


async def _bulk_postgres(args: argparse.Namespace, seeded: _Seeded) -> int:
    import asyncpg

    conn = await asyncpg.connect(asyncpg_dsn(args.database), ssl=False)
    try:
        # seeding only: the server commits durably
        await conn.execute("SET synchronous_commit = off")
        await conn.execute("SET maintenance_work_mem = '256MB'")
        secondary = await conn.fetch(_PG_SECONDARY)
        for index in secondary:
            await conn.execute(f'DROP INDEX "{index["indexname"]}"')
        order_cols = list(orders.columns.keys())
        history_cols = list(history.columns.keys())

        async def copy(batch_orders: list[dict[str, Any]], batch_history: list[Any]) -> None:
            async with conn.transaction():
                await conn.copy_records_to_table(
                    "orders",
                    records=[tuple(row[c] for c in order_cols) for row in batch_orders],
                    columns=order_cols,
                )
                if batch_history:
                    await conn.copy_records_to_table(
                        "history",
                        records=[tuple(row[c] for c in history_cols) for row in batch_history],
                        columns=history_cols,
                    )

        # the next batch is built in a thread while the server stores the previous one
        batches = _batches(args, seeded)
        copying: asyncio.Task[None] | None = None
        while True:
            batch = await asyncio.to_thread(next, batches, None)
            if copying is not None:
                await copying
            if batch is None:
                break
            copying = asyncio.create_task(copy(*batch))
        # rebuilt on two connections at once (about half the time on 2 cores)
        todo = [index["indexdef"] for index in secondary]
        helper = await asyncpg.connect(asyncpg_dsn(args.database), ssl=False)
        try:
            await helper.execute("SET maintenance_work_mem = '256MB'")

            async def build(builder: asyncpg.Connection) -> None:
                while todo:
                    await builder.execute(todo.pop())

            await asyncio.gather(build(conn), build(helper))
        finally:
            await helper.close()
        # VACUUM too: it sets the visibility map, without which an index-only scan (the list
        # totals) visits the table for every row until autovacuum gets round to it
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()
    return len(secondary)


def _bulk(args: argparse.Namespace) -> None:
    started = time.perf_counter()
    seeded = _Seeded([s for s, _ in STATUSES])
    if is_postgres(args.database):
        rebuilt = asyncio.run(_bulk_postgres(args, seeded))
    else:
        rebuilt = _bulk_sqlite(args, seeded)
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "emails.txt").write_text("\n".join(seeded.sample_emails) + "\n")
    elapsed = time.perf_counter() - started
    counts = ", ".join(f"{k} {v}" for k, v in seeded.status_count.items())
    print(
        f"seeded {args.count} orders for {args.merchant}/{args.channel} "
        f"({args.customers} customers; {counts}; {rebuilt} indexes rebuilt) "
        f"in {elapsed:.1f} s"
    )


async def _postgres_indexes(url: str) -> set[str]:
    import asyncpg

    conn = await asyncpg.connect(asyncpg_dsn(url), ssl=False)
    try:
        rows = await conn.fetch(
            "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()"
        )
    finally:
        await conn.close()
    return {row["indexname"] for row in rows}


def _indexes(args: argparse.Namespace) -> None:
    if is_postgres(args.database):
        present = asyncio.run(_postgres_indexes(args.database))
    else:
        conn = sqlite3.connect(args.database, isolation_level=None)
        query = "SELECT name FROM sqlite_master WHERE type='index'"
        present = {row[0] for row in conn.execute(query)}
        conn.close()
    declared = sorted(str(index.name) for index in orders.indexes)
    missing = [name for name in declared if name not in present]
    note = f": missing {', '.join(missing)}" if missing else ""
    print(
        f"orders indexes: {len(declared) - len(missing)} of the {len(declared)} declared in "
        f"kassa.db.tables exist in the database{note}"
    )


async def _postgres_checkpoint(url: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(asyncpg_dsn(url), ssl=False)
    try:
        await conn.execute("CHECKPOINT")
    finally:
        await conn.close()


def _checkpoint(args: argparse.Namespace) -> None:
    """Flush what seeding wrote before anything is measured. Loading 100,000 orders and
    building their indexes writes hundreds of MB of WAL; on PostgreSQL the checkpoint that
    this forces sooner or later (max_wal_size) would otherwise run during the first write
    scenarios, its fsyncs beside every commit's. SQLite: the WAL folded into the database."""
    if is_postgres(args.database):
        asyncio.run(_postgres_checkpoint(args.database))
    else:
        conn = sqlite3.connect(args.database, isolation_level=None)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()


async def _postgres_description(url: str) -> str:
    import asyncpg

    conn = await asyncpg.connect(asyncpg_dsn(url), ssl=False)
    try:
        version = await conn.fetchval("SHOW server_version")
        names = ("synchronous_commit", "fsync", "shared_buffers")
        settings = [f"{name}={await conn.fetchval(f'SHOW {name}')}" for name in names]
    finally:
        await conn.close()
    return f"PostgreSQL {version.split()[0]} ({', '.join(settings)})"


def _database(args: argparse.Namespace) -> None:
    if is_postgres(args.database):
        print(asyncio.run(_postgres_description(args.database)))
    else:
        print(f"SQLite {sqlite3.sqlite_version} (WAL, synchronous=FULL)")


def _request(args: argparse.Namespace, method: str, path: str, body: Any) -> Any:
    req = urllib.request.Request(
        args.url.rstrip("/") + path,
        data=jsonutil.dumps(body),
        method=method,
        headers={
            "Authorization": f"Bearer {args.key}",
            "x-merchant": args.merchant,
            "x-channel": args.channel,
            "Content-Type": "application/json",
        },
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read() or b"null")


def _api(args: argparse.Namespace) -> None:
    rng = random.Random(args.seed)
    get_body = {
        "reference": "bench-get",
        "culture": "sv-SE",
        "currency": "SEK",
        "country": "SE",
        "cart": {
            "reference": "cart-bench-get",
            "items": [
                {
                    "name": "Wool sweater",
                    "sku": "SW-100",
                    "quantity": 2,
                    "price": {"includingVat": 899, "excludingVat": 719.2},
                    "total": {"includingVat": 1798, "excludingVat": 1438.4},
                    "vatRate": 0.25,
                },
                {
                    "name": "Socks 3-pack",
                    "sku": "SO-003",
                    "quantity": 1,
                    "price": {"includingVat": 129, "excludingVat": 103.2},
                    "total": {"includingVat": 129, "excludingVat": 103.2},
                    "vatRate": 0.25,
                },
                {
                    "name": "Beanie",
                    "sku": "BE-010",
                    "quantity": 3,
                    "price": {"includingVat": 249.9, "excludingVat": 199.92},
                    "total": {"includingVat": 749.7, "excludingVat": 599.76},
                    "vatRate": 0.25,
                },
            ],
        },
        "customer": {"billing": _customer(0), "shipping": _customer(0)},
        "consents": [
            {"id": "terms", "checked": True, "text": "I accept the terms", "required": True}
        ],
    }
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    get_id = _request(args, "POST", "/api/v0/checkout/orders", get_body)["id"]
    (out / "get_id.txt").write_text(get_id + "\n")
    patch_ids = []
    for number in range(args.patch_orders):
        body = order_body(rng, number, 1000)
        body["reference"] = f"bench-patch-{number:03d}"
        body["attributes"] = {"source": "bench"}
        patch_ids.append(_request(args, "POST", "/api/v0/checkout/orders", body)["id"])
    (out / "patch_ids.txt").write_text("\n".join(patch_ids) + "\n")
    # a small order (the checkout_flow scenario's cart) with one payment of its total
    tx_targets = []
    for number in range(args.tx_orders):
        body = {
            "reference": f"bench-tx-{number:04d}",
            "cart": {
                "items": [{"name": "T-Shirt", "quantity": 1, "total": {"includingVat": 12.5}}]
            },
        }
        order_id = _request(args, "POST", "/api/v0/checkout/orders", body)["id"]
        payment = {
            "reference": f"bench-tx-{number:04d}",
            "name": "card",
            "type": "default",
            "amount": 12.5,
        }
        path = f"/api/v0/checkout/orders/{order_id}/payments"
        payment_id = _request(args, "POST", path, payment)["id"]
        tx_targets.append(f"{order_id} {payment_id}")
    (out / "tx_targets.txt").write_text("\n".join(tx_targets) + "\n")
    print(
        f"created via the API: GET order {get_id}, {len(patch_ids)} PATCH orders, "
        f"{len(tx_targets)} orders with one payment each for transactions"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    sub = parser.add_subparsers(dest="command", required=True)
    bulk = sub.add_parser("bulk", help="insert orders straight into the database")
    bulk.add_argument(
        "--database", required=True, help="SQLite file or PostgreSQL URL (already migrated)"
    )
    bulk.add_argument("--merchant", default="bench")
    bulk.add_argument("--channel", default="bench")
    bulk.add_argument("--count", type=int, default=100_000)
    bulk.add_argument("--customers", type=int, default=20_000, help="distinct billing emails")
    bulk.add_argument("--key-name", default="bench", help="actor keyName in history entry 1")
    bulk.add_argument("--no-history", dest="history", action="store_false")
    bulk.add_argument("--samples", type=int, default=500, help="emails written for the filters")
    bulk.add_argument("--seed", type=int, default=42)
    bulk.add_argument("--out-dir", required=True)
    idx = sub.add_parser("indexes", help="report the declared orders indexes present")
    idx.add_argument("--database", required=True, help="SQLite file or PostgreSQL URL")
    point = sub.add_parser("checkpoint", help="flush what seeding wrote (before measuring)")
    point.add_argument("--database", required=True, help="SQLite file or PostgreSQL URL")
    dbinfo = sub.add_parser("database", help="one line naming the database and its settings")
    dbinfo.add_argument("--database", required=True, help="SQLite file or PostgreSQL URL")
    api = sub.add_parser("api", help="create the GET, PATCH and transaction orders over HTTP")
    api.add_argument("--url", required=True)
    api.add_argument("--key", required=True)
    api.add_argument("--merchant", default="bench")
    api.add_argument("--channel", default="bench")
    api.add_argument("--patch-orders", type=int, default=100)
    api.add_argument(
        "--tx-orders", type=int, default=200, help="orders with one payment (post_transaction)"
    )
    api.add_argument("--seed", type=int, default=7)
    api.add_argument("--out-dir", required=True)
    args = parser.parse_args()
    if args.command == "bulk":
        _bulk(args)
    elif args.command == "indexes":
        _indexes(args)
    elif args.command == "database":
        _database(args)
    elif args.command == "checkpoint":
        _checkpoint(args)
    else:
        _api(args)


if __name__ == "__main__":
    main()
