"""A ``KassaError`` as the response the client gets: ``{"code", "message", "requestId", ...}``."""

from __future__ import annotations

import logging

from starlette.responses import Response

from kassa import jsonutil
from kassa.errors import KassaError

log = logging.getLogger("kassa")


def kassa_error_response(exc: KassaError, request_id: str) -> Response:
    """An error raised by an endpoint; a 5xx is also logged."""
    if exc.status >= 500:
        log.error("request failed: %s", exc.message, extra={"code": exc.code})
    return error_response(exc, request_id)


def error_response(exc: KassaError, request_id: str) -> Response:
    body = exc.body()
    body["requestId"] = request_id
    return Response(
        jsonutil.dumps(body),
        status_code=exc.status,
        media_type="application/json",
        headers=exc.headers or None,
    )
