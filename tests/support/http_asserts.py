"""Assertions on the wire shape of kassa responses (api §1.9, §3.25), shared by the HTTP tests."""

from __future__ import annotations

import re
from typing import Any

import httpx

# Code-specific body fields that §3.25 allows next to code/message/requestId/errors.
EXTRA_FIELDS = {
    "adapterId",
    "hookId",
    "upstreamStatus",
    "reason",
    "from",
    "to",
    "state",
    "available",
    "captured",
    "currentETag",
}
REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """Check status and the BaseError body; return the body for further checks."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body = response.json()
    assert isinstance(body, dict), body
    assert body["code"] == code, body
    assert isinstance(body["message"], str) and body["message"], body
    assert body["requestId"] == response.headers["x-request-id"], body
    assert REQUEST_ID.match(body["requestId"]), body
    unknown = set(body) - {"code", "message", "requestId", "errors"} - EXTRA_FIELDS
    assert not unknown, f"unexpected error fields {unknown}: {body}"
    if "errors" in body:
        assert isinstance(body["errors"], list), body
        for item in body["errors"]:
            if "code" in item:  # a ValidationError (validation-failed, api §3.30)
                assert set(item) <= {"code", "adapterId", "message"}, item
                assert isinstance(item["code"], str) and item["code"], item
            else:  # a FieldError
                assert set(item) == {"path", "message"}, item
                assert isinstance(item["path"], str) and isinstance(item["message"], str), item
    return body


def field_paths(body: dict[str, Any]) -> list[str]:
    """The ``path`` of every FieldError of an error body (which must carry ``errors``)."""
    errors = body.get("errors")
    assert isinstance(errors, list) and errors, f"expected a non-empty errors list: {body}"
    return [str(item["path"]) for item in errors]
