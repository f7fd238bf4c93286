"""Hooks (semantics §5): which hooks a change calls, in which order, and what their answers do.

``run`` is called with the stored order ``S`` and the proposal ``P`` of one write attempt, with
no database transaction open. It calls each candidate hook in turn (sequentially, at most once
per attempt), applies approved patches to ``P`` (``patching.apply_hook_patch`` checks them) and
re-evaluates the candidates after each patch. A 4xx answer refuses the write
(``HookRejected``); a failure follows ``hook_failure_policy``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from kassa import jsonutil
from kassa.callbacks import callouts
from kassa.callbacks.changes import changed, segments
from kassa.callbacks.kinds import HOOK
from kassa.callbacks.passed import Passed
from kassa.callbacks.patching import InvalidPatch, apply_hook_patch
from kassa.delivery.results import CallResult
from kassa.errors import KassaError
from kassa.orders.document import Hook, Meta, Order
from kassa.state import AppState

log = logging.getLogger("kassa.hooks")

MAX_MESSAGE = 1000
_RANKS = {"state": 0, "consents": 1, "customer": 2, "cart": 3, "shippings": 4, "payments": 5}


class HookRejected(KassaError):
    code, status, default_message = "hook-rejected", 400, "A hook rejected the change."


class HookFailed(KassaError):
    code, status, default_message = "hook-failed", 502, "A hook failed."


def rank(pointer: str | None) -> int:
    if pointer is None:
        return 7
    parts = segments(pointer)
    return _RANKS.get(parts[0], 6) if parts else 6


def path_of(hook: Hook) -> str:
    return str(hook.get("scope") or hook.get("subscribeTo"))


@dataclass
class HookRun:
    """What the hooks of one attempt did: for the history entry and ``Kassa-Warnings``."""

    calls: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def candidates(
    stored: Order,
    proposal: Order,
    suppressed: str | None,
    called: set[str],
) -> list[Hook]:
    """Hooks of ``stored`` to call now, in call order (semantics §5.2, §5.4)."""
    found = []
    for position, hook in enumerate(stored.get("hooks") or ()):
        if hook["id"] in called:
            continue
        if suppressed is not None and hook.get("adapterId") == suppressed:
            continue
        path = path_of(hook)
        if changed(stored, proposal, path):
            found.append((rank(path), rank(hook.get("target")), position, hook))
    found.sort(key=lambda entry: entry[:3])
    return [entry[3] for entry in found]


def _rejection_message(result: CallResult) -> str:
    try:
        body = jsonutil.loads(result.body) if result.body else None
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("message"), str) and body["message"]:
        return str(body["message"])[:MAX_MESSAGE]
    return f"A hook rejected the change (HTTP {result.status})."


def _patch_of(result: CallResult) -> list[Any] | None:
    """The JSON Patch a 2xx answer carries, or ``None`` for an approval without changes."""
    if not result.body.strip():
        return None
    try:
        body = jsonutil.loads(result.body)
    except ValueError:
        return None  # non-JSON text approves
    if isinstance(body, list) and body:
        return body
    return None


async def run(
    state: AppState,
    stored: Order,
    proposal: Order,
    meta: Meta,
    *,
    suppressed: str | None,
) -> tuple[Order, HookRun]:
    """Call the hooks for ``stored`` → ``proposal``; returns the final proposal and the record."""
    settings = state.settings
    outcome = HookRun()
    called: set[str] = set()
    while True:
        pending = candidates(stored, proposal, suppressed, called)
        if not pending:
            return proposal, outcome
        hook = pending[0]
        called.add(hook["id"])
        result = await callouts.call_for_order(
            state, HOOK, hook["invoke"], proposal, jsonutil.dumps(proposal)
        )
        adapter_id = hook.get("adapterId")
        record = {"hookId": hook["id"], "adapterId": adapter_id}
        failure: str | None = None
        if (
            result.status is not None
            and 400 <= result.status < 500
            and result.reason != "too-large"
        ):
            raise HookRejected(
                _rejection_message(result),
                adapterId=adapter_id,
                hookId=hook["id"],
                upstreamStatus=result.status,
            )
        if result.ok:
            patch = _patch_of(result)
            if patch is None:
                outcome.calls.append({**record, "outcome": "approved"})
                continue
            try:
                proposal = apply_hook_patch(
                    stored, proposal, meta, patch, settings.payment_state_enforcement
                )
            except InvalidPatch as exc:
                failure = f"invalid patch: {exc}"
            else:
                outcome.calls.append({**record, "outcome": "patched"})
                continue
        else:
            failure = result.error or f"HTTP {result.status}"
        log.warning(
            "hook failed",
            extra={"hook_id": hook["id"], "adapter_id": adapter_id, "reason": failure},
        )
        if settings.hook_failure_policy == "closed":
            raise HookFailed(
                f"Hook {hook['id']} failed: {failure}",
                adapterId=adapter_id,
                hookId=hook["id"],
                upstreamStatus=result.status,
            )
        outcome.calls.append({**record, "outcome": "failed"})
        outcome.warnings.append(f"hook-failed:{hook['id']}")


class HookStage:
    """Hooks as a stage of the write pipeline (``kassa.callbacks.engine``)."""

    def calls_out(self, stored: Order, proposal: Order, suppressed: str | None) -> bool:
        return bool(candidates(stored, proposal, suppressed, set()))

    def check(self, stored: Order, proposal: Order) -> None:
        """Nothing to check when no hook is called."""

    async def run(
        self,
        state: AppState,
        stored: Order,
        passed: Passed,
        meta: Meta,
        suppressed: str | None,
    ) -> None:
        passed.proposal, record = await run(
            state, stored, passed.proposal, meta, suppressed=suppressed
        )
        passed.hook_calls.extend(record.calls)
        passed.warnings.extend(record.warnings)
