"""Calls made on behalf of an order: hooks, validation callbacks and payment actions.

Each is a signed POST to a registered URL with its placeholders replaced, carrying the order's
``x-merchant``/``x-channel``, answered within the kind's timeout and read up to 1 MiB
(semantics §5.5, §6.2, §8, §12). Notification deliveries differ (their own pool, fixed
``webhook-id``, 64 KiB) and live in ``kassa.delivery.loop``.
"""

from __future__ import annotations

from typing import Any

from kassa.delivery.outbound import CallResult
from kassa.delivery.signing import secrets_for
from kassa.state import AppState

MAX_RESPONSE = 1024 * 1024


def substitute(url: str, order_id: str, payment_id: str | None = None) -> str:
    """A callback URL with ``{order_id}``/``{order.id}`` (and the payment's) replaced."""
    url = url.replace("{order_id}", order_id).replace("{order.id}", order_id)
    if payment_id is not None:
        url = url.replace("{payment_id}", payment_id).replace("{payment.id}", payment_id)
    return url


async def call_for_order(
    state: AppState,
    kind: str,
    url: str,
    order: dict[str, Any],
    body: bytes,
    *,
    timeout_s: float,
    payment_id: str | None = None,
) -> CallResult:
    return await state.client().post(
        substitute(url, order["id"], payment_id),
        body,
        kind=kind,
        headers={"x-merchant": order["merchant"], "x-channel": order["channel"]},
        secrets=await secrets_for(state, order["merchant"]),
        timeout_s=timeout_s,
        max_bytes=MAX_RESPONSE,
    )
