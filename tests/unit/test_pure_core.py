"""The pure core called directly: mutations return what they created, the write Context carries
the settings rules need, and the callback stages decide purely whether a write calls out."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pytest

from kassa.callbacks import engine
from kassa.callbacks import mutations as callback_mutations
from kassa.callbacks.kinds import BY_COLLECTION, KINDS, substitute
from kassa.errors import InvalidStateTransition, ValidationFailed
from kassa.orders import mutations, rules
from kassa.orders.document import Meta, Order
from kassa.orders.model import Context
from kassa.payments import mutations as payment_mutations
from kassa.schemas_common import OrderStatus
from kassa.shippings import mutations as shipping_mutations

CTX = Context(now="2026-01-02T00:00:00.000Z")


def new_order(**body: Any) -> tuple[Order, Meta]:
    doc, computed = rules.new_order(
        body, order_id="o_x", merchant="m", channel="c", created="2026-01-01T00:00:00.000Z"
    )
    return doc, {"computed": computed}


def test_add_payment_returns_the_new_id_and_appends_the_payment() -> None:
    order, meta = new_order(currency="SEK")
    payment_id = payment_mutations.add_payment({"name": "card"})(order, meta, CTX)
    assert payment_id.startswith("p_")
    assert [p["id"] for p in order["payments"]] == [payment_id]
    assert order["payments"][0]["state"] == "intent"
    assert order["payments"][0]["orderId"] == "o_x"


def test_each_run_of_a_mutation_creates_afresh() -> None:
    # a hooked write runs its mutation once per attempt: each run returns its own id
    add = shipping_mutations.add_shipping({"name": "post"})
    first, second = new_order()[0], new_order()[0]
    one, two = add(first, {}, CTX), add(second, {}, CTX)
    assert one != two
    assert first["shippings"][0]["id"] == one
    assert second["shippings"][0]["id"] == two


def test_add_actions_returns_only_the_new_actions() -> None:
    order, meta = new_order(currency="SEK")
    payment_id = payment_mutations.add_payment({"name": "card"})(order, meta, CTX)
    action = {"type": "capture", "url": "https://psp.example/capture", "adapterId": "psp"}
    first = payment_mutations.add_actions(payment_id, [action])(order, meta, CTX)
    second = payment_mutations.add_actions(payment_id, [action])(order, meta, CTX)
    assert len(first) == len(second) == 1
    assert first[0]["id"] != second[0]["id"]
    assert [a["id"] for a in order["payments"][0]["actions"]] == [first[0]["id"], second[0]["id"]]


def test_callback_add_returns_its_id() -> None:
    order, meta = new_order()
    entry = {"scope": "/cart", "invoke": "https://a.example/n"}
    callback_id = callback_mutations.add("notifications", entry)(order, meta, CTX)
    assert order["notifications"] == [{"id": callback_id, **entry}]


def test_payment_state_enforcement_comes_from_the_context() -> None:
    order, meta = new_order(currency="SEK")
    payment_id = payment_mutations.add_payment({"name": "card"})(order, meta, CTX)
    order["payments"][0]["state"] = "cancelled"
    back = payment_mutations.put_payment(payment_id, {"name": "card", "state": "intent"})
    with pytest.raises(InvalidStateTransition):
        back(copy.deepcopy(order), meta, CTX)
    relaxed = Context(now=CTX.now, payment_state_enforcement=False)
    changed = copy.deepcopy(order)
    back(changed, meta, relaxed)
    assert changed["payments"][0]["state"] == "intent"


def test_put_state_stamps_the_context_time() -> None:
    order, meta = new_order()
    mutations.put_state(OrderStatus.processing)(order, meta, CTX)
    assert order["state"]["currentStatus"] == "processing"
    assert order["state"]["transitions"][-1] == {"status": "processing", "timeStamp": CTX.now}


def _leaving(order: Order) -> Order:
    after = copy.deepcopy(order)
    mutations.put_state(OrderStatus.processing)(after, {}, CTX)
    return after


def test_no_stage_calls_out_for_a_plain_order() -> None:
    before, _ = new_order(currency="SEK", country="SE")
    assert not engine.calls_out(before, _leaving(before), None)


def test_a_hook_on_the_changed_path_calls_out_unless_suppressed() -> None:
    before, _ = new_order()
    before["hooks"] = [
        {
            "id": "h1",
            "adapterId": "a",
            "subscribeTo": "/cart",
            "scope": "/cart",
            "invoke": "https://a.example",
            "version": "1",
        }
    ]
    after = copy.deepcopy(before)
    after["cart"]["reference"] = "new"
    assert engine.calls_out(before, after, None)
    assert not engine.calls_out(before, after, "a")
    untouched = copy.deepcopy(before)
    untouched["attributes"] = {"x": 1}
    assert not engine.calls_out(before, untouched, None)


def test_validation_callbacks_call_out_only_when_leaving_checkout() -> None:
    before, _ = new_order()
    url = "https://a.example/v"
    before["validations"] = [{"id": "v1", "url": url, "invoke": url}]
    assert engine.calls_out(before, _leaving(before), None)
    same_state = copy.deepcopy(before)
    same_state["attributes"] = {"x": 1}
    assert not engine.calls_out(before, same_state, None)


def test_the_local_check_refuses_leaving_checkout_with_builtin_errors() -> None:
    # an order without currency fails the built-in validation (semantics §6.1)
    before, _ = new_order()
    with pytest.raises(ValidationFailed) as refused:
        engine.check(before, _leaving(before))
    assert refused.value.code == "validation-failed"
    assert "cannot move from checkout to processing" in refused.value.message
    engine.check(before, before)  # staying in checkout is not validated


def test_the_kinds_table_and_placeholders() -> None:
    assert set(BY_COLLECTION) == {"hooks", "notifications", "validations"}
    assert KINDS["hook"].vetoes and KINDS["hook"].synchronous
    assert not KINDS["notification"].synchronous
    assert KINDS["notification"].max_response == 64 * 1024
    url = "https://a.example/{order_id}/{order.id}/{payment_id}/{payment.id}"
    assert substitute(url, "o_1", "p_2") == "https://a.example/o_1/o_1/p_2/p_2"
    assert substitute(url, "o_1") == "https://a.example/o_1/o_1/{payment_id}/{payment.id}"


def test_totals_are_exact_after_a_cart_mutation() -> None:
    order, meta = new_order(currency="SEK")
    price = {"includingVat": Decimal("0.1"), "excludingVat": Decimal("0.1")}
    item = {"name": "a", "quantity": 1, "price": price, "total": price, "vatRate": Decimal("0")}
    mutations.put_cart(
        {
            "items": [
                item,
                {
                    **item,
                    "price": {
                        **price,
                        "includingVat": Decimal("0.2"),
                        "excludingVat": Decimal("0.2"),
                    },
                    "total": {"includingVat": Decimal("0.2"), "excludingVat": Decimal("0.2")},
                },
            ]
        }
    )(order, meta, CTX)
    rules.compute_totals(order, meta["computed"])
    assert order["cart"]["total"]["includingVat"] == Decimal("0.3")
