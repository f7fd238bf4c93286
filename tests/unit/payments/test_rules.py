"""Property tests of the pure payment rules of ``kassa.payments.rules`` (semantics §2.1,
§3.5): the state table, walks through it and the ledger invariants."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kassa.errors import InvalidStateTransition
from kassa.orders.document import LedgerEntry, Payment
from kassa.payments import rules
from kassa.schemas_common import PaymentState

# semantics §2.1, written out independently of src
PAYMENT_TABLE: dict[str, set[str]] = {
    "intent": {"processing", "pending", "confirmed", "reserved", "captured"}
    | {"declined", "failed", "cancelled", "removed"},
    "processing": {"intent", "pending", "confirmed", "reserved", "captured"}
    | {"declined", "failed", "cancelled", "removed"},
    "pending": {"processing", "confirmed", "reserved", "captured"}
    | {"declined", "failed", "cancelled", "removed"},
    "confirmed": {"reserved", "captured", "declined", "failed", "cancelled", "removed"},
    "reserved": {"captured", "cancelled", "failed"},
    "captured": {"credited", "refunded"},
    "credited": {"refunded"},
    "declined": {"intent", "removed"},
    "failed": {"intent", "removed"},
    "cancelled": {"removed"},
    "refunded": set(),
    "removed": set(),
}
ALL_STATES = sorted(PAYMENT_TABLE)


def test_state_enum_matches_table() -> None:
    assert sorted(s.value for s in PaymentState) == ALL_STATES


@pytest.mark.parametrize("source", ALL_STATES)
def test_payment_move_allowed_matches_table(source: str) -> None:
    for target in ALL_STATES:
        expected = target == source or target in PAYMENT_TABLE[source]
        assert rules.payment_move_allowed(PaymentState(source), PaymentState(target)) is expected, (
            source,
            target,
        )
        if expected:
            rules.check_payment_move(source, target)
        else:
            with pytest.raises(InvalidStateTransition) as info:
                rules.check_payment_move(source, target)
            assert info.value.status == 409
            assert info.value.body()["from"] == source
            assert info.value.body()["to"] == target
        rules.check_payment_move(source, target, enforce=False)  # never raises


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(ALL_STATES), min_size=1, max_size=12))
def test_payment_walks(path: list[str]) -> None:
    """A walk is accepted step by step exactly when every step is in the table."""
    current = path[0]
    for target in path[1:]:
        allowed = target == current or target in PAYMENT_TABLE[current]
        assert rules.payment_move_allowed(PaymentState(current), PaymentState(target)) is allowed
        if allowed:
            current = target
    # final states stay final
    if current in {"refunded", "removed"}:
        assert not any(
            rules.payment_move_allowed(PaymentState(current), PaymentState(s))
            for s in ALL_STATES
            if s != current
        )


EVENTS = ["open", "process", "confirm", "reopen", "cancel", "paymentAction", "capture", "refund"]
cents = st.integers(min_value=0, max_value=20_000).map(lambda n: Decimal(n) / 100)


@settings(max_examples=200, deadline=None)
@given(
    payment_amount=cents,
    steps=st.lists(
        st.tuples(
            st.sampled_from(["capture", "capture", "refund", "refund", *EVENTS]),
            cents,
            st.booleans(),
        ),
        max_size=30,
    ),
)
def test_ledger_invariants(payment_amount: Decimal, steps: list[tuple[str, Decimal, bool]]) -> None:
    ledger: LedgerEntry = {"captured": "0", "refunded": "0", "captures": 0, "count": 0}
    captured = refunded = Decimal(0)
    stored = captures = 0
    for event, amount, success in steps:
        before = copy.deepcopy(ledger)
        try:
            rules.apply_transaction(ledger, payment_amount, event, amount, success)
        except rules.AmountExceedsReserved as exc:
            assert success and event == "capture"
            assert captured + amount > payment_amount
            assert exc.body()["available"] == payment_amount - captured
            assert ledger == before  # a refused event leaves the ledger unchanged
            continue
        except rules.AmountExceedsCaptured as exc:
            assert success and event == "refund"
            assert refunded + amount > captured
            assert exc.body()["available"] == captured - refunded
            assert ledger == before
            continue
        stored += 1
        if success and event == "capture":
            assert captured + amount <= payment_amount
            captured += amount
            captures += 1
        elif success and event == "refund":
            assert refunded + amount <= captured
            refunded += amount
        # the running sums match an independent model, and the invariants hold
        assert Decimal(ledger["captured"]) == captured
        assert Decimal(ledger["refunded"]) == refunded
        assert ledger["count"] == stored
        assert ledger["captures"] == captures
        assert Decimal(ledger["captured"]) <= payment_amount
        assert Decimal(ledger["refunded"]) <= Decimal(ledger["captured"])


@settings(max_examples=200, deadline=None)
@given(captured=cents, amount=cents)
def test_amount_below_captured_rule(captured: Decimal, amount: Decimal) -> None:
    payment = cast(Payment, {"amount": amount})  # the only field the rule reads
    if amount < captured:
        with pytest.raises(rules.AmountBelowCaptured) as info:
            rules.check_payment_amounts(payment, captured)
        assert info.value.body()["captured"] == captured
    else:
        rules.check_payment_amounts(payment, captured)
