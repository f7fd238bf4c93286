"""Pure-function tests of ``kassa.orders.rules``: the order a create request makes
(``new_order``), its always-present fields and limits."""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import pytest

from kassa.errors import InvalidRequest, LimitExceeded
from kassa.orders import rules
from tests.support.order_rules import CI_ID, price

OC_ID = re.compile(r"^oc_[A-Za-z]{26}$")


CREATED = "2026-01-12T08:21:29.123Z"


def test_new_order_shape() -> None:
    body: dict[str, Any] = {
        "reference": "ref-1",
        "currency": "SEK",
        "culture": "sv-SE",
        "country": "se",
        "cart": {
            "reference": "basket-7",
            "items": [
                {"id": "line-1", "total": price(10, 8)},
                {"total": price(Decimal("2.5"), 2), "items": [{"total": price(1, 1)}]},
            ],
        },
        "customer": {"billing": {"givenName": "A"}},
        "consents": [{"id": "terms", "required": True}],
        "hooks": [{"scope": "/cart", "invoke": "https://h.example/x"}],
        "notifications": [{"scope": "/state", "invoke": "https://n.example/{order_id}"}],
        "validations": [{"invoke": "https://v.example/x", "adapterId": "a"}],
        "attributes": {"k": None},
    }
    order, computed = rules.new_order(
        body,
        order_id="o_" + "a" * 26,
        merchant="m1",
        channel="c1",
        created=CREATED,
        channel_notifications=[{"scope": "/state/currentStatus", "invoke": "https://c.example"}],
    )
    assert computed == ["includingVat", "excludingVat"]
    assert order["id"] == "o_" + "a" * 26
    assert order["merchant"] == "m1"
    assert order["channel"] == "c1"
    assert order["reference"] == "ref-1"
    assert order["created"] == order["lastModified"] == CREATED
    assert order["state"] == {
        "currentStatus": "checkout",
        "transitions": [{"status": "checkout", "timeStamp": CREATED}],
    }
    assert (order["currency"], order["culture"], order["country"]) == ("SEK", "sv-SE", "se")
    assert order["shippings"] == []
    assert order["payments"] == []
    assert order["consents"] == [{"id": "terms", "required": True}]
    assert order["customer"] == {"billing": {"givenName": "A"}}
    assert order["attributes"] == {"k": None}
    assert order["cart"]["reference"] == "basket-7"
    items = order["cart"]["items"]
    assert items[0]["id"] == "line-1"
    assert CI_ID.match(items[1]["id"])
    assert CI_ID.match(items[1]["items"][0]["id"])
    assert order["cart"]["total"] == price(Decimal("12.5"), 10)
    assert order["total"] == price(Decimal("12.5"), 10)
    for name in ("hooks", "validations"):
        assert len(order[name]) == 1
        assert OC_ID.match(order[name][0]["id"])
    assert len(order["notifications"]) == 2
    assert all(OC_ID.match(n["id"]) for n in order["notifications"])
    assert order["notifications"][0]["invoke"] == "https://n.example/{order_id}"
    assert order["notifications"][1]["invoke"] == "https://c.example"
    callback_ids = [
        c["id"] for name in ("hooks", "validations", "notifications") for c in order[name]
    ]
    assert len(set(callback_ids)) == len(callback_ids)


def test_new_order_minimal_has_all_always_fields() -> None:
    order, computed = rules.new_order(
        {}, order_id="o_" + "b" * 26, merchant="m", channel="c", created=CREATED
    )
    for key in (
        "id",
        "merchant",
        "channel",
        "created",
        "lastModified",
        "state",
        "cart",
        "shippings",
        "payments",
        "consents",
        "hooks",
        "notifications",
        "validations",
        "total",
    ):
        assert key in order, key
    assert order["cart"]["items"] == []
    assert order["cart"]["total"] == price(0, 0)
    assert order["total"] == price(0, 0)
    assert computed == ["includingVat", "excludingVat"]
    for key in ("reference", "customer", "attributes", "currency", "culture", "country"):
        assert key not in order


def test_new_order_ignores_state_and_total_in_body() -> None:
    order, _ = rules.new_order(
        {
            "state": {"currentStatus": "completed"},
            "total": price(999, 999),
            "cart": {"items": [{"total": price(1, 1)}]},
        },
        order_id="o_" + "c" * 26,
        merchant="m",
        channel="c",
        created=CREATED,
    )
    assert order["state"]["currentStatus"] == "checkout"
    assert len(order["state"]["transitions"]) == 1
    assert order["total"] == price(1, 1)


def test_new_order_client_cart_total_kept() -> None:
    order, computed = rules.new_order(
        {"cart": {"items": [{"total": price(1, 1)}], "total": {"excludingVat": 5}}},
        order_id="o_" + "d" * 26,
        merchant="m",
        channel="c",
        created=CREATED,
    )
    assert computed == ["includingVat"]
    assert order["cart"]["total"] == price(1, 5)
    assert order["total"] == price(1, 5)


def test_new_order_rejects_duplicate_consent_ids() -> None:
    with pytest.raises(InvalidRequest):
        rules.new_order(
            {"consents": [{"id": "a"}, {"id": "b"}, {"id": "a"}]},
            order_id="o_" + "e" * 26,
            merchant="m",
            channel="c",
            created=CREATED,
        )


def test_new_order_rejects_duplicate_item_ids() -> None:
    with pytest.raises(InvalidRequest):
        rules.new_order(
            {"cart": {"items": [{"id": "a"}, {"id": "a"}]}},
            order_id="o_" + "e" * 26,
            merchant="m",
            channel="c",
            created=CREATED,
        )


@pytest.mark.parametrize(
    ("name", "entry", "limit"),
    [
        ("consents", None, 100),
        ("hooks", {"scope": "/cart", "invoke": "https://x.example"}, 50),
        ("notifications", {"scope": "/state", "invoke": "https://x.example"}, 50),
        ("validations", {"invoke": "https://x.example"}, 50),
    ],
)
def test_new_order_limits(name: str, entry: dict[str, Any] | None, limit: int) -> None:
    def entries(count: int) -> list[dict[str, Any]]:
        if entry is None:
            return [{"id": f"c{i}"} for i in range(count)]
        return [dict(entry) for _ in range(count)]

    order, _ = rules.new_order(
        {name: entries(limit)}, order_id="o_" + "f" * 26, merchant="m", channel="c", created=CREATED
    )
    by_name: Mapping[str, Any] = order
    assert len(by_name[name]) == limit
    with pytest.raises(LimitExceeded):
        rules.new_order(
            {name: entries(limit + 1)},
            order_id="o_" + "f" * 26,
            merchant="m",
            channel="c",
            created=CREATED,
        )
