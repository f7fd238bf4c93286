"""The sandbox PSP's pure decisions (kassa.adapters.sandbox, sandbox_store.plan_pushes)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kassa.adapters import sandbox
from kassa.adapters.sandbox_store import plan_pushes

KEY = sandbox.challenge_key("builtin-key")


def test_token_round_trip_and_tampering() -> None:
    token = sandbox.make_token(KEY, "m1", "se", "o_1", "p_1", 1000.0)
    assert sandbox.read_token(KEY, token, 1000.0) == {"m": "m1", "c": "se", "o": "o_1", "p": "p_1"}
    payload, _, signature = token.partition(".")
    assert sandbox.read_token(KEY, payload + "A." + signature, 1000.0) is None
    assert sandbox.read_token(KEY, payload + "." + signature[:-2] + "AA", 1000.0) is None
    assert sandbox.read_token(KEY, payload, 1000.0) is None
    assert sandbox.read_token(sandbox.challenge_key("other"), token, 1000.0) is None
    # valid for 30 minutes
    assert sandbox.read_token(KEY, token, 1000.0 + 1800) is not None
    assert sandbox.read_token(KEY, token, 1000.0 + 1801) is None


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (None, "review"),
        ({}, "review"),
        ({"scenario": "pending"}, "pending"),
        ({"cardNumber": "4242 4242 4242 4242"}, "approve"),
        ({"cardNumber": "4000-0000-0000-0002"}, "decline"),
        ({"cardNumber": "4000000000003220", "scenario": "redirect"}, "redirect"),
    ],
)
def test_scenarios(body: object, expected: str) -> None:
    assert sandbox.scenario_of(body, "review") == expected


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({"scenario": "fraud"}, "/scenario"),
        ({"scenario": 1}, "/scenario"),
        ({"cardNumber": "4111111111111111"}, "/cardNumber"),
        ({"cardNumber": 4242424242424242}, "/cardNumber"),
        ({"cardNumber": "4242424242424242", "scenario": "decline"}, "/cardNumber"),
        ([], ""),
    ],
)
def test_bad_scenarios(body: object, pointer: str) -> None:
    with pytest.raises(ValueError) as raised:
        sandbox.scenario_of(body, "approve")
    assert raised.value.args[0] == pointer


def test_every_test_card_names_a_scenario() -> None:
    assert set(sandbox.TEST_CARDS.values()) == set(sandbox.SCENARIOS)


def test_actions_by_state() -> None:
    d = Decimal
    assert sandbox.action_types("reserved", d(20), d(0)) == ["capture", "cancel", "refresh"]
    assert sandbox.action_types("captured", d(20), d(5)) == ["capture", "refund", "refresh"]
    assert sandbox.action_types("captured", d(20), d(20)) == ["refund", "refresh"]
    assert sandbox.action_types("credited", d(20), d(20)) == ["refund", "refresh"]
    for state in ("intent", "processing", "pending", "declined", "refunded", "cancelled"):
        assert sandbox.action_types(state, d(20), d(0)) == ["refresh"]


def test_actions_keep_their_ids() -> None:
    payment = {
        "id": "p_1",
        "amount": 20,
        "actions": [
            {
                "id": "pa_keep",
                "type": "refresh",
                "url": "http://x/p/api/order/v1/orders/o_1/payments/p_1/refresh",
            }
        ],
    }
    actions = sandbox.actions_for("http://x/p", "o_1", payment, "reserved", Decimal(0))
    assert [a.get("id") for a in actions] == [None, None, "pa_keep"]
    assert actions[0]["url"] == "http://x/p/api/order/v1/orders/o_1/payments/p_1/capture"


def test_ledger_sums_count_successes_only() -> None:
    ledger = [
        {"event": "capture", "isSuccess": True, "amount": 5},
        {"event": "capture", "isSuccess": False, "amount": 50},
        {"event": "refund", "isSuccess": True, "amount": Decimal("2.5")},
        {"event": "open", "isSuccess": True, "amount": 20},
    ]
    assert sandbox.sums(ledger) == (Decimal(5), Decimal("2.5"))


def test_state_hook() -> None:
    def order(status: str, state: str) -> dict[str, object]:
        return {"state": {"currentStatus": status}, "payments": [{"id": "p_1", "state": state}]}

    status, body = sandbox.state_changed(order("checkout", "pending"), "p_1")
    assert status == 409 and isinstance(body, dict) and body["code"] == "payment-in-progress"
    assert sandbox.state_changed(order("checkout", "intent"), "p_1") == (200, [])
    assert sandbox.state_changed(order("declined", "intent"), "p_1") == (
        200,
        [{"op": "replace", "path": "/payments/0/state", "value": "cancelled"}],
    )
    assert sandbox.state_changed(order("removed", "reserved"), "p_1") == (200, [])
    assert sandbox.state_changed(order("checkout", "pending"), "p_other") == (200, [])


def test_validation() -> None:
    order = {
        "total": {"includingVat": 20},
        "payments": [{"id": "p_1", "state": "intent", "amount": 20}],
    }
    assert sandbox.validation_problem(order, "p_1", {}) is None
    assert sandbox.validation_problem(order, "p_1", {"failValidation": True}) is not None
    zero = {**order, "payments": [{"id": "p_1", "state": "intent", "amount": 0}]}
    assert sandbox.validation_problem(zero, "p_1", None) is not None
    removed = {**order, "payments": [{"id": "p_1", "state": "removed", "amount": 20}]}
    assert sandbox.validation_problem(removed, "p_1", None) is not None


def test_push_plan() -> None:
    config = {
        "push": {"delayMs": 100, "duplicates": 1, "outOfOrder": True},
        "pendingOutcome": "decline",
    }
    assert plan_pushes(config, 0) == [
        (1, "PENDING", 0, 200),
        (1, "PENDING", 1, 220),
        (2, "REFUSED", 0, 100),
        (2, "REFUSED", 1, 120),
    ]
    assert plan_pushes({}, 0) == [(1, "PENDING", 0, 1000), (2, "AUTHORISED", 0, 2000)]
