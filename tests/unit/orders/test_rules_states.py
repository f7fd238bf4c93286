"""Pure-function tests of ``kassa.orders.rules``: the order state transitions (semantics §1.2)
and what may be edited in which state (§1.3).

The tables of the specification are written out again here, independently of the source, so a
typo in either one shows up as a failing test.
"""

from __future__ import annotations

import itertools
from typing import cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kassa.errors import InvalidStateTransition, OrderNotEditable
from kassa.orders import rules
from kassa.orders.document import Order
from kassa.orders.rules import Area, Move
from kassa.schemas_common import OrderStatus

S = OrderStatus

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
