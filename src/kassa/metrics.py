"""Prometheus metric families (api op 41). Per process; scrape each process."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

HTTP_REQUESTS = Counter(
    "kassa_http_requests",
    "HTTP requests by route template and status.",
    ["method", "route", "status"],
    registry=REGISTRY,
)
HTTP_DURATION = Histogram(
    "kassa_http_request_duration_seconds",
    "HTTP request latency by route template.",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=REGISTRY,
)
OUTBOUND_CALLS = Counter(
    "kassa_outbound_calls",
    "Outbound calls by kind and outcome.",
    ["kind", "outcome"],
    registry=REGISTRY,
)
OUTBOUND_DURATION = Histogram(
    "kassa_outbound_call_duration_seconds",
    "Outbound call latency by kind.",
    ["kind"],
    registry=REGISTRY,
)
EVENTS_PENDING = Gauge("kassa_events_pending", "Notification events pending.", registry=REGISTRY)
EVENT_DELIVERIES = Counter(
    "kassa_event_deliveries",
    "Notification delivery attempts by outcome.",
    ["outcome"],
    registry=REGISTRY,
)
IDEMPOTENT_REPLAYS = Counter(
    "kassa_idempotent_replays", "Responses replayed from an idempotency record.", registry=REGISTRY
)
WRITE_CONFLICTS = Counter(
    "kassa_write_conflicts", "Compare-and-set conflicts on order writes.", registry=REGISTRY
)
