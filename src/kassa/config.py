"""Deployment settings: one immutable object, read from ``KASSA_*`` environment variables."""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field, replace
from typing import Any

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./kassa.db"


def _env(name: str, default: str) -> str:
    return os.environ.get("KASSA_" + name.upper(), default)


def _bool(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _seconds(value: str) -> float:
    """Parse ``5``, ``5s``, ``10m``, ``24h`` or ``30d`` into seconds."""
    text = value.strip().lower()
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    if text and text[-1] in units:
        return float(text[:-1]) * units[text[-1]]
    return float(text)


def _secret_map(value: str) -> dict[str, list[str]]:
    """``KASSA_WEBHOOK_SECRETS``: JSON ``{"merchant": ["whsec_...", ...]}``."""
    if not value.strip():
        return {}
    parsed = json.loads(value)
    if not isinstance(parsed, dict):
        raise ValueError("KASSA_WEBHOOK_SECRETS must be a JSON object")
    return {str(k): [v] if isinstance(v, str) else [str(x) for x in v] for k, v in parsed.items()}


def _policy(name: str) -> str:
    value = _env(name, "open").strip().lower()
    if value not in {"open", "closed"}:
        raise ValueError(f"KASSA_{name.upper()} must be open or closed, not {value!r}")
    return value


# The default of a mount point that follows another setting, resolved in Settings.__post_init__
# (no normalised prefix equals it: those are empty or start with a slash)
UNSET = "\x00unset"


def _prefix(name: str) -> str:
    """A path prefix from ``KASSA_<NAME>``: ``UNSET`` when the variable is not set; else with
    one leading slash and no trailing one (``""`` for the root)."""
    value = os.environ.get("KASSA_" + name.upper())
    if value is None:
        return UNSET
    prefix = value.strip().rstrip("/")
    return "/" + prefix if prefix and not prefix.startswith("/") else prefix


# norce_layout: the three mount points of Norce's hosted services (adapters §1.1)
NORCE_PATH_PREFIX = "/checkout/order"
NORCE_CONFIGURATION_PATH_PREFIX = "/checkout/configuration"
NORCE_EVENTS_PATH_PREFIX = "/checkout/notification"


def _optional_bool(value: str) -> bool | None:
    return _bool(value) if value.strip() else None


def channel_notifications(value: str) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """``KASSA_CHANNEL_NOTIFICATIONS``: inline JSON or ``@path/to/file.json``.

    The JSON is an object ``{"<merchant>/<channel>": [Notification, ...]}`` or a list of
    ``{"merchant", "channel", "notifications": [...]}``. Each Notification is validated like
    the body of operation 15.
    """
    text = value.strip()
    if not text:
        return {}
    if text.startswith("@"):
        with open(text[1:], encoding="utf-8") as handle:
            text = handle.read()
    from kassa import jsonutil
    from kassa.orders.schemas import Notification

    parsed = jsonutil.loads(text)
    entries: list[tuple[str, str, Any]] = []
    if isinstance(parsed, dict):
        for key, notifications in parsed.items():
            merchant, sep, channel = str(key).partition("/")
            if not sep:
                raise ValueError(f"channel_notifications key {key!r} must be merchant/channel")
            entries.append((merchant, channel, notifications))
    elif isinstance(parsed, list):
        for item in parsed:
            if not isinstance(item, dict):
                raise ValueError("channel_notifications entries must be objects")
            entries.append((item["merchant"], item["channel"], item.get("notifications", [])))
    else:
        raise ValueError("channel_notifications must be a JSON object or list")
    result: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for merchant, channel, notifications in entries:
        if not isinstance(notifications, list):
            raise ValueError("channel_notifications values must be lists of notifications")
        checked = [Notification.model_validate(n).wire() for n in notifications]
        result.setdefault((merchant, channel), []).extend(checked)
    return result


def _positive_int(name: str, default: str) -> int:
    raw = _env(name, default)
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"KASSA_{name.upper()} must be a whole number of at least 1, not {raw!r}")
    return value


def _duration(name: str, default: str, *, zero: bool = False) -> float:
    """A positive number of seconds (``_seconds`` syntax); ``zero``: 0 is allowed (off)."""
    raw = _env(name, default)
    try:
        value = _seconds(raw)
    except ValueError:
        value = -1.0
    if not math.isfinite(value) or value < 0 or (value == 0 and not zero):
        least = "0 (off) or more" if zero else "more than 0"
        raise ValueError(f"KASSA_{name.upper()} must be a number of seconds, {least}, not {raw!r}")
    return value


