"""``PUT /state`` and ``POST /validate`` (api §2.1 operations 18 and 19; semantics §1.2, §6)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import ORDERS, create_order, get_order

STATES = ["checkout", "processing", "accepted", "completed", "declined", "removed"]
ALLOWED = {
    ("checkout", "processing"),
    ("checkout", "accepted"),
    ("checkout", "completed"),
    ("checkout", "declined"),
    ("checkout", "removed"),
    ("processing", "checkout"),
    ("processing", "accepted"),
    ("processing", "completed"),
    ("processing", "declined"),
    ("processing", "removed"),
    ("accepted", "completed"),
    ("accepted", "declined"),
}
REFUSED = sorted(
    (src, dst) for src in STATES for dst in STATES if src != dst and (src, dst) not in ALLOWED
)
# a valid order with total 0: leaving checkout needs no payment
FREE = {"cart": {"items": [{"name": "free sample", "quantity": 1}]}}


async def put_state(client: httpx.AsyncClient, order_id: str, status: str) -> httpx.Response:
    return await client.put(f"{ORDERS}/{order_id}/state", json={"currentStatus": status})


async def order_in(client: httpx.AsyncClient, status: str, body: Any = None) -> str:
    order_id = await create_order(client, body if body is not None else FREE)
    if status != "checkout":
        response = await put_state(client, order_id, status)
        assert response.status_code == 200, response.text
    return order_id


async def history(client: httpx.AsyncClient, order_id: str) -> list[dict[str, Any]]:
    response = await client.get(f"{ORDERS}/{order_id}/history")
    assert response.status_code == 200, response.text
    entries: list[dict[str, Any]] = response.json()
    return entries


async def etag(client: httpx.AsyncClient, order_id: str) -> str:
    response = await client.get(f"{ORDERS}/{order_id}")
    assert response.status_code == 200, response.text
    return response.headers["etag"]


def codes(errors: list[dict[str, Any]]) -> list[str]:
    return [e["code"] for e in errors]


# The transition table (semantics §1.2) -------------------------------------------------------


@pytest.mark.parametrize(("src", "dst"), sorted(ALLOWED))
async def test_allowed_transition(client: httpx.AsyncClient, src: str, dst: str) -> None:
    order_id = await order_in(client, src)
    before = await get_order(client, order_id)
    version = int((await etag(client, order_id)).strip('"'))
    entries = len(await history(client, order_id))

    response = await put_state(client, order_id, dst)
    assert response.status_code == 200, response.text
    assert response.content == b""
    assert response.headers["etag"] == f'"{version + 1}"'

    after = await get_order(client, order_id)
    assert after["state"]["currentStatus"] == dst
    assert after["state"]["transitions"] == [
        *before["state"]["transitions"],
        {"status": dst, "timeStamp": after["lastModified"]},
    ]
    assert after["lastModified"] >= before["lastModified"]
    assert {k: v for k, v in after.items() if k not in ("state", "lastModified")} == {
        k: v for k, v in before.items() if k not in ("state", "lastModified")
    }
    log = await history(client, order_id)
    assert len(log) == entries + 1
    assert log[-1]["sequence"] == version + 1
    assert log[-1]["operation"] == "UpdateCheckoutOrderState"
    assert log[-1]["at"] == after["lastModified"]


@pytest.mark.parametrize(("src", "dst"), REFUSED)
async def test_refused_transition(client: httpx.AsyncClient, src: str, dst: str) -> None:
    order_id = await order_in(client, src)
    before = await get_order(client, order_id)
    tag = await etag(client, order_id)

    response = await put_state(client, order_id, dst)
    assert response.status_code == 409, response.text
    body = response.json()
    assert body["code"] == "invalid-state-transition"
    assert body["from"] == src
    assert body["to"] == dst
    assert body["message"]
    assert body["requestId"] == response.headers["x-request-id"]
    assert await get_order(client, order_id) == before
    assert await etag(client, order_id) == tag


@pytest.mark.parametrize("status", STATES)
async def test_same_state_is_noop(client: httpx.AsyncClient, status: str) -> None:
    order_id = await order_in(client, status)
    before = await get_order(client, order_id)
    tag = await etag(client, order_id)
    entries = await history(client, order_id)

    for spelling in (status, status.upper()):
        response = await put_state(client, order_id, spelling)
        assert response.status_code == 200, response.text
        assert response.content == b""
        assert response.headers["etag"] == tag
    assert await get_order(client, order_id) == before
    assert await etag(client, order_id) == tag
    assert await history(client, order_id) == entries


async def test_same_state_noop_even_when_order_would_not_validate(
    client: httpx.AsyncClient,
) -> None:
    order_id = await create_order(client)  # empty cart: leaving checkout would fail
    response = await put_state(client, order_id, "checkout")
    assert response.status_code == 200, response.text
    assert response.headers["etag"] == '"1"'
    assert len(await history(client, order_id)) == 1


async def test_status_enum_case_insensitive(client: httpx.AsyncClient) -> None:
    order_id = await order_in(client, "checkout")
    response = await put_state(client, order_id, "Completed")
    assert response.status_code == 200, response.text
    state = (await get_order(client, order_id))["state"]
    assert state["currentStatus"] == "completed"
    assert [t["status"] for t in state["transitions"]] == ["checkout", "completed"]


async def test_full_lifecycle_appends_transitions(client: httpx.AsyncClient) -> None:
    order_id = await order_in(client, "checkout")
    path = ["processing", "checkout", "processing", "accepted", "completed"]
    stamps = []
    for status in path:
        response = await put_state(client, order_id, status)
        assert response.status_code == 200, response.text
        order = await get_order(client, order_id)
        stamps.append(order["lastModified"])
        assert order["state"]["transitions"][-1] == {
            "status": status,
            "timeStamp": order["lastModified"],
        }
    state = (await get_order(client, order_id))["state"]
    assert state["currentStatus"] == "completed"
    assert [t["status"] for t in state["transitions"]] == ["checkout", *path]
    assert [t["timeStamp"] for t in state["transitions"][1:]] == stamps
    assert stamps == sorted(stamps)
    assert await etag(client, order_id) == f'"{1 + len(path)}"'


async def test_transitions_in_body_ignored(client: httpx.AsyncClient) -> None:
    order_id = await order_in(client, "checkout")
    response = await client.put(
        f"{ORDERS}/{order_id}/state",
        json={
            "currentStatus": "declined",
            "transitions": [{"status": "completed", "timeStamp": "2000-01-01T00:00:00.000Z"}],
        },
    )
    assert response.status_code == 200, response.text
    state = (await get_order(client, order_id))["state"]
    assert [t["status"] for t in state["transitions"]] == ["checkout", "declined"]


@pytest.mark.parametrize(
    "body",
    [
        {"currentStatus": "shipped"},
        {"currentStatus": None},
        {"currentStatus": 3},
        {},
        {"status": "completed"},
        "completed",
        ["completed"],
    ],
)
async def test_invalid_state_body(client: httpx.AsyncClient, body: Any) -> None:
    order_id = await order_in(client, "checkout")
    response = await client.put(f"{ORDERS}/{order_id}/state", json=body)
    assert response.status_code == 400, response.text
    error = response.json()
    assert error["code"] == "invalid-request"
    assert isinstance(error["errors"], list) and error["errors"]
    assert (await get_order(client, order_id))["state"]["currentStatus"] == "checkout"
    assert await etag(client, order_id) == '"1"'


async def test_missing_state_body(client: httpx.AsyncClient) -> None:
    order_id = await order_in(client, "checkout")
    response = await client.put(f"{ORDERS}/{order_id}/state")
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "invalid-request"


async def test_state_of_unknown_order(client: httpx.AsyncClient) -> None:
    response = await put_state(client, "o_AAAAAAAAAAAAAAAAAAAAAAAAAA", "completed")
    assert response.status_code == 404, response.text
    assert response.json()["code"] == "order-not-found"


# Validation when leaving checkout (semantics §1.2 step 3, §6.1) ------------------------------


@pytest.mark.parametrize("dst", ["processing", "accepted", "completed"])
async def test_leaving_checkout_with_empty_cart_fails(client: httpx.AsyncClient, dst: str) -> None:
    order_id = await create_order(client)
    before = await get_order(client, order_id)
    response = await put_state(client, order_id, dst)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == "validation-failed"
    assert body["requestId"] == response.headers["x-request-id"]
    assert [(e["code"], e["adapterId"]) for e in body["errors"]] == [("cart-empty", "kassa")]
    assert await get_order(client, order_id) == before
    assert await etag(client, order_id) == '"1"'
    assert len(await history(client, order_id)) == 1


@pytest.mark.parametrize("dst", ["declined", "removed"])
async def test_other_transitions_from_checkout_skip_validation(
    client: httpx.AsyncClient, dst: str
) -> None:
    order_id = await create_order(
        client,
        {
            "cart": {"total": {"includingVat": 10}},
            "consents": [{"id": "terms", "required": True}],
        },
    )
    response = await put_state(client, order_id, dst)
    assert response.status_code == 200, response.text
    assert (await get_order(client, order_id))["state"]["currentStatus"] == dst


async def test_required_consents_must_be_checked(client: httpx.AsyncClient) -> None:
    order_id = await create_order(
        client,
        {
            **FREE,
            "consents": [
                {"id": "terms", "required": True, "text": "Villkor"},
                {"id": "newsletter", "required": False},
                {"id": "privacy", "required": True, "checked": False},
                {"id": "age", "required": True, "checked": True},
            ],
        },
    )
    response = await put_state(client, order_id, "completed")
    assert response.status_code == 400, response.text
    errors = response.json()["errors"]
    assert codes(errors) == ["consent-required", "consent-required"]
    assert all(e["adapterId"] == "kassa" for e in errors)
    assert "terms" in errors[0]["message"]
    assert "privacy" in errors[1]["message"]
    assert (await get_order(client, order_id))["state"]["currentStatus"] == "checkout"

    for consent_id in ("terms", "privacy"):
        response = await client.patch(
            f"{ORDERS}/{order_id}/consents/{consent_id}", json={"checked": True}
        )
        assert response.status_code == 200, response.text
    response = await put_state(client, order_id, "completed")
    assert response.status_code == 200, response.text
    assert (await get_order(client, order_id))["state"]["currentStatus"] == "completed"


async def test_total_above_zero_needs_a_payment(client: httpx.AsyncClient) -> None:
    order_id = await create_order(
        client, {"cart": {"items": [{"total": {"includingVat": 0.01, "excludingVat": 0}}]}}
    )
    for dst in ("processing", "accepted", "completed"):
        response = await put_state(client, order_id, dst)
        assert response.status_code == 400, response.text
        body = response.json()
        assert body["code"] == "validation-failed"
        assert codes(body["errors"]) == ["payment-missing"]
        assert body["errors"][0]["adapterId"] == "kassa"
    assert (await get_order(client, order_id))["state"]["currentStatus"] == "checkout"
    assert len(await history(client, order_id)) == 1


async def test_total_from_client_cart_total_needs_a_payment(client: httpx.AsyncClient) -> None:
    order_id = await create_order(
        client,
        {
            "cart": {"items": [{"name": "free"}], "total": {"includingVat": 5}},
        },
    )
    response = await put_state(client, order_id, "processing")
    assert response.status_code == 400, response.text
    assert codes(response.json()["errors"]) == ["payment-missing"]


async def test_validation_errors_in_builtin_order(client: httpx.AsyncClient) -> None:
    order_id = await create_order(
        client,
        {
            "cart": {"items": [], "total": {"includingVat": 10, "excludingVat": 8}},
            "consents": [
                {"id": "consent-b", "required": True},
                {"id": "consent-a", "required": True},
            ],
        },
    )
    response = await put_state(client, order_id, "accepted")
    assert response.status_code == 400, response.text
    errors = response.json()["errors"]
    assert codes(errors) == [
        "cart-empty",
        "payment-missing",
        "consent-required",
        "consent-required",
    ]
    assert [e["adapterId"] for e in errors] == ["kassa"] * 4
    assert "consent-b" in errors[2]["message"]
    assert "consent-a" in errors[3]["message"]


async def test_zero_total_with_items_and_checked_consents_may_complete(
    client: httpx.AsyncClient,
) -> None:
    order_id = await create_order(
        client,
        {
            "cart": {"items": [{"name": "x", "total": {"includingVat": 0, "excludingVat": 0}}]},
            "consents": [{"id": "terms", "required": True, "checked": True}],
        },
    )
    response = await put_state(client, order_id, "completed")
    assert response.status_code == 200, response.text
    assert response.headers["etag"] == '"2"'
    order = await get_order(client, order_id)
    assert order["state"]["currentStatus"] == "completed"
    assert order["total"] == {"includingVat": 0, "excludingVat": 0}


async def test_processing_transitions_do_not_validate(client: httpx.AsyncClient) -> None:
    order_id = await order_in(client, "processing")
    # consents may still change in processing; a required unchecked one does not block
    response = await client.post(
        f"{ORDERS}/{order_id}/consents", json={"id": "late", "required": True}
    )
    assert response.status_code == 200, response.text
    response = await put_state(client, order_id, "accepted")
    assert response.status_code == 200, response.text
    assert (await get_order(client, order_id))["state"]["currentStatus"] == "accepted"


async def test_returning_to_checkout_validates_again(client: httpx.AsyncClient) -> None:
    order_id = await order_in(client, "processing")
    response = await client.post(
        f"{ORDERS}/{order_id}/consents", json={"id": "late", "required": True}
    )
    assert response.status_code == 200, response.text
    response = await put_state(client, order_id, "checkout")
    assert response.status_code == 200, response.text
    response = await put_state(client, order_id, "processing")
    assert response.status_code == 400, response.text
    assert codes(response.json()["errors"]) == ["consent-required"]
    assert (await get_order(client, order_id))["state"]["currentStatus"] == "checkout"


# POST /validate (operation 19) ---------------------------------------------------------------


async def test_validate_valid_order(client: httpx.AsyncClient) -> None:
    order_id = await order_in(client, "checkout")
    before = await get_order(client, order_id)
    response = await client.post(f"{ORDERS}/{order_id}/validate")
    assert response.status_code == 200, response.text
    assert response.json() == []
    assert response.headers["content-type"].startswith("application/json")
    assert await get_order(client, order_id) == before
    assert await etag(client, order_id) == '"1"'
    assert len(await history(client, order_id)) == 1


async def test_validate_invalid_order_returns_bare_array(client: httpx.AsyncClient) -> None:
    order_id = await create_order(
        client,
        {
            "cart": {"total": {"includingVat": 3}},
            "consents": [{"id": "terms", "required": True}],
        },
    )
    before = await get_order(client, order_id)
    response = await client.post(f"{ORDERS}/{order_id}/validate", json={})
    assert response.status_code == 400, response.text
    body = response.json()
    assert isinstance(body, list)
    assert codes(body) == ["cart-empty", "payment-missing", "consent-required"]
    assert all(e["adapterId"] == "kassa" for e in body)
    assert "terms" in body[2]["message"]
    assert await get_order(client, order_id) == before
    assert len(await history(client, order_id)) == 1


async def test_validate_ignores_body(client: httpx.AsyncClient) -> None:
    order_id = await order_in(client, "checkout")
    response = await client.post(
        f"{ORDERS}/{order_id}/validate",
        content=b"this is not JSON {",
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text
    assert response.json() == []


@pytest.mark.parametrize("status", STATES)
async def test_validate_allowed_in_every_state(client: httpx.AsyncClient, status: str) -> None:
    order_id = await order_in(client, status)
    response = await client.post(f"{ORDERS}/{order_id}/validate")
    assert response.status_code == 200, response.text
    assert response.json() == []
    tag = await etag(client, order_id)
    # make it invalid where consents can still change, to see the result follows the order
    if status in ("checkout", "processing"):
        response = await client.post(
            f"{ORDERS}/{order_id}/consents", json={"id": "c", "required": True}
        )
        assert response.status_code == 200, response.text
        response = await client.post(f"{ORDERS}/{order_id}/validate")
        assert response.status_code == 400, response.text
        assert codes(response.json()) == ["consent-required"]
    else:
        assert await etag(client, order_id) == tag


async def test_validate_unknown_order(client: httpx.AsyncClient) -> None:
    response = await client.post(f"{ORDERS}/o_AAAAAAAAAAAAAAAAAAAAAAAAAA/validate")
    assert response.status_code == 404, response.text
    assert response.json()["code"] == "order-not-found"
