"""Full validation of an order (semantics §6): the built-in checks, then every validation callback.

``validate`` is called with no database transaction open (by ``POST /validate`` on the committed
order, and by a transition leaving ``checkout`` on the proposal after hooks). All callbacks of
the order are called concurrently; each answer is mapped per semantics §6.3. An unavailable
callback follows ``validation_failure_policy``: ``open`` passes with a ``Kassa-Warnings`` token,
``closed`` fails with ``validation-unavailable``.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from kassa import jsonutil
from kassa.callbacks import callouts
from kassa.callbacks.kinds import VALIDATION
from kassa.callbacks.passed import Passed
from kassa.delivery.results import CallResult
from kassa.errors import ValidationFailed
from kassa.orders import rules
from kassa.orders.document import Meta, Order, Validation
from kassa.state import AppState

log = logging.getLogger("kassa.validation")


@dataclass
class ValidationResult:
    """``errors``: ValidationError objects (built-ins first, then callbacks in order);
    ``warnings``: ``validation-unavailable:<validation id>`` tokens (fail-open policy)."""

    errors: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.errors


@dataclass
class _Outcome:
    errors: list[dict[str, Any]] = field(default_factory=list)
    warning: str | None = None


def _error(code: str, adapter_id: Any, message: Any = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "adapterId": adapter_id}
    if isinstance(message, str):
        error["message"] = message
    return error


def _usable(item: Any) -> bool:
    return isinstance(item, dict) and isinstance(item.get("code"), str) and bool(item["code"])


def rejection_errors(body: bytes, adapter_id: Any) -> list[dict[str, Any]]:
    """The ValidationErrors of a 4xx answer (semantics §6.3); never empty."""
    parsed: Any = None
    try:
        parsed = jsonutil.loads(body) if body.strip() else None
    except (ValueError, UnicodeDecodeError):
        parsed = None
    if _usable(parsed):
        return [_error(parsed["code"], adapter_id, parsed.get("message"))]
    if isinstance(parsed, list):
        found = [_error(i["code"], adapter_id, i.get("message")) for i in parsed if _usable(i)]
        if found:
            return found
    return [_error("validation-failed", adapter_id)]


def _failure(result: CallResult) -> str | None:
    """Why the call counts as unavailable, or ``None`` when its answer is usable (2xx / 4xx)."""
    if result.reason == "too-large" or result.status is None:
        return result.error or result.reason or "no response"
    if 200 <= result.status < 300 or 400 <= result.status < 500:
        return None
    return result.error or f"HTTP {result.status}"


async def _call(
    state: AppState,
    order: Order,
    body: bytes,
    validation: Validation,
) -> _Outcome:
    settings = state.settings
    adapter_id = validation.get("adapterId")
    url = str(validation.get("invoke") or validation.get("url") or "")
    try:
        result = await callouts.call_for_order(state, VALIDATION, url, order, body)
    except Exception as exc:  # a call that cannot even be made is an unavailable callback
        log.exception(
            "validation call could not be made", extra={"validation_id": validation["id"]}
        )
        failure: str | None = f"{type(exc).__name__}: {exc}"
        status: int | None = None
    else:
        failure = _failure(result)
        status = result.status
        if failure is None:
            if result.ok:
                return _Outcome()
            return _Outcome(rejection_errors(result.body, adapter_id))
    closed = settings.validation_failure_policy == "closed"
    log.warning(
        "validation callback unavailable",
        extra={
            "validation_id": validation["id"],
            "adapter_id": adapter_id,
            "order_id": order["id"],
            "reason": failure,
            "upstream_status": status,
            "policy": "closed" if closed else "open",
        },
    )
    if closed:
        return _Outcome([_error("validation-unavailable", adapter_id)])
    return _Outcome(warning=f"validation-unavailable:{validation['id']}")


async def validate(state: AppState, order: Order) -> ValidationResult:
    """Run the built-in checks and every validation callback of ``order`` (semantics §6)."""
    result = ValidationResult(errors=rules.builtin_validation(order))
    validations = list(order.get("validations") or ())
    if not validations:
        return result
    body = jsonutil.dumps(order)
    outcomes = await asyncio.gather(*(_call(state, order, body, v) for v in validations))
    for outcome in outcomes:
        result.errors.extend(outcome.errors)
        if outcome.warning is not None:
            result.warnings.append(outcome.warning)
    return result


def _refused(before: Order, after: Order, errors: Any) -> ValidationFailed:
    return ValidationFailed(
        f"The order cannot move from {rules.status_of(before).value} to "
        f"{rules.status_of(after).value}: " + ", ".join(e["code"] for e in errors),
        errors=errors,
    )


class ValidationStage:
    """Validation on leaving ``checkout`` as a stage of the write pipeline (semantics §4.1, §6):
    the built-in checks alone when the order has no callbacks, else all of them, after hooks."""

    def calls_out(self, stored: Order, proposal: Order, suppressed: str | None) -> bool:
        return rules.leaves_checkout(stored, proposal) and bool(proposal.get("validations"))

    def check(self, stored: Order, proposal: Order) -> None:
        if rules.leaves_checkout(stored, proposal):
            errors = rules.builtin_validation(proposal)
            if errors:
                raise _refused(stored, proposal, errors)

    async def run(
        self,
        state: AppState,
        stored: Order,
        passed: Passed,
        meta: Meta,
        suppressed: str | None,
    ) -> None:
        if not rules.leaves_checkout(stored, passed.proposal):
            return
        checked = await validate(state, passed.proposal)
        passed.warnings.extend(checked.warnings)
        if checked.errors:
            raise _refused(stored, passed.proposal, checked.errors)
