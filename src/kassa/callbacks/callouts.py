"""Calls made on behalf of an order: hooks, validation callbacks and payment actions.

Each is a signed POST to a registered URL with its placeholders replaced, carrying the order's
``x-merchant``/``x-channel``, answered within its kind's timeout and read up to its kind's limit
(``kassa.callbacks.kinds``; semantics §5.5, §6.2, §8, §12). Notification deliveries differ (their
own pool, fixed ``webhook-id``) and live in ``kassa.delivery.loop``.
"""

from __future__ import annotations

from kassa.callbacks.kinds import Kind, substitute
from kassa.delivery.results import CallResult
from kassa.delivery.signing import secrets_for
from kassa.orders.document import Order
from kassa.state import AppState


async def call_for_order(
    state: AppState,
    kind: Kind,
    url: str,
    order: Order,
    body: bytes,
    *,
    payment_id: str | None = None,
) -> CallResult:
    return await state.client().post(
        substitute(url, order["id"], payment_id),
        body,
        kind=kind.name,
        headers={"x-merchant": order["merchant"], "x-channel": order["channel"]},
        secrets=await secrets_for(state, order["merchant"]) if kind.signed else [],
        timeout_s=float(getattr(state.settings, kind.timeout_setting)),
        max_bytes=kind.max_response,
    )
