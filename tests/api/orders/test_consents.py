"""Consents (api §2.1 operations 7-10; editability semantics §1.3)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import ORDERS, create_order, get_order
from tests.support.http_asserts import assert_error

FREE_ITEMS = {"items": [{"name": "free"}]}
CONSENTS = [
    {"id": "ci_newsletter", "text": "Nyhetsbrev ✉", "required": False},
    {"id": "terms", "text": "Villkor", "required": True},
    {"id": "sms", "checked": True},
]


async def order_with_consents(
    client: httpx.AsyncClient, consents: list[dict[str, Any]] | None = None
) -> str:
    return await create_order(
        client, {"cart": FREE_ITEMS, "consents": CONSENTS if consents is None else consents}
    )


async def consents_of(client: httpx.AsyncClient, order_id: str) -> list[dict[str, Any]]:
    consents: list[dict[str, Any]] = (await get_order(client, order_id))["consents"]
    return consents


async def snapshot(client: httpx.AsyncClient, order_id: str) -> tuple[str, dict[str, Any]]:
    response = await client.get(f"{ORDERS}/{order_id}")
    assert response.status_code == 200, response.text
    return response.headers["etag"], response.json()


async def test_create_order_consent_defaults(client: httpx.AsyncClient) -> None:
    order_id = await order_with_consents(client)
    assert await consents_of(client, order_id) == [
        {"id": "ci_newsletter", "checked": False, "text": "Nyhetsbrev ✉", "required": False},
        {"id": "terms", "checked": False, "text": "Villkor", "required": True},
        {"id": "sms", "checked": True, "required": False},
    ]


# POST (operation 7) --------------------------------------------------------------------------


async def test_post_consent_appends_with_defaults(client: httpx.AsyncClient) -> None:
    order_id = await order_with_consents(client)
    response = await client.post(
        f"{ORDERS}/{order_id}/consents",
        json={"id": "gdpr", "text": "Jag godkänner", "unknown": 1},
    )
    assert response.status_code == 200, response.text
    assert response.content == b""
    assert response.headers["etag"] == '"2"'
    consents = await consents_of(client, order_id)
    assert [c["id"] for c in consents] == ["ci_newsletter", "terms", "sms", "gdpr"]
    assert consents[-1] == {
        "id": "gdpr",
        "checked": False,
        "text": "Jag godkänner",
        "required": False,
    }

    response = await client.post(
        f"{ORDERS}/{order_id}/consents",
        json={"id": "age", "checked": True, "required": True},
    )
    assert response.status_code == 200, response.text
    assert (await consents_of(client, order_id))[-1] == {
        "id": "age",
        "checked": True,
        "required": True,
    }


async def test_null_checked_and_required_mean_default(client: httpx.AsyncClient) -> None:
    """api §1.6: a known optional field sent as ``null`` is treated as absent."""
    order_id = await create_order(
        client, {"consents": [{"id": "a", "checked": None, "required": None, "text": None}]}
    )
    response = await client.post(
        f"{ORDERS}/{order_id}/consents", json={"id": "b", "checked": None, "required": None}
    )
    assert response.status_code == 200, response.text
    assert await consents_of(client, order_id) == [
        {"id": "a", "checked": False, "required": False},
        {"id": "b", "checked": False, "required": False},
    ]


async def test_post_existing_consent_conflicts(client: httpx.AsyncClient) -> None:
    order_id = await order_with_consents(client)
    tag, before = await snapshot(client, order_id)
    response = await client.post(
        f"{ORDERS}/{order_id}/consents", json={"id": "terms", "text": "other", "checked": True}
    )
    assert_error(response, 409, "consent-already-exists")
    assert await snapshot(client, order_id) == (tag, before)


async def test_consent_ids_are_case_sensitive(client: httpx.AsyncClient) -> None:
    order_id = await order_with_consents(client)
    response = await client.post(f"{ORDERS}/{order_id}/consents", json={"id": "TERMS"})
    assert response.status_code == 200, response.text
    assert [c["id"] for c in await consents_of(client, order_id)][-2:] == ["sms", "TERMS"]


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"text": "no id"}, "/id"),
        ({"id": ""}, "/id"),
        ({"id": "x" * 129}, "/id"),
        ({"id": 5}, "/id"),
        ({"id": "x", "checked": "yes"}, "/checked"),
        ({"id": "x", "required": 1}, "/required"),
        ({"id": "x", "text": ["t"]}, "/text"),
    ],
)
async def test_post_consent_invalid(
    client: httpx.AsyncClient, body: dict[str, Any], path: str
) -> None:
    order_id = await order_with_consents(client)
    tag, before = await snapshot(client, order_id)
    error = assert_error(
        await client.post(f"{ORDERS}/{order_id}/consents", json=body), 400, "invalid-request"
    )
    assert path in [e["path"] for e in error["errors"]]
    assert await snapshot(client, order_id) == (tag, before)


async def test_post_consent_without_body(client: httpx.AsyncClient) -> None:
    order_id = await order_with_consents(client)
    assert_error(await client.post(f"{ORDERS}/{order_id}/consents"), 400, "invalid-request")


async def test_post_consent_id_of_128_characters(client: httpx.AsyncClient) -> None:
    order_id = await order_with_consents(client, [])
    consent_id = "å" * 128
    response = await client.post(f"{ORDERS}/{order_id}/consents", json={"id": consent_id})
    assert response.status_code == 200, response.text
    assert await consents_of(client, order_id) == [
        {"id": consent_id, "checked": False, "required": False}
    ]


async def test_consent_limit(client: httpx.AsyncClient) -> None:
    order_id = await order_with_consents(client, [{"id": f"c{i}"} for i in range(100)])
    tag, before = await snapshot(client, order_id)
    error = assert_error(
        await client.post(f"{ORDERS}/{order_id}/consents", json={"id": "c100"}),
        400,
        "limit-exceeded",
    )
    assert isinstance(error["errors"], list)
    assert await snapshot(client, order_id) == (tag, before)
    response = await client.post(ORDERS, json={"consents": [{"id": f"c{i}"} for i in range(101)]})
    assert_error(response, 400, "limit-exceeded")


# PATCH list (operation 8) --------------------------------------------------------------------


async def test_patch_consents_sets_checked_only(client: httpx.AsyncClient) -> None:
    order_id = await order_with_consents(client)
    response = await client.patch(
        f"{ORDERS}/{order_id}/consents",
        json=[
            {"id": "terms", "checked": True, "text": "ignored", "required": False},
            {"id": "sms", "checked": False},
        ],
    )
    assert response.status_code == 200, response.text
    assert response.content == b""
    assert response.headers["etag"] == '"2"'
    assert await consents_of(client, order_id) == [
        {"id": "ci_newsletter", "checked": False, "text": "Nyhetsbrev ✉", "required": False},
        {"id": "terms", "checked": True, "text": "Villkor", "required": True},
        {"id": "sms", "checked": False, "required": False},
    ]


async def test_patch_consents_unknown_id_changes_nothing(client: httpx.AsyncClient) -> None:
    order_id = await order_with_consents(client)
    tag, before = await snapshot(client, order_id)
    response = await client.patch(
        f"{ORDERS}/{order_id}/consents",
        json=[{"id": "terms", "checked": True}, {"id": "nope", "checked": True}],
    )
    body = assert_error(response, 404, "consent-not-found")
    assert "nope" in body["message"]
    assert await snapshot(client, order_id) == (tag, before)


async def test_patch_consents_duplicate_ids(client: httpx.AsyncClient) -> None:
    order_id = await order_with_consents(client)
    tag, before = await snapshot(client, order_id)
    response = await client.patch(
        f"{ORDERS}/{order_id}/consents",
        json=[{"id": "terms", "checked": True}, {"id": "terms", "checked": False}],
    )
    assert_error(response, 400, "invalid-request")
    assert await snapshot(client, order_id) == (tag, before)


@pytest.mark.parametrize(
    "body",
    [
        [{"id": "terms"}],
        [{"checked": True}],
        [{"id": "terms", "checked": "true"}],
        {"id": "terms", "checked": True},
        "terms",
    ],
)
async def test_patch_consents_invalid(client: httpx.AsyncClient, body: Any) -> None:
    order_id = await order_with_consents(client)
    tag, before = await snapshot(client, order_id)
    response = await client.patch(f"{ORDERS}/{order_id}/consents", json=body)
    assert_error(response, 400, "invalid-request")
    assert await snapshot(client, order_id) == (tag, before)


async def test_patch_consents_unchanged_values_are_noop(client: httpx.AsyncClient) -> None:
    order_id = await order_with_consents(client)
    tag, before = await snapshot(client, order_id)
    for body in ([], [{"id": "sms", "checked": True}, {"id": "terms", "checked": False}]):
        response = await client.patch(f"{ORDERS}/{order_id}/consents", json=body)
        assert response.status_code == 200, response.text
        assert response.headers["etag"] == tag
    assert await snapshot(client, order_id) == (tag, before)


# PATCH one (operation 10) and DELETE (operation 9) -------------------------------------------


async def test_patch_one_consent(client: httpx.AsyncClient) -> None:
    order_id = await order_with_consents(client)
    response = await client.patch(
        f"{ORDERS}/{order_id}/consents/terms",
        json={"checked": True, "id": "sms", "text": "ignored", "required": False},
    )
    assert response.status_code == 200, response.text
    assert response.content == b""
    assert response.headers["etag"] == '"2"'
    consents = await consents_of(client, order_id)
    assert consents[1] == {"id": "terms", "checked": True, "text": "Villkor", "required": True}
    assert consents[2] == {"id": "sms", "checked": True, "required": False}

    response = await client.patch(f"{ORDERS}/{order_id}/consents/terms", json={"checked": False})
    assert response.status_code == 200, response.text
    assert (await consents_of(client, order_id))[1]["checked"] is False


async def test_patch_one_consent_errors(client: httpx.AsyncClient) -> None:
    order_id = await order_with_consents(client)
    tag, before = await snapshot(client, order_id)
    url = f"{ORDERS}/{order_id}/consents"
    assert_error(
        await client.patch(f"{url}/nope", json={"checked": True}), 404, "consent-not-found"
    )
    assert_error(await client.patch(f"{url}/terms", json={}), 400, "invalid-request")
    assert_error(await client.patch(f"{url}/terms", json={"checked": 1}), 400, "invalid-request")
    assert_error(await client.patch(f"{url}/terms"), 400, "invalid-request")
    assert_error(
        await client.patch(f"{ORDERS}/o_AAAAAAAAAAAAAAAAAAAAAAAAAA/consents/terms", json={}),
        400,
        "invalid-request",
    )
    assert_error(
        await client.patch(
            f"{ORDERS}/o_AAAAAAAAAAAAAAAAAAAAAAAAAA/consents/terms", json={"checked": True}
        ),
        404,
        "order-not-found",
    )
    assert await snapshot(client, order_id) == (tag, before)


async def test_patch_one_consent_same_value_is_noop(client: httpx.AsyncClient) -> None:
    order_id = await order_with_consents(client)
    tag, before = await snapshot(client, order_id)
    response = await client.patch(f"{ORDERS}/{order_id}/consents/sms", json={"checked": True})
    assert response.status_code == 200, response.text
    assert response.headers["etag"] == tag
    assert await snapshot(client, order_id) == (tag, before)


async def test_delete_consent(client: httpx.AsyncClient) -> None:
    order_id = await order_with_consents(client)
    response = await client.delete(f"{ORDERS}/{order_id}/consents/terms")
    assert response.status_code == 200, response.text
    assert response.content == b""
    assert response.headers["etag"] == '"2"'
    assert [c["id"] for c in await consents_of(client, order_id)] == ["ci_newsletter", "sms"]

    tag, before = await snapshot(client, order_id)
    response = await client.delete(f"{ORDERS}/{order_id}/consents/terms")
    assert_error(response, 404, "consent-not-found")
    assert await snapshot(client, order_id) == (tag, before)

    # the id is free again
    response = await client.post(f"{ORDERS}/{order_id}/consents", json={"id": "terms"})
    assert response.status_code == 200, response.text
    assert [c["id"] for c in await consents_of(client, order_id)] == [
        "ci_newsletter",
        "sms",
        "terms",
    ]


async def test_consent_ids_with_special_characters_in_path(client: httpx.AsyncClient) -> None:
    order_id = await order_with_consents(client, [{"id": "villkor åäö"}])
    response = await client.patch(
        f"{ORDERS}/{order_id}/consents/villkor%20%C3%A5%C3%A4%C3%B6", json={"checked": True}
    )
    assert response.status_code == 200, response.text
    assert await consents_of(client, order_id) == [
        {"id": "villkor åäö", "checked": True, "required": False}
    ]


# Editability (semantics §1.3) ----------------------------------------------------------------


async def move(client: httpx.AsyncClient, order_id: str, *statuses: str) -> None:
    for status in statuses:
        response = await client.put(f"{ORDERS}/{order_id}/state", json={"currentStatus": status})
        assert response.status_code == 200, response.text


async def test_consents_editable_in_processing(client: httpx.AsyncClient) -> None:
    order_id = await order_with_consents(client, [{"id": "a"}, {"id": "b"}])
    await move(client, order_id, "processing")
    url = f"{ORDERS}/{order_id}/consents"
    for method, path, body in (
        ("POST", url, {"id": "c", "required": True}),
        ("PATCH", url, [{"id": "a", "checked": True}]),
        ("PATCH", f"{url}/c", {"checked": True}),
        ("DELETE", f"{url}/b", None),
    ):
        response = await client.request(method, path, json=body)
        assert response.status_code == 200, (method, path, response.text)
    assert await consents_of(client, order_id) == [
        {"id": "a", "checked": True, "required": False},
        {"id": "c", "checked": True, "required": True},
    ]


@pytest.mark.parametrize(
    ("path", "status"),
    [
        (["accepted"], "accepted"),
        (["completed"], "completed"),
        (["declined"], "declined"),
        (["removed"], "removed"),
        (["processing", "accepted", "completed"], "completed"),
    ],
)
async def test_consents_locked_after_processing(
    client: httpx.AsyncClient, path: list[str], status: str
) -> None:
    order_id = await order_with_consents(client, [{"id": "a"}, {"id": "b"}])
    await move(client, order_id, *path)
    tag, before = await snapshot(client, order_id)
    url = f"{ORDERS}/{order_id}/consents"
    for method, target, body in (
        ("POST", url, {"id": "c"}),
        ("POST", url, {"id": "a"}),
        ("PATCH", url, [{"id": "a", "checked": True}]),
        ("PATCH", f"{url}/a", {"checked": True}),
        ("DELETE", f"{url}/b", None),
    ):
        response = await client.request(method, target, json=body)
        error = assert_error(response, 409, "order-not-editable")
        assert error["state"] == status, (method, target)
    assert await snapshot(client, order_id) == (tag, before)


async def test_unknown_consent_reported_before_editability(client: httpx.AsyncClient) -> None:
    order_id = await order_with_consents(client, [{"id": "a"}])
    await move(client, order_id, "completed")
    url = f"{ORDERS}/{order_id}/consents"
    assert_error(await client.patch(f"{url}/zz", json={"checked": True}), 404, "consent-not-found")
    assert_error(await client.delete(f"{url}/zz"), 404, "consent-not-found")
    response = await client.patch(url, json=[{"id": "zz", "checked": True}])
    assert_error(response, 404, "consent-not-found")


async def test_consents_of_unknown_order(client: httpx.AsyncClient) -> None:
    url = f"{ORDERS}/o_AAAAAAAAAAAAAAAAAAAAAAAAAA/consents"
    assert_error(await client.post(url, json={"id": "a"}), 404, "order-not-found")
    assert_error(
        await client.patch(url, json=[{"id": "a", "checked": True}]), 404, "order-not-found"
    )
    assert_error(await client.delete(f"{url}/a"), 404, "order-not-found")
