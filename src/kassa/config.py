"""Deployment settings: one immutable object, read from ``KASSA_*`` environment variables."""

from __future__ import annotations

import json
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


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    path_prefix: str = ""
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    payment_state_enforcement: bool = True
    idempotency_retention: float = 24 * 3600
    outbound_allow: str = ""
    action_timeout: float = 10.0
    webhook_secret: str | None = None
    webhook_secrets: dict[str, list[str]] = field(default_factory=dict)
    log_level: str = "info"
    access_log: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @classmethod
    def from_env(cls, **overrides: Any) -> Settings:
        prefix = _env("path_prefix", "").rstrip("/")
        if prefix and not prefix.startswith("/"):
            prefix = "/" + prefix
        settings = cls(
            database_url=_env("database_url", DEFAULT_DATABASE_URL),
            path_prefix=prefix,
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
            log_level=_env("log_level", "info").lower(),
            access_log=_bool(_env("access_log", "true")),
        )
        clean = {k: v for k, v in overrides.items() if v is not None}
        return replace(settings, **clean) if clean else settings
