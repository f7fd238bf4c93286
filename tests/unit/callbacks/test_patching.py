"""Pure rules of hooks: call order (semantics §5.4) and patch checks (§5.7)."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any, cast

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kassa.callbacks.hooks import candidates, rank
from kassa.callbacks.patching import InvalidPatch, apply_hook_patch
from kassa.orders import rules
from kassa.orders.document import Meta, Order


def order(**body: Any) -> tuple[Order, Meta]:
    doc, computed = rules.new_order(
        body, order_id="o_x", merchant="m", channel="c", created="2026-01-01T00:00:00.000Z"
    )
    return doc, {"computed": computed}


ITEM = {
    "id": "ci_1",
    "name": "A",
    "quantity": 1,
    "price": {"includingVat": Decimal("5"), "excludingVat": Decimal("4")},
    "total": {"includingVat": Decimal("5"), "excludingVat": Decimal("4")},
    "vatRate": Decimal("0.25"),
}


def with_payment(doc: Order, state: str = "intent") -> Order:
    doc = copy.deepcopy(doc)
    doc["payments"].append(
        {
            "id": "p_1",
            "merchant": "m",
            "channel": "c",
            "currency": "SEK",
            "type": "default",
            "orderId": "o_x",
            "amount": Decimal("5"),
            "state": state,
            "actions": [{"id": "pa_1", "adapterId": "psp", "type": "capture", "url": "http://x"}],
        }
    )
    return doc


def test_rank() -> None:
    assert [rank(p) for p in ("/state", "/consents/x", "/customer", "/cart", "/shippings")] == [
        0,
        1,
        2,
        3,
        4,
    ]
    assert rank("/payments") == 5
    assert rank("/reference") == 6
    assert rank(None) == 7


def test_candidates_sorted_and_filtered() -> None:
    # only the fields the hooks' rules read
    stored = {
        "reference": "a",
        "cart": {"items": []},
        "hooks": [
            {"id": "h1", "subscribeTo": "/reference"},
            {"id": "h2", "scope": "/cart", "adapterId": "x"},
            {"id": "h3", "subscribeTo": "/cart", "target": "/state"},
            {"id": "h4", "subscribeTo": "/customer"},
        ],
    }
    proposal = {**stored, "reference": "b", "cart": {"items": [1]}}
    before, after = cast(Order, stored), cast(Order, proposal)
    found = [h["id"] for h in candidates(before, after, None, set())]
    assert found == ["h3", "h2", "h1"]
    assert [h["id"] for h in candidates(before, after, "x", {"h3"})] == ["h1"]


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "replace", "path": "", "value": {}},
        {"op": "replace", "path": "/id", "value": "o_y"},
        {"op": "add", "path": "/hooks/-", "value": {}},
        {"op": "replace", "path": "/currency", "value": "EUR"},
        {"op": "remove", "path": "/payments/0"},
        {"op": "add", "path": "/payments/-", "value": {}},
        {"op": "replace", "path": "/payments", "value": []},
        {"op": "replace", "path": "/payments/0/orderId", "value": "o_y"},
        {"op": "replace", "path": "/payments/0/actions/0/id", "value": "pa_2"},
        {"op": "replace", "path": "/cart/items/0/id", "value": "ci_2"},
        {"op": "move", "from": "/created", "path": "/reference"},
        {"op": "replace", "path": "/payments/0/state", "value": "intent"},  # captured→intent
        {"op": "replace", "path": "/payments/0/amount", "value": Decimal("5.001")},
        {"op": "replace", "path": "/payments/0/currency", "value": "EUR"},
        {"op": "replace", "path": "/cart/items/0/quantity", "value": "many"},
        {"op": "add", "path": "/customer", "value": {"type": "robot"}},
        {"op": "add", "path": "/consents/-", "value": {"id": "c"}},
        {"op": "add", "path": "/consents/-", "value": {"id": "c", "checked": "yes"}},
    ],
)
def test_forbidden_or_invalid_operations(operation: dict[str, Any]) -> None:
    doc, meta = order(currency="SEK", cart={"items": [ITEM]}, consents=[{"id": "c"}])
    stored = with_payment(doc, state="captured")
    with pytest.raises(InvalidPatch):
        apply_hook_patch(stored, copy.deepcopy(stored), meta, [operation], True)


def test_editability_is_judged_against_the_stored_state() -> None:
    doc, meta = order(currency="SEK")
    stored = copy.deepcopy(doc)
    stored["state"]["currentStatus"] = "accepted"
    patch = [{"op": "add", "path": "/cart/items/-", "value": {"name": "B", "quantity": 1}}]
    with pytest.raises(InvalidPatch):
        apply_hook_patch(stored, copy.deepcopy(stored), meta, patch, True)
    # attributes may change in accepted
    patch = [{"op": "add", "path": "/attributes", "value": {"a": 1}}]
    patched = apply_hook_patch(stored, copy.deepcopy(stored), meta, patch, True)
    assert patched["attributes"] == {"a": 1}


def test_allowed_changes_are_canonicalised() -> None:
    doc, meta = order(currency="SEK", cart={"items": [ITEM]})
    stored = with_payment(doc)
    patch = [
        {"op": "replace", "path": "/payments/0/state", "value": "Reserved"},
        {
            "op": "add",
            "path": "/payments/0/actions/-",
            "value": {"adapterId": "psp", "type": "refund", "url": "http://x/r"},
        },
        {"op": "add", "path": "/cart/items/-", "value": {"name": "B", "quantity": 2}},
        {"op": "replace", "path": "/cart/items/0/quantity", "value": 3},
        {"op": "add", "path": "/customer", "value": {"type": "Person"}},
    ]
    patched = apply_hook_patch(stored, copy.deepcopy(stored), meta, patch, True)
    payment = patched["payments"][0]
    assert payment["state"] == "reserved"
    assert payment["actions"][0]["id"] == "pa_1"
    assert payment["actions"][1]["id"].startswith("pa_")
    assert patched["cart"]["items"][0]["id"] == "ci_1"
    assert patched["cart"]["items"][1]["id"].startswith("ci_")
    assert patched["customer"] == {"type": "person"}
    assert patched["payments"][0]["orderId"] == "o_x"


def test_failed_patch_leaves_proposal_and_meta_alone() -> None:
    doc, meta = order(currency="SEK")
    proposal = copy.deepcopy(doc)
    kept = copy.deepcopy(meta)
    patch = [
        {"op": "add", "path": "/attributes", "value": {"a": 1}},
        {"op": "remove", "path": "/attributes/missing"},
    ]
    with pytest.raises(InvalidPatch):
        apply_hook_patch(doc, proposal, meta, patch, True)
    assert proposal == doc and meta == kept


@given(st.text(alphabet="abc/~01", max_size=12))
def test_arbitrary_pointers_never_crash(pointer: str) -> None:
    doc, meta = order(currency="SEK")
    operation = {"op": "add", "path": pointer, "value": 1}
    try:
        patched = apply_hook_patch(doc, copy.deepcopy(doc), meta, [operation], True)
    except InvalidPatch:
        return
    # whatever was accepted is confined to attributes-like free parts of the order
    assert patched["id"] == "o_x" and patched["state"] == doc["state"]


def test_shipping_fields_may_change_but_not_ids() -> None:
    doc, meta = order(currency="SEK")
    doc["shippings"].append(
        {
            "id": "s_1",
            "merchant": "m",
            "channel": "c",
            "orderId": "o_x",
            "name": "Post",
            "total": {"includingVat": Decimal("49"), "excludingVat": Decimal("39.2")},
            "vatRate": Decimal("0.25"),
            "state": "intent",
        }
    )
    patch = [{"op": "replace", "path": "/shippings/0/name", "value": "Express"}]
    patched = apply_hook_patch(doc, copy.deepcopy(doc), meta, patch, True)
    assert patched["shippings"][0]["name"] == "Express"
    assert patched["shippings"][0]["id"] == "s_1"
    for bad in (
        [{"op": "replace", "path": "/shippings/0/id", "value": "s_2"}],
        [{"op": "replace", "path": "/shippings/0/vatRate", "value": 7}],
        [{"op": "remove", "path": "/shippings/0"}],
    ):
        with pytest.raises(InvalidPatch):
            apply_hook_patch(doc, copy.deepcopy(doc), meta, bad, True)
