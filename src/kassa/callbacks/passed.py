"""What the callback stages of one write attempt made of its proposal (plain data)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kassa.orders.document import Order


@dataclass
class Passed:
    """The proposal after the stages so far, the ``Kassa-Warnings`` tokens they raised, and the
    hook calls the history entry lists."""

    proposal: Order
    warnings: list[str] = field(default_factory=list)
    hook_calls: list[dict[str, Any]] = field(default_factory=list)