NONPSP_PREFIX = "/checkout/nonpsp-adapter"
SANDBOX_PSP_PREFIX = "/checkout/sandbox-psp-adapter"
SANDBOX_SHIPPING_PREFIX = "/checkout/sandbox-shipping-adapter"


def _names(value: str) -> tuple[str, ...]:
    """A comma-separated list of names; empty means none."""
    return tuple(dict.fromkeys(n.strip() for n in value.split(",") if n.strip()))


def _adapter_prefix(name: str, default: str) -> str:
    """A path prefix: leading slash added, trailing slashes removed (may come out empty)."""
    value = _env(name, default).strip().rstrip("/")
    if value and not value.startswith("/"):
        value = "/" + value
    return value


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    # PostgreSQL connections per process: single statements (most requests), and transactions
    database_pool_size: int = 32
    database_transaction_pool_size: int = 8
    database_pgbouncer: bool = False  # the URL points at a PgBouncer in transaction pooling mode
    database_pool_timeout: float = 5.0  # seconds a request waits for a pooled connection
    database_connect_timeout: float = 5.0  # seconds to open a PostgreSQL connection
    database_statement_timeout: float = 30.0  # PostgreSQL statement_timeout; 0: not set
    path_prefix: str = ""  # the Order API (and /docs, /openapi.json, the ops routes)
    # UNSET: the value of path_prefix, or under norce_layout Norce's mount point (adapters §1.1)
    configuration_path_prefix: str = UNSET
    events_path_prefix: str = UNSET
    # Norce's hosted layout for the unset mount points. path_prefix is a plain string, so its
    # Norce value is applied where "unset" is known: from_env (each explicit setting wins).
    norce_layout: bool = False
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    payment_state_enforcement: bool = True
    idempotency_retention: float = 24 * 3600
    outbound_allow: str = ""
    action_timeout: float = 10.0
    webhook_secret: str | None = None
    webhook_secrets: dict[str, list[str]] = field(default_factory=dict)
    hook_failure_policy: str = "open"  # open | closed
    hook_timeout: float = 5.0
    validation_failure_policy: str = "open"  # open | closed
    validation_timeout: float = 5.0
    delivery_timeout: float = 10.0
    delivery_max_age: float = 24 * 3600
    event_retention: float = 30 * 86400
    # (merchant, channel) -> Notification objects appended to every new order (semantics §7.1)
    channel_notifications: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    run_delivery_in_api: bool | None = None  # None: true on SQLite, false on PostgreSQL
    log_level: str = "info"
    access_log: bool = True
    # multiprocess metrics shared by the processes of one host (kassa.serving); None: a
    # temporary directory of `kassa serve` when it runs several workers
    metrics_dir: str | None = None
    # the operator console (kassa.console)
    console_secure_cookie: bool = False  # served over HTTPS: the session cookie gets Secure
    console_session_idle: float = 30 * 60  # a session ends after this long without a request
    console_reserved_days: float = 7.0  # needs attention: reserved, not captured, older than
    console_processing_hours: float = 2.0  # needs attention: processing for longer than
    # built-in adapters (adapters.md §1): which are mounted, where, and how they reach kassa
    builtin_adapters: tuple[str, ...] = ("nonpsp_adapter",)
    nonpsp_adapter_path_prefix: str = "/checkout/nonpsp-adapter"
    sandbox_psp_path_prefix: str = "/checkout/sandbox-psp-adapter"
    sandbox_shipping_path_prefix: str = "/checkout/sandbox-shipping-adapter"
    adapter_callback_base_url: str = "http://kassa.internal"
    adapter_order_api_url: str = ""  # empty: loopback dispatch into this process
    adapter_configuration_api_url: str = ""  # empty: loopback dispatch into this process
    adapter_api_key: str | None = None
    adapter_key_secret: str | None = None  # None: generated once, kept in the database
    adapter_request_timeout: float = 10.0
    public_base_url: str | None = None
    sandbox_push_max_attempts: int = 5
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, norce in (
            ("configuration_path_prefix", NORCE_CONFIGURATION_PATH_PREFIX),
            ("events_path_prefix", NORCE_EVENTS_PATH_PREFIX),
        ):
            if getattr(self, name) == UNSET:
                object.__setattr__(self, name, norce if self.norce_layout else self.path_prefix)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def delivery_in_api(self) -> bool:
        if self.run_delivery_in_api is None:
            return self.is_sqlite
        return self.run_delivery_in_api

    @classmethod
    def from_env(cls, **overrides: Any) -> Settings:
        norce = _bool(_env("norce_layout", "false"))
        prefix = _prefix("path_prefix")
        if prefix == UNSET:
            prefix = NORCE_PATH_PREFIX if norce else ""
        if overrides.get("path_prefix") is not None:  # before the mount points follow it
            prefix = overrides["path_prefix"]
        settings = cls(
            database_url=_env("database_url", DEFAULT_DATABASE_URL),
            database_pool_size=_positive_int("database_pool_size", "32"),
            database_transaction_pool_size=_positive_int("database_transaction_pool_size", "8"),
            database_pgbouncer=_bool(_env("database_pgbouncer", "off")),
            database_pool_timeout=_duration("database_pool_timeout", "5"),
            database_connect_timeout=_duration("database_connect_timeout", "5"),
            database_statement_timeout=_duration("database_statement_timeout", "30", zero=True),
            path_prefix=prefix,
            configuration_path_prefix=_prefix("configuration_path_prefix"),
            events_path_prefix=_prefix("events_path_prefix"),
            norce_layout=norce,
            host=_env("host", "127.0.0.1"),
            port=int(_env("port", "8000")),
            workers=int(_env("workers", "1")),
            payment_state_enforcement=_env("payment_state_enforcement", "on").lower()
            not in {"off", "false", "0", "no"},
            idempotency_retention=_seconds(_env("idempotency_retention", "24h")),
            outbound_allow=_env("outbound_allow", ""),
            action_timeout=_seconds(_env("action_timeout", "10")),
            webhook_secret=_env("webhook_secret", "") or None,
            webhook_secrets=_secret_map(_env("webhook_secrets", "")),
            hook_failure_policy=_policy("hook_failure_policy"),
            hook_timeout=_seconds(_env("hook_timeout", "5")),
            validation_failure_policy=_policy("validation_failure_policy"),
            validation_timeout=_seconds(_env("validation_timeout", "5")),
            delivery_timeout=_seconds(_env("delivery_timeout", "10")),
            delivery_max_age=_seconds(_env("delivery_max_age", "24h")),
            event_retention=_seconds(_env("event_retention", "30d")),
            channel_notifications=channel_notifications(_env("channel_notifications", "")),
            run_delivery_in_api=_optional_bool(_env("run_delivery_in_api", "")),
            log_level=_env("log_level", "info").lower(),
            access_log=_bool(_env("access_log", "true")),
            metrics_dir=_env("metrics_dir", "") or None,
            console_secure_cookie=_bool(_env("console_secure_cookie", "false")),
            console_session_idle=_duration("console_session_idle", "30m"),
            console_reserved_days=float(_env("console_reserved_days", "7")),
            console_processing_hours=float(_env("console_processing_hours", "2")),
            builtin_adapters=_names(_env("builtin_adapters", "nonpsp_adapter")),
            nonpsp_adapter_path_prefix=_adapter_prefix("nonpsp_adapter_path_prefix", NONPSP_PREFIX),
            sandbox_psp_path_prefix=_adapter_prefix("sandbox_psp_path_prefix", SANDBOX_PSP_PREFIX),
            sandbox_shipping_path_prefix=_adapter_prefix(
                "sandbox_shipping_path_prefix", SANDBOX_SHIPPING_PREFIX
            ),
            adapter_callback_base_url=_env("adapter_callback_base_url", "http://kassa.internal")
            .strip()
            .rstrip("/"),
            adapter_order_api_url=_env("adapter_order_api_url", "").strip().rstrip("/"),
            adapter_configuration_api_url=_env("adapter_configuration_api_url", "")
            .strip()
            .rstrip("/"),
            adapter_api_key=_env("adapter_api_key", "").strip() or None,
            adapter_key_secret=_env("adapter_key_secret", "").strip() or None,
            adapter_request_timeout=_duration("adapter_request_timeout", "10"),
            public_base_url=_env("public_base_url", "").strip().rstrip("/") or None,
            sandbox_push_max_attempts=_positive_int("sandbox_push_max_attempts", "5"),
        )
        clean = {k: v for k, v in overrides.items() if v is not None}
        return replace(settings, **clean) if clean else settings
