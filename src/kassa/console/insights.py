"""The dashboard's series and the needs-attention lists, computed from the console's
aggregate reads (``kassa.console.repository``) and the process's request-latency histogram."""

from __future__ import annotations

import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson

from kassa import jsonutil, money
from kassa.console import repository
from kassa.console.accounts import Operator
from kassa.metrics import HTTP_DURATION
from kassa.state import AppState
from kassa.timeutil import fmt

DAYS = 14


def _days(count: int) -> list[str]:
    today = datetime.now(UTC).date()
    return [(today - timedelta(days=n)).isoformat() for n in range(count - 1, -1, -1)]


def _since(days: int) -> str:
    return fmt(datetime.now(UTC) - timedelta(days=days))


def latency() -> list[dict[str, Any]]:
    """p50 and p99 (upper bucket bounds, ms) per route of this process since it started."""
    buckets: dict[tuple[str, str], list[tuple[float, float]]] = defaultdict(list)
    for metric in HTTP_DURATION.collect():
        for sample in metric.samples:
            if sample.name.endswith("_bucket"):
                key = (sample.labels["method"], sample.labels["route"])
                buckets[key].append((float(sample.labels["le"]), sample.value))
    result: list[dict[str, Any]] = []
    for (method, route), points in buckets.items():
        points.sort()
        total = points[-1][1] if points else 0
        if not total:
            continue

        def quantile(
            q: float, points: list[tuple[float, float]] = points, n: float = total
        ) -> float:
            for bound, count in points:
                if count >= q * n:
                    return bound * 1000
            return float("inf")

        result.append(
            {
                "route": f"{method} {route}",
                "count": int(total),
                "p50": quantile(0.5),
                "p99": quantile(0.99),
            }
        )
    result.sort(key=lambda r: -int(r["count"]))
    return result[:12]


async def dashboard(state: AppState, operator: Operator) -> dict[str, Any]:
    merchant, channels = operator.merchant, operator.channels
    since = _since(DAYS)
    days = _days(DAYS)

    def job(conn: Any) -> tuple[Any, Any, Any]:
        return (
            repository.orders_per_day(conn, merchant, channels, since),
            repository.transactions_since(conn, merchant, channels, since),
            repository.attempts_per_day(conn, merchant, channels, since),
        )

    per_status, transactions, attempts = await state.db.scan(job)
    statuses: dict[str, dict[str, int]] = defaultdict(dict)
    for day, status, count in per_status:
        statuses[status][day] = count
    moved: dict[tuple[str, str], dict[str, Decimal]] = defaultdict(dict)
    for text, currency in transactions:
        doc = jsonutil.loads(text)
        if not doc.get("isSuccess") or doc.get("event") not in {"capture", "refund"}:
            continue
        day = str(doc.get("created", ""))[:10]
        key = (doc["event"], currency or "?")
        moved[key][day] = moved[key].get(day, money.ZERO) + money.as_decimal(doc.get("amount"))
    outcomes: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for day, outcome, count in attempts:
        outcomes[day][0] += count
        if outcome == "succeeded":
            outcomes[day][1] += count
    return {
        "days": days,
        "orders": [
            {"label": status, "data": [per_day.get(d, 0) for d in days]}
            for status, per_day in sorted(statuses.items())
        ],
        "money": [
            {"label": f"{event} {currency}", "data": [str(per_day.get(d, 0)) for d in days]}
            for (event, currency), per_day in sorted(moved.items())
        ],
        "deliveries": [
            round(100 * outcomes[d][1] / outcomes[d][0], 1) if outcomes[d][0] else None
            for d in days
        ],
        "latency": latency(),
    }


def _reserved(doc: dict[str, Any], meta: dict[str, Any], cutoff: str) -> list[dict[str, Any]]:
    found = []
    ledgers = meta.get("ledger") or {}
    for payment in doc.get("payments") or []:
        if payment.get("state") != "reserved" or doc.get("lastModified", "") >= cutoff:
            continue
        captured = Decimal((ledgers.get(payment["id"]) or {}).get("captured", "0"))
        amount = money.as_decimal(payment.get("amount"))
        if captured < amount:
            found.append(
                {
                    "orderId": doc["id"],
                    "paymentId": payment["id"],
                    "amount": amount,
                    "captured": captured,
                    "currency": payment.get("currency") or doc.get("currency"),
                    "since": doc.get("lastModified"),
                }
            )
    return found


async def attention(state: AppState, operator: Operator) -> dict[str, Any]:
    settings = state.settings
    merchant, channels = operator.merchant, operator.channels
    reserved_cutoff = fmt(datetime.now(UTC) - timedelta(days=settings.console_reserved_days))
    processing_cutoff = fmt(datetime.now(UTC) - timedelta(hours=settings.console_processing_hours))
    day_ago_ms = int((time.time() - 86400) * 1000)

    def job(conn: Any) -> tuple[Any, Any, Any]:
        return (
            repository.orders_with_status(
                conn, merchant, channels, ("processing", "accepted", "completed"), reserved_cutoff
            ),
            repository.orders_with_status(
                conn, merchant, channels, ("processing",), processing_cutoff
            ),
            repository.failed_events_since(conn, merchant, channels, day_ago_ms),
        )

    candidates, processing, failed = await state.db.scan(job)
    reserved = []
    for doc_text, meta_text, _ in candidates:
        reserved += _reserved(jsonutil.loads(doc_text), orjson.loads(meta_text), reserved_cutoff)
    stuck = []
    for doc_text, _, channel in processing:
        doc = jsonutil.loads(doc_text)
        if doc.get("lastModified", "") < processing_cutoff:
            stuck.append(
                {
                    "id": doc["id"],
                    "channel": channel,
                    "since": doc.get("lastModified"),
                    "reference": doc.get("reference"),
                }
            )
    return {
        "reserved": reserved,
        "processing": stuck,
        "failed": failed,
        "reserved_days": settings.console_reserved_days,
        "processing_hours": settings.console_processing_hours,
        "limit": repository.MAX_ROWS,
    }
