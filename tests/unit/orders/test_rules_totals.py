"""Pure-function tests of ``kassa.orders.rules``: order and cart totals (semantics §3.4) and
cart item ids (§3.6)."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any, cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kassa.errors import InvalidRequest, LimitExceeded
from kassa.orders import rules
from kassa.orders.document import Cart, Order
from tests.support.order_rules import CI_ID, price

# --- totals, §3.4 -------------------------------------------------------------------------------


def test_totals_worked_example() -> None:
    order: dict[str, Any] = {
        "cart": {
            "items": [
                {"name": "a", "total": price(10, 8)},
                {"name": "b", "total": price(Decimal("2.5"), 2)},
            ]
        },
        "shippings": [
            {"id": "s1", "state": "intent", "total": price(Decimal("7.5"), 6)},
            {"id": "s2", "state": "removed", "total": price(99, Decimal("79.2"))},
        ],
    }
    rules.compute_totals(cast(Order, order), ["includingVat", "excludingVat"])
    assert order["cart"]["total"] == price(Decimal("12.5"), Decimal(10))
    assert order["total"] == price(Decimal(20), Decimal(16))
    for value in [*order["cart"]["total"].values(), *order["total"].values()]:
        assert isinstance(value, Decimal | int)
        assert not isinstance(value, float)


def test_totals_empty_cart_is_zero() -> None:
    order: dict[str, Any] = {"cart": {"items": []}, "shippings": []}
    rules.compute_totals(cast(Order, order), ["includingVat", "excludingVat"])
    assert order["cart"]["total"] == price(0, 0)
    assert order["total"] == price(0, 0)
    assert set(order["total"]) == {"includingVat", "excludingVat"}


def test_totals_client_component_kept_computed_one_filled() -> None:
    order: dict[str, Any] = {
        "cart": {
            "items": [{"total": price(10, 8)}, {"total": price(5, 4)}],
            "total": {"includingVat": Decimal("100.5")},
        },
        "shippings": [{"total": price(1, 1)}],
    }
    rules.compute_totals(cast(Order, order), ["excludingVat"])
    # the client's value is kept as given, never checked against the items
    assert order["cart"]["total"] == price(Decimal("100.5"), 12)
    assert order["total"] == price(Decimal("101.5"), 13)


def test_totals_computed_component_is_recomputed_even_if_present() -> None:
    order: dict[str, Any] = {
        "cart": {"items": [{"total": price(3, 2)}], "total": price(999, 888)},
    }
    rules.compute_totals(cast(Order, order), ["includingVat", "excludingVat"])
    assert order["cart"]["total"] == price(3, 2)
    assert order["total"] == price(3, 2)


def test_totals_client_supplied_both_components() -> None:
    order: dict[str, Any] = {
        "cart": {"items": [{"total": price(3, 2)}], "total": price(Decimal("7.25"), 0)},
    }
    rules.compute_totals(cast(Order, order), [])
    assert order["cart"]["total"] == price(Decimal("7.25"), 0)
    assert order["total"] == price(Decimal("7.25"), 0)


def test_totals_bundle_children_not_summed() -> None:
    order: dict[str, Any] = {
        "cart": {
            "items": [
                {
                    "productType": "bundle",
                    "total": price(50, 40),
                    "items": [{"total": price(30, 24)}, {"total": price(20, 16)}],
                },
                {"total": price(1, 1)},
            ]
        },
    }
    rules.compute_totals(cast(Order, order), ["includingVat", "excludingVat"])
    assert order["cart"]["total"] == price(51, 41)


def test_totals_absent_components_count_as_zero() -> None:
    order: dict[str, Any] = {
        "cart": {"items": [{"total": {"includingVat": 5}}, {"name": "no total"}]},
        "shippings": [{"total": {"excludingVat": 2}}, {"state": "intent"}],
    }
    rules.compute_totals(cast(Order, order), ["includingVat", "excludingVat"])
    assert order["cart"]["total"] == price(5, 0)
    assert order["total"] == price(5, 2)


def test_totals_client_order_total_ignored() -> None:
    order: dict[str, Any] = {"cart": {"items": [{"total": price(1, 1)}]}, "total": price(7, 7)}
    rules.compute_totals(cast(Order, order), ["includingVat", "excludingVat"])
    assert order["total"] == price(1, 1)


def test_computed_components() -> None:
    assert rules.computed_components({}) == ["includingVat", "excludingVat"]
    assert rules.computed_components({"total": {"includingVat": 1}}) == ["excludingVat"]
    assert rules.computed_components({"total": price(1, 1)}) == []


money = st.decimals(
    min_value=Decimal(0),
    max_value=Decimal("999999999999999.999999"),
    places=6,
    allow_nan=False,
    allow_infinity=False,
)
amount = st.one_of(money, st.integers(min_value=0, max_value=10**15 - 1))
price_st = st.fixed_dictionaries({"includingVat": amount, "excludingVat": amount})
shipping_state = st.sampled_from(["intent", "removed", "processing", "failed", "confirmed"])


@given(
    items=st.lists(price_st, max_size=8),
    shippings=st.lists(st.tuples(price_st, shipping_state), max_size=5),
)
@settings(max_examples=150, deadline=None)
def test_totals_are_exact_decimal_sums(
    items: list[dict[str, Any]], shippings: list[tuple[dict[str, Any], str]]
) -> None:
    order: dict[str, Any] = {
        "cart": {"items": [{"total": dict(p)} for p in items]},
        "shippings": [{"total": dict(p), "state": state} for p, state in shippings],
    }
    rules.compute_totals(cast(Order, order), ["includingVat", "excludingVat"])
    for key in ("includingVat", "excludingVat"):
        item_sum = sum((Decimal(p[key]) for p in items), Decimal(0))
        ship_sum = sum(
            (Decimal(p[key]) for p, state in shippings if state != "removed"), Decimal(0)
        )
        cart_value = order["cart"]["total"][key]
        order_value = order["total"][key]
        assert not isinstance(cart_value, float)
        assert not isinstance(order_value, float)
        assert Decimal(cart_value) == item_sum
        assert Decimal(order_value) == item_sum + ship_sum


# --- cart item ids, §3.6 ------------------------------------------------------------------------


def all_items(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for item in items:
        found.append(item)
        found.extend(all_items(item.get("items") or []))
    return found


def test_assign_item_ids_at_every_level_and_keeps_sent_ids() -> None:
    cart: dict[str, Any] = {
        "items": [
            {"id": "line-1", "name": "kept"},
            {"name": "new"},
            {
                "name": "bundle",
                "productType": "bundle",
                "items": [
                    {"name": "child new"},
                    {"id": "child-kept", "name": "child"},
                    {"name": "grand", "items": [{"name": "grandchild"}]},
                ],
            },
            {"id": None, "name": "null id counts as absent"},
        ]
    }
    rules.assign_item_ids(cast(Cart, cart))
    flat = all_items(cart["items"])
    assert len(flat) == 8
    ids = [item["id"] for item in flat]
    assert len(set(ids)) == len(ids)
    assert cart["items"][0]["id"] == "line-1"
    assert cart["items"][2]["items"][1]["id"] == "child-kept"
    generated = [i for i in ids if i not in {"line-1", "child-kept"}]
    assert len(generated) == 6
    assert all(CI_ID.match(i) for i in generated), generated
    # other fields untouched
    assert cart["items"][1]["name"] == "new"
    assert cart["items"][2]["items"][2]["items"][0]["name"] == "grandchild"


def test_assign_item_ids_is_stable_on_resend() -> None:
    cart: dict[str, Any] = {"items": [{"name": "a"}, {"name": "b", "items": [{"name": "c"}]}]}
    rules.assign_item_ids(cast(Cart, cart))
    first = [item["id"] for item in all_items(cart["items"])]
    again = copy.deepcopy(cart)
    rules.assign_item_ids(cast(Cart, again))
    assert [item["id"] for item in all_items(again["items"])] == first


@pytest.mark.parametrize(
    "items",
    [
        [{"id": "x"}, {"id": "x"}],
        [{"id": "x"}, {"name": "b", "items": [{"id": "x"}]}],
        [{"name": "b", "items": [{"id": "x"}, {"id": "x"}]}],
        [{"name": "b", "items": [{"id": "x"}]}, {"name": "c", "items": [{"id": "x"}]}],
        [{"id": "x", "items": [{"id": "x"}]}],
    ],
    ids=["top", "top-and-child", "siblings", "cousins", "parent-and-child"],
)
def test_assign_item_ids_rejects_duplicates(items: list[dict[str, Any]]) -> None:
    with pytest.raises(InvalidRequest) as info:
        rules.assign_item_ids(cast(Cart, {"items": items}))
    assert info.value.code == "invalid-request"
    assert info.value.status == 400


def test_assign_item_ids_limit_counts_all_levels() -> None:
    ok: dict[str, Any] = {"items": [{"items": [{} for _ in range(9)]} for _ in range(100)]}
    rules.assign_item_ids(cast(Cart, ok))  # exactly 1000 items
    assert all(CI_ID.match(item["id"]) for item in all_items(ok["items"]))

    too_many: dict[str, Any] = {
        "items": [{"items": [{} for _ in range(9)]} for _ in range(100)] + [{}]
    }
    with pytest.raises(LimitExceeded) as info:
        rules.assign_item_ids(cast(Cart, too_many))
    assert info.value.code == "limit-exceeded"
    assert info.value.status == 400


def test_assign_item_ids_limit_flat() -> None:
    with pytest.raises(LimitExceeded):
        rules.assign_item_ids({"items": [{"name": str(i)} for i in range(1001)]})


def test_assign_item_ids_empty_and_absent() -> None:
    empty: dict[str, Any] = {"items": []}
    rules.assign_item_ids(cast(Cart, empty))
    assert empty == {"items": []}
    absent: dict[str, Any] = {}
    rules.assign_item_ids(cast(Cart, absent))
    assert "items" not in absent or absent["items"] in ([], None)


@given(
    st.recursive(
        st.just([]),
        lambda children: st.lists(
            st.fixed_dictionaries({}, optional={"items": children}), max_size=4
        ),
        max_leaves=30,
    )
)
@settings(max_examples=100, deadline=None)
def test_assign_item_ids_property(items: list[dict[str, Any]]) -> None:
    cart: dict[str, Any] = {"items": items}
    rules.assign_item_ids(cast(Cart, cart))
    flat = all_items(cart["items"])
    ids = [item["id"] for item in flat]
    assert all(CI_ID.match(i) for i in ids)
    assert len(set(ids)) == len(ids)
