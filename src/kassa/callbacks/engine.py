"""The callback stages a write's proposal passes before it commits (semantics §4.1 step 2).

Each stage knows, purely, whether a change makes it call out (``calls_out``) and what it checks
when it does not (``check``); ``run`` makes its calls with no database transaction open and
updates the ``Passed`` record (a hook may patch the proposal, a validation may veto it by
raising). The unit of work keeps a write on the locked path unless some stage calls out, and in
the attempt loop runs the stages in this order. A new synchronous callback kind is a row in
``kassa.callbacks.kinds``, a module with its stage, and one entry in ``STAGES``.
"""

from __future__ import annotations

from typing import Protocol

from kassa.callbacks.hooks import HookStage
from kassa.callbacks.passed import Passed
from kassa.callbacks.validations import ValidationStage
from kassa.orders.document import Meta, Order
from kassa.state import AppState


class Stage(Protocol):
    def calls_out(self, stored: Order, proposal: Order, suppressed: str | None) -> bool: ...

    def check(self, stored: Order, proposal: Order) -> None: ...

    async def run(
        self,
        state: AppState,
        stored: Order,
        passed: Passed,
        meta: Meta,
        suppressed: str | None,
    ) -> None: ...


STAGES: tuple[Stage, ...] = (HookStage(), ValidationStage())


def calls_out(stored: Order, proposal: Order, suppressed: str | None) -> bool:
    """Whether the write ``stored`` → ``proposal`` must leave the locked path."""
    return any(stage.calls_out(stored, proposal, suppressed) for stage in STAGES)


def check(stored: Order, proposal: Order) -> None:
    """The stages' own checks of a write that calls out to nothing."""
    for stage in STAGES:
        stage.check(stored, proposal)


async def run(
    state: AppState,
    stored: Order,
    proposal: Order,
    meta: Meta,
    suppressed: str | None,
) -> Passed:
    passed = Passed(proposal)
    for stage in STAGES:
        await stage.run(state, stored, passed, meta, suppressed)
    return passed
