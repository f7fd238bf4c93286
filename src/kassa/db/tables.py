"""The tables. Only repositories import this module.

``orders`` holds each order as one JSON document plus a version; the other columns are copies of
document fields kept in step on every write so that listing and filtering are index lookups.
Money columns are split into whole units and millionths (two integers) so that sums and sorts
are exact on both databases.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

KEY = 512  # indexed copies of free-text fields are cut to this many characters

orders = Table(
    "orders",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("merchant", String(128), nullable=False),
    Column("channel", String(128), nullable=False),
    Column("version", Integer, nullable=False),
    Column("doc", Text, nullable=False),
    Column("meta", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("created", String(24), nullable=False),
    Column("reference", String(KEY)),
    Column("cart_reference", String(KEY)),
    Column("country", String(8)),
    Column("currency", String(8)),  # the console's currency filter (no index of its own)
    Column("billing_country", String(8)),
    Column("shipping_country", String(8)),
    Column("billing_email", String(KEY)),
    Column("shipping_email", String(KEY)),
    Column("billing_given", String(KEY)),
    Column("billing_family", String(KEY)),
    Column("billing_name", String(KEY)),
    Column("shipping_given", String(KEY)),
    Column("shipping_family", String(KEY)),
    Column("shipping_name", String(KEY)),
    Column("billing_phone", String(KEY)),
    Column("shipping_phone", String(KEY)),
    Column("cart_total_units", BigInteger, nullable=False),
    Column("cart_total_micros", Integer, nullable=False),
    Column("total_units", BigInteger, nullable=False),
    Column("total_micros", Integer, nullable=False),
    Column("search", Text, nullable=False),
)

_TENANT = ("merchant", "channel")
for _name, _cols in {
    # the totals ride along so that totalSize and valueSum are answered from the index alone
    "created": ("created", "id", "total_units", "total_micros"),
    "status": ("status", "created", "total_units", "total_micros"),
    "reference": ("reference",),
    "cart_reference": ("cart_reference",),
    "country": ("country",),
    "billing_country": ("billing_country",),
    "shipping_country": ("shipping_country",),
    "billing_email": ("billing_email",),
    "shipping_email": ("shipping_email",),
    "billing_given": ("billing_given",),
    "billing_family": ("billing_family",),
    "billing_name": ("billing_name",),
    "shipping_given": ("shipping_given",),
    "shipping_family": ("shipping_family",),
    "shipping_name": ("shipping_name",),
    "billing_phone": ("billing_phone",),
    "shipping_phone": ("shipping_phone",),
    "cart_total": ("cart_total_units", "cart_total_micros"),
}.items():
    Index(f"ix_orders_{_name}", *(orders.c[c] for c in (*_TENANT, *_cols)))

# the console lists every channel of a merchant, newest first, with the list's totals
Index(
    "ix_orders_merchant_created",
    orders.c.merchant,
    orders.c.created,
    orders.c.id,
    orders.c.total_units,
    orders.c.total_micros,
)

order_payments = Table(
    "order_payments",
    metadata,
    Column("order_id", String(32), primary_key=True),
    Column("payment_id", String(32), primary_key=True),
)
Index("ix_order_payments_payment", order_payments.c.payment_id)

history = Table(
    "history",
    metadata,
    Column("order_id", String(32), primary_key=True),
    Column("sequence", Integer, primary_key=True),
    Column("entry", Text, nullable=False),
)

idempotency = Table(
    "idempotency",
    metadata,
    Column("merchant", String(128), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    Column("state", String(16), nullable=False),  # in-flight | done
    Column("started_at", BigInteger, nullable=False),  # Unix ms
    Column("expires_at", BigInteger, nullable=False),  # Unix ms
    Column("status", Integer),
    Column("headers", Text),
    Column("body", LargeBinary),
)
Index("ix_idempotency_expires", idempotency.c.expires_at)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(128), nullable=False, unique=True),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("merchant", String(128), nullable=False),
    Column("channels", Text),  # JSON list; NULL = every channel
    Column("adapter_id", String(128)),
    Column("created", String(24), nullable=False),
    Column("revoked", String(24)),
)

payment_transactions = Table(
    "payment_transactions",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("order_id", String(32), nullable=False),
    Column("payment_id", String(32), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("doc", Text, nullable=False),
)
Index(
    "ix_payment_transactions_payment",
    payment_transactions.c.order_id,
    payment_transactions.c.payment_id,
    payment_transactions.c.seq,
    unique=True,
)

kv = Table(
    "kv",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

# Notification events (the outbox) and their delivery attempts. Times used by the delivery
# loop are Unix milliseconds (compared in SQL); times shown on the wire are ``fmt`` strings.
events = Table(
    "events",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("merchant", String(128), nullable=False),
    Column("channel", String(128), nullable=False),
    Column("order_id", String(32), nullable=False),
    Column("order_version", Integer, nullable=False),
    Column("sequence", Integer, nullable=False),
    Column("notification_id", String(32), nullable=False),
    Column("adapter_id", String(KEY)),
    Column("reference", String(KEY)),
    Column("description", Text),
    Column("scope", Text, nullable=False),
    Column("invoke", Text, nullable=False),
    Column("status", String(16), nullable=False),  # pending | succeeded | failed
    Column("created", String(24), nullable=False),
    Column("attempt_count", Integer, nullable=False),
    Column("last_attempt_at", String(24)),
    Column("last_status_code", Integer),
    Column("next_attempt_ms", BigInteger),  # NULL unless pending
    Column("first_attempt_ms", BigInteger),
    Column("terminal_ms", BigInteger),  # when it became succeeded/failed (retention)
    # 1: the next attempt is manual; 2: operation 38 during an attempt (manual one follows)
    Column("manual", Integer, nullable=False),
    Column("replay", Integer, nullable=False),  # 1: one manual attempt, then terminal
    Column("lease_owner", String(64)),
    Column("lease_until_ms", BigInteger),
    Column("payload", Text, nullable=False),  # the body, serialised once at commit
)
Index("ix_events_order_sequence", events.c.order_id, events.c.sequence, unique=True)
Index("ix_events_due", events.c.status, events.c.next_attempt_ms)
Index("ix_events_list", events.c.merchant, events.c.created, events.c.id)
Index("ix_events_merchant_order", events.c.merchant, events.c.order_id)
Index("ix_events_merchant_adapter", events.c.merchant, events.c.adapter_id)
Index("ix_events_merchant_reference", events.c.merchant, events.c.reference)
# the channel filter (and keys limited to channels) and the status filter, newest first
Index(
    "ix_events_merchant_channel",
    events.c.merchant,
    events.c.channel,
    events.c.created,
    events.c.id,
)
Index(
    "ix_events_merchant_status", events.c.merchant, events.c.status, events.c.created, events.c.id
)
Index("ix_events_terminal", events.c.terminal_ms)

event_attempts = Table(
    "event_attempts",
    metadata,
    Column("event_id", String(32), primary_key=True),
    Column("number", Integer, primary_key=True),
    Column("trigger", String(16), nullable=False),  # automatic | manual
    Column("started_at", String(24), nullable=False),
    Column("duration_ms", Integer, nullable=False),
    Column("outcome", String(32), nullable=False),
    Column("status_code", Integer),
    Column("error", Text),
    Column("response_excerpt", Text, nullable=False),
)

# Named leases: e.g. the single delivery loop allowed on an SQLite database.
leases = Table(
    "leases",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("holder", String(64), nullable=False),
    Column("expires_ms", BigInteger, nullable=False),
)

# Configurations (adapters §3): each one's JSON text as sent (numbers canonical), keyed by
# merchant, channel and name (its ``id``); ``version`` for ETag / If-Match.
configurations = Table(
    "configurations",
    metadata,
    Column("merchant", String(128), primary_key=True),
    Column("channel", String(128), primary_key=True),
    Column("name", String(128), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("doc", Text, nullable=False),
    Column("created", String(24), nullable=False),
    Column("updated", String(24), nullable=False),
)

# The operator console (kassa.console): people who log in with a password, not API keys.
operators = Table(
    "operators",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("merchant", String(128), nullable=False),
    Column("channels", Text),  # JSON list; NULL = every channel
    Column("role", String(16), nullable=False),  # viewer | operator | admin
    Column("password_hash", Text, nullable=False),  # argon2id
    Column("created", String(24), nullable=False),
    Column("disabled", String(24)),
)

# Server-side console sessions: the cookie holds a random token, the table its SHA-256.
console_sessions = Table(
    "console_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("operator", String(128), nullable=False),
    Column("csrf", String(64), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("seen_ms", BigInteger, nullable=False),  # last request: inactivity expiry
)
Index("ix_console_sessions_operator", console_sessions.c.operator)

# Failed console logins, one row each, keyed "account:<name>" or "address:<ip>" (throttling).
login_failures = Table(
    "login_failures",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(255), nullable=False),
    Column("at_ms", BigInteger, nullable=False),
)
Index("ix_login_failures_key", login_failures.c.key, login_failures.c.at_ms)
