"""Money input (api §1.7): bad prices are invalid-amount, digits are counted after
canonicalisation, NaN and Infinity are refused."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import ORDERS, create_order, get_order
from tests.support.http_asserts import assert_error, field_paths
from tests.support.http_errors import _history_len

ITEM_PRICE = "/cart/items/0/price"


def _item_money(field: str, number: str) -> bytes:
    """A create body with the number written verbatim at ``/cart/items/0/<field>``."""
    outer, inner = field.split("/")
    return f'{{"cart": {{"items": [{{"{outer}": {{"{inner}": {number}}}}}]}}}}'.encode()


@pytest.mark.parametrize(
    ("raw", "path"),
    [
        (_item_money("price/includingVat", "-1"), ITEM_PRICE + "/includingVat"),
        (_item_money("total/excludingVat", "-0.01"), "/cart/items/0/total/excludingVat"),
        (b'{"cart": {"total": {"includingVat": -5}}}', "/cart/total/includingVat"),
        (_item_money("price/includingVat", "1.0000001"), ITEM_PRICE + "/includingVat"),
        (_item_money("price/excludingVat", "0.1234567"), ITEM_PRICE + "/excludingVat"),
        (_item_money("price/includingVat", "1000000000000000"), ITEM_PRICE + "/includingVat"),
        (_item_money("price/includingVat", "1E15"), ITEM_PRICE + "/includingVat"),
    ],
)
async def test_bad_price_is_invalid_amount(
    client: httpx.AsyncClient, raw: bytes, path: str
) -> None:
    response = await client.post(ORDERS, content=raw)
    error = assert_error(response, 400, "invalid-amount")
    assert path in field_paths(error)


async def test_bad_price_on_put_cart_is_invalid_amount(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client)
    response = await client.put(
        f"{ORDERS}/{order_id}/cart",
        content=b'{"items": [{"name": "a", "price": {"includingVat": 2.0000005}}]}',
    )
    error = assert_error(response, 400, "invalid-amount")
    assert "/items/0/price/includingVat" in field_paths(error)
    assert await _history_len(client, order_id) == 1


async def test_price_digits_counted_after_canonicalisation(client: httpx.AsyncClient) -> None:
    # 1.1234560 has seven written digits but six after canonicalisation (§1.7)
    order_id = await create_order(
        client,
        None,
        content=b'{"cart": {"items": [{"name": "a", "price": {"includingVat": 1.1234560}}]}}',
    )
    order = await get_order(client, order_id)
    assert order["cart"]["items"][0]["price"] == {"includingVat": 1.123456}


@pytest.mark.parametrize(
    "raw",
    [
        b'{"attributes": {"x": NaN}}',
        b'{"cart": {"items": [{"price": {"includingVat": NaN}}]}}',
        b'{"cart": {"items": [{"quantity": Infinity}]}}',
        b'{"attributes": {"x": -Infinity}}',
    ],
)
async def test_nan_and_infinity_are_invalid_request(client: httpx.AsyncClient, raw: bytes) -> None:
    response = await client.post(ORDERS, content=raw)
    assert_error(response, 400, "invalid-request")
