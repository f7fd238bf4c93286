"""Prometheus metric families (api op 41) and their exposition.

One process keeps its values in memory (``REGISTRY``). When ``PROMETHEUS_MULTIPROC_DIR`` is set
before this module is first imported — ``kassa serve --workers N`` does that for its worker
processes (``kassa.serving``), and an operator may point ``kassa serve`` and ``kassa worker`` at
one directory with ``KASSA_METRICS_DIR`` — every process writes its values to memory-mapped
files there, and ``/metrics`` answers with the sum over all of them
(prometheus_client's multiprocess mode).
"""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

# prometheus_client decides the same way, once, when it is first imported
MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))

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
    # in-process hook calls to built-in adapters take about a millisecond
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=REGISTRY,
)
# Every delivery loop counts the same table, so the latest count of a live process is the
# answer (a process that never counted contributes nothing; a dead one is forgotten).
EVENTS_PENDING = Gauge(
    "kassa_events_pending",
    "Notification events pending.",
    registry=REGISTRY,
    multiprocess_mode="livemostrecent",
)
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


def exposition() -> bytes:
    """The text ``/metrics`` answers: this process's values, or every process's summed."""
    if not MULTIPROCESS:
        return generate_latest(REGISTRY)
    registry = CollectorRegistry()
    MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return generate_latest(registry)
