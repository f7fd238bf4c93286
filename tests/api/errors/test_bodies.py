"""Request bodies (api §1.6, §1.12): malformed JSON, field rules, bodies that must be a bare
string or an object, nesting depth, size limits and media types."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.conftest import ORDERS, create_order, get_order
from tests.support.http_asserts import assert_error, field_paths
from tests.support.http_errors import MIB, _history_len

# --- malformed bodies and field rules ---------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [b'{"reference": ', b"{'a': 1}", b'{"a": 1,}', b"nope", b'{"a": 1} {"b": 2}', b"\xff\xfe"],
)
async def test_malformed_json_is_invalid_request(client: httpx.AsyncClient, raw: bytes) -> None:
    response = await client.post(ORDERS, content=raw, headers={"content-type": "application/json"})
    assert_error(response, 400, "invalid-request")


async def test_malformed_json_on_write_to_existing_order(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client)
    response = await client.patch(f"{ORDERS}/{order_id}/attributes", content=b'{"a": [1, 2}')
    assert_error(response, 400, "invalid-request")
    assert await _history_len(client, order_id) == 1


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"reference": "x" * 4097}, "/reference"),
        ({"cart": {"items": [{"name": "n" * 4097}]}}, "/cart/items/0/name"),
        ({"attributes": {"k" * 257: 1}}, "/attributes"),
        ({"attributes": {"k": "v" * 65537}}, "/attributes"),
        ({"consents": [{"checked": True}]}, "/consents/0/id"),
        ({"currency": "SEKK"}, "/currency"),
        ({"country": "S"}, "/country"),
    ],
)
async def test_field_rule_violations_are_invalid_request(
    client: httpx.AsyncClient, body: dict[str, Any], path: str
) -> None:
    response = await client.post(ORDERS, json=body)
    error = assert_error(response, 400, "invalid-request")
    assert any(p == path or p.startswith(path + "/") for p in field_paths(error)), error


async def test_string_limits_are_inclusive(client: httpx.AsyncClient) -> None:
    order_id = await create_order(
        client, {"reference": "x" * 4096, "attributes": {"k" * 256: "v" * 65536}}
    )
    order = await get_order(client, order_id)
    assert order["reference"] == "x" * 4096
    assert order["attributes"] == {"k" * 256: "v" * 65536}


async def test_missing_required_field_is_invalid_request(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client)
    response = await client.put(f"{ORDERS}/{order_id}/state", json={"transitions": []})
    error = assert_error(response, 400, "invalid-request")
    assert "/currentStatus" in field_paths(error)


async def test_absent_body(client: httpx.AsyncClient) -> None:
    # create: an absent body creates an empty order (op 1); PUT reference needs one (op 17)
    response = await client.post(ORDERS)
    assert response.status_code == 201, response.text
    order_id = response.json()["id"]
    order = await get_order(client, order_id)
    assert order["state"]["currentStatus"] == "checkout"
    response = await client.put(f"{ORDERS}/{order_id}/reference")
    assert_error(response, 400, "invalid-request")


@pytest.mark.parametrize("body", [{"reference": "x"}, ["x"], 5, True, None])
async def test_put_reference_needs_a_bare_json_string(client: httpx.AsyncClient, body: Any) -> None:
    order_id = await create_order(client, {"reference": "before"})
    response = await client.put(f"{ORDERS}/{order_id}/reference", json=body)
    error = assert_error(response, 400, "invalid-request")
    assert field_paths(error) == [""]
    assert (await get_order(client, order_id))["reference"] == "before"


async def test_put_reference_accepts_empty_string(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client, {"reference": "before"})
    response = await client.put(f"{ORDERS}/{order_id}/reference", json="")
    assert response.status_code == 200, response.text
    assert response.content == b""
    assert (await get_order(client, order_id))["reference"] == ""


@pytest.mark.parametrize("body", [["a"], "a", 1, None])
async def test_patch_attributes_needs_an_object(client: httpx.AsyncClient, body: Any) -> None:
    order_id = await create_order(client)
    response = await client.patch(f"{ORDERS}/{order_id}/attributes", json=body)
    error = assert_error(response, 400, "invalid-request")
    assert field_paths(error) == [""]


# --- limits ---------------------------------------------------------------------------------


def _nested(levels: int) -> bytes:
    """A create body whose deepest value sits ``levels`` containers deep (the body counts 1)."""
    inner = levels - 2  # the body object and the attributes object
    return b'{"attributes": {"deep": ' + b"[" * inner + b"]" * inner + b"}}"


async def test_nesting_of_64_is_accepted(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client, None, content=_nested(64))
    value: Any = (await get_order(client, order_id))["attributes"]["deep"]
    depth = 2
    while isinstance(value, list):
        depth += 1
        value = value[0] if value else None
    assert depth == 64


async def test_nesting_deeper_than_64_is_invalid_request(client: httpx.AsyncClient) -> None:
    response = await client.post(ORDERS, content=_nested(65))
    assert_error(response, 400, "invalid-request")
    response = await client.post(ORDERS, content=b"[" * 5000 + b"]" * 5000)
    assert_error(response, 400, "invalid-request")


async def test_body_of_exactly_one_mib_is_accepted(client: httpx.AsyncClient) -> None:
    raw = b"{}" + b" " * (MIB - 2)
    assert len(raw) == MIB
    response = await client.post(ORDERS, content=raw)
    assert response.status_code == 201, response.text
    assert re.fullmatch(r"o_[A-Za-z]{26}", response.json()["id"])


async def test_body_over_one_mib_is_payload_too_large(client: httpx.AsyncClient) -> None:
    response = await client.post(ORDERS, content=b"{}" + b" " * (MIB - 1))
    assert_error(response, 413, "payload-too-large")
    listing = await client.get(ORDERS)
    assert listing.json()["pagination"]["totalSize"] == 0


async def test_chunked_body_over_one_mib_is_payload_too_large(
    client: httpx.AsyncClient,
) -> None:
    order_id = await create_order(client)

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"big": "'
        for _ in range(17):
            yield b"x" * 65536
        yield b'"}'

    response = await client.patch(f"{ORDERS}/{order_id}/attributes", content=chunks())
    assert_error(response, 413, "payload-too-large")
    assert "attributes" not in await get_order(client, order_id)


# --- media types ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml"]
)
async def test_non_json_content_type_is_unsupported(
    client: httpx.AsyncClient, content_type: str
) -> None:
    response = await client.post(ORDERS, content=b"{}", headers={"content-type": content_type})
    assert_error(response, 415, "unsupported-media-type")


async def test_non_json_content_type_on_existing_order(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client)
    response = await client.put(
        f"{ORDERS}/{order_id}/reference", content=b'"r"', headers={"content-type": "text/plain"}
    )
    assert_error(response, 415, "unsupported-media-type")
    assert "reference" not in await get_order(client, order_id)


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "application/json; charset=utf-8",
        "Application/JSON",
        "application/merge-patch+json",
        "application/vnd.kassa+json; charset=utf-8",
        None,
    ],
)
async def test_json_media_types_are_accepted(
    client: httpx.AsyncClient, content_type: str | None
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    response = await client.post(ORDERS, content=b'{"reference": "r"}', headers=headers)
    assert response.status_code == 201, response.text
    order = await get_order(client, response.json()["id"])
    assert order["reference"] == "r"
