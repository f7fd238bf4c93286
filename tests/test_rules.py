"""Pure-function tests of ``kassa.orders.rules`` against semantics §1.2, §1.3, §3.4, §3.6, §6.1.

The tables of the specification are written out again here, independently of the source, so a
typo in either one shows up as a failing test.
"""

from __future__ import annotations

import copy
import itertools
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kassa.errors import InvalidRequest, InvalidStateTransition, LimitExceeded, OrderNotEditable
from kassa.orders import rules
from kassa.orders.document import Cart, Order, Price
from kassa.orders.rules import Area, Move
from kassa.schemas_common import OrderStatus

S = OrderStatus
CI_ID = re.compile(r"^ci_[A-Za-z]{26}$")
OC_ID = re.compile(r"^oc_[A-Za-z]{26}$")

# --- semantics §1.2, transcribed from the spec --------------------------------------------------

SPEC_COLUMNS = ["checkout", "processing", "accepted", "completed", "declined", "removed"]
SPEC_TABLE = {
    "checkout": ["=", "V", "V", "V", "✓", "✓"],
    "processing": ["✓", "=", "✓", "✓", "✓", "✓"],
    "accepted": ["✗", "✗", "=", "✓", "✓", "✗"],
    "completed": ["✗", "✗", "✗", "=", "✗", "✗"],
    "declined": ["✗", "✗", "✗", "✗", "=", "✗"],
    "removed": ["✗", "✗", "✗", "✗", "✗", "="],
}
SYMBOL = {"=": Move.SAME, "V": Move.VALIDATE, "✓": Move.ALLOWED, "✗": Move.REFUSED}
SPEC_MOVES: dict[tuple[str, str], Move] = {
    (src, dst): SYMBOL[cell]
    for src, row in SPEC_TABLE.items()
    for dst, cell in zip(SPEC_COLUMNS, row, strict=True)
}
ALL_PAIRS = sorted(SPEC_MOVES)
FINAL_STATES = [S.completed, S.declined, S.removed]

# --- semantics §1.3, transcribed from the spec --------------------------------------------------

SPEC_EDITABLE: dict[Area, set[str]] = {
    # PUT cart (6)
    Area.CART: {"checkout"},
    # PUT customer/billing, customer/shipping (11, 12)
    Area.CUSTOMER: {"checkout"},
    # consents: POST, PATCH list, PATCH one, DELETE (7-10)
    Area.CONSENTS: {"checkout", "processing"},
    # attributes, reference, callbacks, PUT payment, transactions, actions, shipping non-money
    Area.POST_PAYMENT: {"checkout", "processing", "accepted", "completed", "declined"},
}


def test_order_status_enum_matches_api_3_0() -> None:
    assert [s.value for s in S] == SPEC_COLUMNS


def test_transition_table_covers_every_pair_once() -> None:
    keys = {(src.value, dst.value) for src, dst in rules.ORDER_TRANSITIONS}
    assert keys == set(SPEC_MOVES)
    assert len(rules.ORDER_TRANSITIONS) == 36


@pytest.mark.parametrize(("src", "dst"), ALL_PAIRS)
def test_order_move_matches_spec_table(src: str, dst: str) -> None:
    expected = SPEC_MOVES[(src, dst)]
    assert rules.order_move(S(src), S(dst)) is expected
    assert rules.ORDER_TRANSITIONS[(S(src), S(dst))] is expected


@pytest.mark.parametrize(("src", "dst"), ALL_PAIRS)
def test_check_order_move_refuses_exactly_the_crosses(src: str, dst: str) -> None:
    expected = SPEC_MOVES[(src, dst)]
    if expected is Move.REFUSED:
        with pytest.raises(InvalidStateTransition) as info:
            rules.check_order_move(S(src), S(dst))
        assert info.value.code == "invalid-state-transition"
        assert info.value.status == 409
        body = info.value.body()
        assert body["from"] == src
        assert body["to"] == dst
    else:
        assert rules.check_order_move(S(src), S(dst)) is expected


def test_same_state_is_same_everywhere() -> None:
    for state in S:
        assert rules.order_move(state, state) is Move.SAME
        assert rules.check_order_move(state, state) is Move.SAME


def test_validation_needed_only_when_leaving_checkout_forward() -> None:
    needing = {pair for pair, move in rules.ORDER_TRANSITIONS.items() if move is Move.VALIDATE}
    assert needing == {
        (S.checkout, S.processing),
        (S.checkout, S.accepted),
        (S.checkout, S.completed),
    }


@given(src=st.sampled_from(FINAL_STATES), dst=st.sampled_from(list(S)))
@settings(max_examples=100, deadline=None)
def test_final_states_allow_nothing_but_same(src: OrderStatus, dst: OrderStatus) -> None:
    if dst is src:
        assert rules.check_order_move(src, dst) is Move.SAME
    else:
        assert rules.order_move(src, dst) is Move.REFUSED
        with pytest.raises(InvalidStateTransition):
            rules.check_order_move(src, dst)


