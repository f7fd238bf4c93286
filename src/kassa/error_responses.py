"""A ``KassaError`` as the response the client gets: ``{"code", "message", "requestId", ...}``."""

from __future__ import annotations

from starlette.responses import Response

from kassa import jsonutil
from kassa.errors import KassaError


def error_response(exc: KassaError, request_id: str) -> Response:
    body = exc.body()
    body["requestId"] = request_id
    return Response(
        jsonutil.dumps(body),
        status_code=exc.status,
        media_type="application/json",
        headers=exc.headers or None,
    )
