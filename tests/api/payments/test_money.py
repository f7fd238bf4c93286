"""Payment money rules (semantics §3.2, §3.3, §3.7): amounts, currency, minor units; and
coverage with soft removal (semantics §3.8)."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import ORDERS, create_order, get_order
from tests.support.http_asserts import assert_error
from tests.support.payments import add_payment, get_payment

CART_20 = {"cart": {"items": [{"name": "Shirt", "quantity": 1, "total": {"includingVat": 20}}]}}


# Money rules (semantics §3.2, §3.3, §3.7) --------------------------------------------------


async def test_amount_above_upper_limit(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client)
    response = await client.post(
        f"{ORDERS}/{order_id}/payments", json={"amount": 100.01, "upperLimitAmount": 100}
    )
    assert_error(response, 400, "amount-exceeds-upper-limit")
    assert (await get_order(client, order_id))["payments"] == []

    payment_id = await add_payment(client, order_id, {"amount": 100, "upperLimitAmount": 100})
    url = f"{ORDERS}/{order_id}/payments/{payment_id}"
    response = await client.put(url, json={"amount": 101, "upperLimitAmount": 100})
    assert_error(response, 400, "amount-exceeds-upper-limit")
    response = await client.put(url, json={"amount": 50, "upperLimitAmount": 49.99})
    assert_error(response, 400, "amount-exceeds-upper-limit")
    payment = await get_payment(client, order_id, payment_id)
    assert (payment["amount"], payment["upperLimitAmount"]) == (100, 100)
    # without upperLimitAmount there is no limit
    response = await client.put(url, json={"amount": 1000})
    assert response.status_code == 200, response.text
    assert response.json()["amount"] == 1000
    assert "upperLimitAmount" not in response.json()


async def test_currency_defaults_to_order_currency(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client, {"currency": "NOK"})
    payment_id = await add_payment(client, order_id, {"amount": 1})
    assert (await get_payment(client, order_id, payment_id))["currency"] == "NOK"


async def test_currency_mismatch(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client, {"currency": "SEK"})
    response = await client.post(f"{ORDERS}/{order_id}/payments", json={"currency": "EUR"})
    assert_error(response, 400, "currency-mismatch")
    assert (await get_order(client, order_id))["payments"] == []
    payment_id = await add_payment(client, order_id)
    response = await client.put(
        f"{ORDERS}/{order_id}/payments/{payment_id}", json={"currency": "NOK"}
    )
    assert_error(response, 400, "currency-mismatch")
    assert (await get_payment(client, order_id, payment_id))["currency"] == "SEK"


async def test_currency_compared_case_insensitively_keeps_spelling(
    client: httpx.AsyncClient,
) -> None:
    order_id = await create_order(client, {"currency": "SEK"})
    payment_id = await add_payment(client, order_id, {"currency": "sek"})
    assert (await get_payment(client, order_id, payment_id))["currency"] == "sek"
    response = await client.put(
        f"{ORDERS}/{order_id}/payments/{payment_id}", json={"currency": "Sek"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["currency"] == "Sek"


async def test_order_without_currency_does_not_compare(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client)
    payment_id = await add_payment(client, order_id, {"currency": "EUR"})
    assert (await get_payment(client, order_id, payment_id))["currency"] == "EUR"


@pytest.mark.parametrize(
    ("currency", "good", "bad"),
    [
        ("SEK", "10.5", "10.505"),
        ("sek", "10.50", "0.001"),
        ("JPY", "15", "1.5"),
        ("KWD", "1.505", "1.5051"),
        ("CLF", "1.2345", "1.23456"),
        ("XYZ", "0.01", "0.001"),  # unknown codes have two decimals
    ],
)
async def test_minor_units(client: httpx.AsyncClient, currency: str, good: str, bad: str) -> None:
    order_id = await create_order(client, {"currency": currency})
    url = f"{ORDERS}/{order_id}/payments"
    headers = {"Content-Type": "application/json"}
    for field in ("amount", "upperLimitAmount"):
        content = f'{{"{field}": {bad}, "upperLimitAmount": 1000}}'
        if field == "upperLimitAmount":
            content = f'{{"upperLimitAmount": {bad}}}'
        body = assert_error(
            await client.post(url, content=content, headers=headers), 400, "invalid-amount"
        )
        assert any(e["path"] == f"/{field}" for e in body["errors"]), body
    assert (await get_order(client, order_id))["payments"] == []
    response = await client.post(
        url, content=f'{{"amount": {good}, "upperLimitAmount": {good}}}', headers=headers
    )
    assert response.status_code == 201, response.text
    payment_id = response.json()["id"]
    response = await client.get(f"{url}/{payment_id}")
    assert response.status_code == 200, response.text
    canonical = good.rstrip("0").rstrip(".") if "." in good else good
    assert f'"amount":{canonical},' in response.text.replace(" ", "")
    # the PUT obeys the same rule
    response = await client.put(
        f"{url}/{payment_id}", content=f'{{"amount": {bad}}}', headers=headers
    )
    assert_error(response, 400, "invalid-amount")


async def test_minor_unit_from_payment_currency_when_order_has_none(
    client: httpx.AsyncClient,
) -> None:
    order_id = await create_order(client)
    url = f"{ORDERS}/{order_id}/payments"
    response = await client.post(url, json={"currency": "JPY", "amount": 1.5})
    assert_error(response, 400, "invalid-amount")
    response = await client.post(url, json={"amount": 1.005})  # neither: two decimals
    assert_error(response, 400, "invalid-amount")
    response = await client.post(url, json={"currency": "KWD", "amount": 1.005})
    assert response.status_code == 201, response.text


@pytest.mark.parametrize("field", ["amount", "upperLimitAmount"])
async def test_negative_amount(client: httpx.AsyncClient, field: str) -> None:
    order_id = await create_order(client)
    response = await client.post(f"{ORDERS}/{order_id}/payments", json={field: -1})
    body = assert_error(response, 400, "invalid-amount")
    assert [e["path"] for e in body["errors"]] == [f"/{field}"]
    payment_id = await add_payment(client, order_id)
    response = await client.put(f"{ORDERS}/{order_id}/payments/{payment_id}", json={field: -0.01})
    assert_error(response, 400, "invalid-amount")


async def test_post_payment_needs_checkout(client: httpx.AsyncClient) -> None:
    for status in ("declined", "removed"):
        order_id = await create_order(client)
        response = await client.put(f"{ORDERS}/{order_id}/state", json={"currentStatus": status})
        assert response.status_code == 200, response.text
        response = await client.post(f"{ORDERS}/{order_id}/payments", json={"amount": 1})
        body = assert_error(response, 409, "order-not-editable")
        assert body["state"] == status
        assert (await get_order(client, order_id))["payments"] == []


async def test_post_payment_refused_in_processing(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client, CART_20)
    await add_payment(client, order_id, {"amount": 20})
    response = await client.put(f"{ORDERS}/{order_id}/state", json={"currentStatus": "processing"})
    assert response.status_code == 200, response.text
    response = await client.post(f"{ORDERS}/{order_id}/payments", json={})
    body = assert_error(response, 409, "order-not-editable")
    assert body["state"] == "processing"


# Coverage and soft removal (semantics §3.8) -------------------------------------------------


async def test_covered_order_completes(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client, CART_20)
    payment_id = await add_payment(client, order_id, {"amount": 20})
    response = await client.put(f"{ORDERS}/{order_id}/state", json={"currentStatus": "completed"})
    assert response.status_code == 200, response.text
    order = await get_order(client, order_id)
    assert order["state"]["currentStatus"] == "completed"
    assert [p["id"] for p in order["payments"]] == [payment_id]


async def test_amount_mismatch_fails_validation(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client, CART_20)
    await add_payment(client, order_id, {"amount": 19.99})
    response = await client.put(f"{ORDERS}/{order_id}/state", json={"currentStatus": "completed"})
    body = assert_error(response, 400, "validation-failed")
    assert [(e["code"], e["adapterId"]) for e in body["errors"]] == [
        ("payment-amount-mismatch", "kassa")
    ]
    assert (await get_order(client, order_id))["state"]["currentStatus"] == "checkout"


async def test_removed_payment_stays_listed_and_leaves_coverage(
    client: httpx.AsyncClient,
) -> None:
    order_id = await create_order(client, CART_20)
    main = await add_payment(client, order_id, {"amount": 20})
    extra = await add_payment(client, order_id, {"amount": 5})
    response = await client.put(f"{ORDERS}/{order_id}/state", json={"currentStatus": "completed"})
    body = assert_error(response, 400, "validation-failed")
    assert [e["code"] for e in body["errors"]] == ["payment-amount-mismatch"]

    response = await client.put(
        f"{ORDERS}/{order_id}/payments/{extra}", json={"amount": 5, "state": "removed"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["state"] == "removed"
    response = await client.get(f"{ORDERS}/{order_id}/payments")
    assert response.status_code == 200, response.text
    assert [(p["id"], p["state"]) for p in response.json()] == [
        (main, "intent"),
        (extra, "removed"),
    ]
    response = await client.put(f"{ORDERS}/{order_id}/state", json={"currentStatus": "completed"})
    assert response.status_code == 200, response.text
    assert (await get_order(client, order_id))["state"]["currentStatus"] == "completed"


async def test_only_removed_payments_count_as_missing(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client, CART_20)
    await add_payment(client, order_id, {"amount": 20, "state": "removed"})
    response = await client.put(f"{ORDERS}/{order_id}/state", json={"currentStatus": "accepted"})
    body = assert_error(response, 400, "validation-failed")
    assert [e["code"] for e in body["errors"]] == ["payment-missing"]


async def test_declined_payment_still_counts(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client, CART_20)
    await add_payment(client, order_id, {"amount": 12, "state": "declined"})
    await add_payment(client, order_id, {"amount": 8})
    response = await client.put(f"{ORDERS}/{order_id}/state", json={"currentStatus": "processing"})
    assert response.status_code == 200, response.text
    assert (await get_order(client, order_id))["state"]["currentStatus"] == "processing"
