"""Pure-function tests of ``kassa.orders.rules``: the built-in validation (semantics §6.1)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, cast

from kassa.orders import rules
from kassa.orders.document import Order
from tests.support.order_rules import price


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
