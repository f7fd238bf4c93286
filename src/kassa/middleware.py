"""The outermost ASGI layer: request id, trailing slash, access log, metrics, last-resort 500.

Written as plain ASGI (no ``BaseHTTPMiddleware``) because it wraps every request.
"""

from __future__ import annotations

import logging
import os
import random
import re
import secrets
import time
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kassa.metrics import HTTP_DURATION, HTTP_REQUESTS

log = logging.getLogger("kassa.access")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")


def request_id_of(scope: Scope) -> str:
    return str(scope.get("state", {}).get("request_id", ""))


class KassaMiddleware:
    def __init__(self, app: ASGIApp, *, access_log: bool = True) -> None:
        self.app = app
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        incoming = _header(scope, b"x-request-id")
        request_id = incoming if incoming and _REQUEST_ID.match(incoming) else _new_request_id()
        scope.setdefault("state", {})["request_id"] = request_id
        path: str = scope["path"]
        if len(path) > 1 and path.endswith("/"):
            scope["path"] = path[:-1]
            if scope.get("raw_path"):
                scope["raw_path"] = scope["raw_path"].rstrip(b"/") or b"/"
        status = 500
        sent_start = False

        async def send_wrapper(message: Message) -> None:
            nonlocal status, sent_start
            if message["type"] == "http.response.start":
                status = message["status"]
                sent_start = True
                message.setdefault("headers", [])
                message["headers"] = [
                    *message["headers"],
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception:
            log.exception("unhandled error", extra={"request_id": request_id})
            if not sent_start:
                body = orjson.dumps(
                    {
                        "code": "internal-error",
                        "message": "Internal error.",
                        "requestId": request_id,
                    }
                )
                await send_wrapper(
                    {
                        "type": "http.response.start",
                        "status": 500,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
        finally:
            elapsed = time.perf_counter() - started
            route = _route_template(scope)
            method = scope["method"]
            counted, timed = _series(method, route, status)
            counted.inc()
            timed.observe(elapsed)
            if self.access_log:
                log.info(
                    "request",
                    extra={
                        "request_id": request_id,
                        "method": method,
                        "path": path,
                        "route": route,
                        "status": status,
                        "duration_ms": round(elapsed * 1000, 3),
                    },
                )


# Request ids need to be unique, not secret: a per-process generator seeded from the system's
# CSPRNG (os.urandom), without a system call per request.
_IDS = random.Random(secrets.randbits(128))
os.register_at_fork(after_in_child=lambda: _IDS.seed(secrets.randbits(128)))


# the metric children of each (method, route, status): ``labels()`` looks them up anew, at a
# cost that shows on every request. Bounded, as methods are whatever clients send.
_SERIES: dict[tuple[str, str, int], tuple[Any, Any]] = {}
_MAX_SERIES = 2048


def _series(method: str, route: str, status: int) -> tuple[Any, Any]:
    key = (method, route, status)
    found = _SERIES.get(key)
    if found is None:
        found = (
            HTTP_REQUESTS.labels(method, route, str(status)),
            HTTP_DURATION.labels(method, route),
        )
        if len(_SERIES) < _MAX_SERIES:
            _SERIES[key] = found
    return found


def _new_request_id() -> str:
    return f"{_IDS.getrandbits(64):016x}"


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _route_template(scope: Scope) -> str:
    route: Any = scope.get("route")
    template = getattr(route, "path", None)
    return str(template) if template else "unmatched"
