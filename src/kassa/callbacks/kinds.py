"""The kinds of outbound call kassa makes on behalf of an order, in one table.

Each kind says where its registrations live in the order (if they do), how long kassa waits,
how much of the answer it reads, whether an answer can veto the write, and whether the call is
signed. A new kind is a row here plus the module that decides what its answers mean.
``substitute`` fills the URL placeholders every kind shares (semantics §5.5, §7.4, §8).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

MIB: Final = 1024 * 1024


@dataclass(frozen=True)
class Kind:
    name: str  # the ``kind`` label of outbound metrics and logs
    title: str  # how messages name one registration
    collection: str | None  # the order's array of registrations (None: not registered there)
    not_found: str | None  # the code of the 404 for an unknown registration id
    timeout_setting: str  # the Settings field holding the timeout in seconds
    max_response: int  # bytes of the answer read at most
    vetoes: bool  # a 4xx answer refuses the write (or fails validation)
    synchronous: bool  # called while the write waits (False: delivered after commit)
    signed: bool = True  # Standard Webhooks signature


HOOK: Final = Kind(
    "hook", "Hook", "hooks", "hook-not-found", "hook_timeout", MIB, vetoes=True, synchronous=True
)
VALIDATION: Final = Kind(
    "validation",
    "Validation",
    "validations",
    "validation-not-found",
    "validation_timeout",
    MIB,
    vetoes=True,
    synchronous=True,
)
NOTIFICATION: Final = Kind(
    "notification",
    "Notification",
    "notifications",
    "notification-not-found",
    "delivery_timeout",
    64 * 1024,
    vetoes=False,
    synchronous=False,
)
ACTION: Final = Kind(
    "action", "Action", None, None, "action_timeout", MIB, vetoes=False, synchronous=True
)

KINDS: Final = {kind.name: kind for kind in (HOOK, VALIDATION, NOTIFICATION, ACTION)}
# the registered kinds by the order array they live in
BY_COLLECTION: Final = {k.collection: k for k in KINDS.values() if k.collection is not None}


def substitute(url: str, order_id: str, payment_id: str | None = None) -> str:
    """A callback URL with ``{order_id}``/``{order.id}`` (and the payment's) replaced."""
    url = url.replace("{order_id}", order_id).replace("{order.id}", order_id)
    if payment_id is not None:
        url = url.replace("{payment_id}", payment_id).replace("{payment.id}", payment_id)
    return url