@given(requests=st.lists(st.sampled_from(list(S)), max_size=40))
@settings(max_examples=200, deadline=None)
def test_random_transition_sequences_stay_in_the_table(requests: list[OrderStatus]) -> None:
    current = S.checkout  # every order starts in checkout (§1.2)
    history = [current]
    for requested in requests:
        expected = SPEC_MOVES[(current.value, requested.value)]
        try:
            move = rules.check_order_move(current, requested)
        except InvalidStateTransition:
            assert expected is Move.REFUSED
            continue  # refused: the order is unchanged
        assert move is expected
        assert move is not Move.REFUSED
        if move is not Move.SAME:
            current = requested
            history.append(current)
    # every step taken is a non-refused, non-same cell of the spec table
    for before, after in itertools.pairwise(history):
        assert SPEC_MOVES[(before.value, after.value)] in {Move.ALLOWED, Move.VALIDATE}
    # once final, the order never moves again
    for index, state in enumerate(history):
        if state in FINAL_STATES:
            assert index == len(history) - 1


# --- editability, §1.3 --------------------------------------------------------------------------


@pytest.mark.parametrize("area", list(Area))
@pytest.mark.parametrize("state", SPEC_COLUMNS)
def test_can_edit_matches_spec(area: Area, state: str) -> None:
    expected = state in SPEC_EDITABLE[area]
    assert rules.can_edit(area, S(state)) is expected
    if expected:
        rules.check_editable(area, S(state))
    else:
        with pytest.raises(OrderNotEditable) as info:
            rules.check_editable(area, S(state))
        assert info.value.code == "order-not-editable"
        assert info.value.status == 409
        assert info.value.body()["state"] == state


def test_nothing_but_reads_in_removed() -> None:
    assert not any(rules.can_edit(area, S.removed) for area in Area)


def test_status_of_reads_current_status() -> None:
    assert rules.status_of(cast(Order, {"state": {"currentStatus": "accepted"}})) is S.accepted


# --- totals, §3.4 -------------------------------------------------------------------------------


def price(incl: Any, excl: Any) -> Price:
    return {"includingVat": incl, "excludingVat": excl}


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


# --- built-in validation, §6.1 ------------------------------------------------------------------


def test_builtin_validation_passes_for_covered_order() -> None:
    order: dict[str, Any] = {
        "cart": {"items": [{"total": price(10, 8)}]},
        "total": price(Decimal("10.50"), 8),
        "payments": [{"amount": Decimal("10.5"), "state": "intent"}],
        "consents": [{"id": "terms", "required": True, "checked": True}],
    }
    assert rules.builtin_validation(cast(Order, order)) == []


def test_builtin_validation_all_failures_in_spec_order() -> None:
    order: dict[str, Any] = {
        "cart": {"items": []},
        "total": price(10, 8),
        "payments": [{"amount": 5, "state": "declined"}, {"amount": 5, "state": "removed"}],
        "consents": [
            {"id": "terms", "required": True, "checked": False},
            {"id": "news", "required": False},
            {"id": "privacy", "required": True},
        ],
    }
    errors = rules.builtin_validation(cast(Order, order))
    assert [e["code"] for e in errors] == [
        "cart-empty",
        "payment-amount-mismatch",
        "consent-required",
        "consent-required",
    ]
    assert all(e["adapterId"] == "kassa" for e in errors)
    assert all(isinstance(e["message"], str) and e["message"] for e in errors)
    assert "terms" in errors[2]["message"]
    assert "privacy" in errors[3]["message"]


def test_builtin_validation_payment_missing_when_only_removed() -> None:
    order: dict[str, Any] = {
        "cart": {"items": [{"total": price(10, 8)}]},
        "total": price(10, 8),
        "payments": [{"amount": 10, "state": "removed"}],
    }
    assert [e["code"] for e in rules.builtin_validation(cast(Order, order))] == ["payment-missing"]
    order["payments"] = []
    assert [e["code"] for e in rules.builtin_validation(cast(Order, order))] == ["payment-missing"]


def test_builtin_validation_zero_total_needs_no_payment() -> None:
    order: dict[str, Any] = {
        "cart": {"items": [{"total": price(0, 0)}]},
        "total": price(0, 0),
        "payments": [{"amount": 99, "state": "intent"}],  # not compared when total is 0
    }
    assert rules.builtin_validation(cast(Order, order)) == []


def test_builtin_validation_declined_payment_counts() -> None:
    order: dict[str, Any] = {
        "cart": {"items": [{"total": price(10, 8)}]},
        "total": price(10, 8),
        "payments": [
            {"amount": Decimal("4.5"), "state": "declined"},
            {"amount": Decimal("5.50"), "state": "intent"},
        ],
    }
    assert rules.builtin_validation(cast(Order, order)) == []


def test_builtin_validation_consent_checked_must_be_true() -> None:
    order: dict[str, Any] = {
        "cart": {"items": [{}]},
        "total": price(0, 0),
        "consents": [{"id": "c1", "required": True, "checked": "yes"}],
    }
    assert [e["code"] for e in rules.builtin_validation(cast(Order, order))] == ["consent-required"]


# --- new_order ----------------------------------------------------------------------------------

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
