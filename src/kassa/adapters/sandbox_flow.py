"""The steps the sandbox PSP's routes share (adapters.md §5.2-§5.3): reading the ledger,
writing the payment with its actions, the approve and decline paths, and executing an action.

Every step reads the order as the session last saw it and writes through the Order API under
``If-Match``; a step already done is skipped, so a re-planned, repeated or concurrent run
converges on one result (never two ``open`` transactions for one authorisation, never a second
capture).
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

from kassa.adapters import sandbox
from kassa.adapters.calls import AdapterContext
from kassa.adapters.client import Caller
from kassa.adapters.converge import OrderSession, converge
from kassa.adapters.documents import status_of
from kassa.adapters.errors import AdapterInactive
from kassa.adapters.sandbox import (
    ADAPTER_ID,
    CHALLENGE,
    RESOLVED,
    ActionNotAvailable,
    own_payment,
)
from kassa.errors import ConfigurationNotFound


class Flow:
    """One mounted sandbox PSP's shared steps."""

    def __init__(self, ctx: AdapterContext) -> None:
        self.ctx = ctx
        self.upstream = ctx.upstream

    async def configuration(self, caller: Caller) -> dict[str, Any] | None:
        return await self.upstream.configuration(caller, ADAPTER_ID)

    async def active_configuration(self, caller: Caller) -> dict[str, Any]:
        config = await self.configuration(caller)
        if config is None:
            raise ConfigurationNotFound(ADAPTER_ID)
        if config.get("active") is not True:
            raise AdapterInactive(ADAPTER_ID)
        return config

    async def token_key(self) -> bytes:
        return sandbox.challenge_key(await self.upstream.key())

    async def redirect_url(self, caller: Caller, order_id: str, payment_id: str) -> str:
        token = sandbox.make_token(
            await self.token_key(),
            caller.merchant,
            caller.channel,
            order_id,
            payment_id,
            time.time(),
        )
        return (self.ctx.public_base_url or "") + self.ctx.prefix + CHALLENGE.format(token=token)

    async def transactions(self, s: OrderSession, payment_id: str) -> list[dict[str, Any]]:
        url = self.upstream.order_url(s.order_id, f"/payments/{payment_id}/transactions")
        reply = await self.upstream.send(s.caller, "GET", url)
        if not reply.ok or not isinstance(reply.body, list):
            raise reply.error(s.listed)
        return [t for t in reply.body if isinstance(t, dict)]

    async def put_payment(
        self, s: OrderSession, payment: dict[str, Any], state: str, captured: Decimal = Decimal(0)
    ) -> dict[str, Any]:
        actions = sandbox.actions_for(self.ctx.callback_base, s.order_id, payment, state, captured)
        reply = await s.write(
            "PUT", f"/payments/{payment['id']}", {**payment, "state": state, "actions": actions}
        )
        return self.remember(s, dict(reply.body))

    @staticmethod
    def remember(s: OrderSession, payment: dict[str, Any]) -> dict[str, Any]:
        """Keep the session's order in step with a payment just written (later steps read it)."""
        s.order = {
            **s.order,
            "payments": [
                payment if p.get("id") == payment.get("id") else p
                for p in s.order.get("payments") or []
            ],
        }
        return payment

    async def finish(self, s: OrderSession, payment_id: str, outcome: str, attempt: int) -> None:
        """The approve or decline path (§5.2); a path reached twice writes nothing."""
        _, payment = own_payment(s.order, payment_id)
        state = str(payment.get("state"))
        if outcome == "approve":
            if state not in RESOLVED:
                if state not in {"intent", "processing", "pending"}:
                    return  # declined or ended meanwhile: nothing to approve
                ledger = await self.transactions(s, payment_id)
                if not any(t.get("event") == "open" and t.get("isSuccess") for t in ledger):
                    request_json, response_json = sandbox.psp_exchange(payment, attempt, outcome)
                    await s.write(
                        "POST",
                        f"/payments/{payment_id}/transactions",
                        {
                            "event": "open",
                            "isSuccess": True,
                            "amount": payment.get("amount", 0),
                            "pspEvent": "authorisation",
                            "pspStatus": "AUTHORISED",
                            "requestJson": request_json,
                            "responseJson": response_json,
                        },
                    )
                await self.put_payment(s, payment, "reserved")
            if status_of(s.order) == "processing":
                await s.write("PUT", "/state", {"currentStatus": "accepted"})
            return
        if state not in {"declined", "intent", "processing", "pending"}:
            return  # approved meanwhile: never moves backwards
        if state != "declined":
            ledger = await self.transactions(s, payment_id)
            this_attempt = [
                t for t in ledger if t.get("event") == "open" and sandbox.attempt_of(t) == attempt
            ]
            if any(t.get("isSuccess") for t in this_attempt):
                return  # approved meanwhile (its payment state is being written)
            if not this_attempt:
                request_json, response_json = sandbox.psp_exchange(payment, attempt, outcome)
                await s.write(
                    "POST",
                    f"/payments/{payment_id}/transactions",
                    {
                        "event": "open",
                        "isSuccess": False,
                        "amount": payment.get("amount", 0),
                        "pspEvent": "authorisation",
                        "pspStatus": "REFUSED",
                        "errorDetail": "card_declined",
                        "requestJson": request_json,
                        "responseJson": response_json,
                    },
                )
            await self.put_payment(s, payment, "declined")
        if status_of(s.order) == "processing":
            await s.write("PUT", "/state", {"currentStatus": "checkout"})

    async def callback_session(
        self, caller: Caller, order_id: str, listed: frozenset[str]
    ) -> OrderSession:
        session = OrderSession(self.upstream, caller, order_id, {}, None, listed)
        await session.reread()
        return session

    async def execute(
        self,
        s: OrderSession,
        payment_id: str,
        kind: str,
        requested: Decimal | None,
        idempotency_key: str | None,
    ) -> dict[str, Any]:
        """One action (§5.3): a ledger transaction, then the payment's state and actions."""
        done: dict[str, Any] = {}

        async def plan(s: OrderSession) -> dict[str, Any]:
            _, payment = own_payment(s.order, payment_id)
            state = str(payment.get("state"))
            amount = Decimal(str(payment.get("amount") or 0))
            ledger = await self.transactions(s, payment_id)
            captured, refunded = sandbox.sums(ledger)
            if "transaction" not in done and kind != "refresh":
                transaction: dict[str, Any]
                snapshot = next(
                    (a for a in payment.get("actions") or [] if a.get("type") == kind), None
                )
                if kind == "capture":
                    rest = amount - captured
                    if state not in {"reserved", "captured"} or rest <= 0:
                        raise ActionNotAvailable(state, "Nothing is left to capture.")
                    value = requested if requested is not None else rest
                    transaction = {"event": "capture", "pspStatus": "CAPTURED"}
                elif kind == "refund":
                    rest = captured - refunded
                    if state not in {"captured", "credited"} or rest <= 0:
                        raise ActionNotAvailable(state, "Nothing is left to refund.")
                    value = requested if requested is not None else rest
                    transaction = {"event": "refund", "pspStatus": "REFUNDED"}
                else:
                    if state != "reserved" or captured > 0:
                        raise ActionNotAvailable(state, "Only an uncaptured reservation cancels.")
                    value = amount
                    transaction = {"event": "cancel", "pspStatus": "CANCELLED"}
                transaction.update(
                    {
                        "isSuccess": True,
                        "amount": value,
                        "pspEvent": kind,
                        "paymentAction": snapshot,
                    }
                )
                if snapshot is None:
                    del transaction["paymentAction"]
                headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
                reply = await s.write(
                    "POST", f"/payments/{payment_id}/transactions", transaction, headers=headers
                )
                done["transaction"] = transaction
                # the ledger now: the one read and the transaction op 30 answers. The POST was
                # conditional on the order as read before the ledger, so nothing came between;
                # a replay (Idempotency-Key) answers a transaction the ledger already holds.
                appended = reply.body
                if isinstance(appended, dict) and all(
                    t.get("id") != appended.get("id") for t in ledger
                ):
                    ledger = [*ledger, appended]
                captured, refunded = sandbox.sums(ledger)
            if kind == "capture" and state == "reserved":
                state = "captured"
            elif kind == "refund" and state in {"captured", "credited"}:
                state = "refunded" if refunded >= captured else "credited"
            elif kind == "cancel" and state == "reserved":
                state = "cancelled"
            wanted = sandbox.actions_for(
                self.ctx.callback_base, s.order_id, payment, state, captured
            )
            if state != payment.get("state") or not sandbox.same_actions(
                payment.get("actions"), wanted
            ):
                payment = await self.put_payment(s, payment, state, captured)
            transaction = done.get("transaction") or {}
            return {
                "action": kind,
                "amount": transaction.get("amount", 0),
                "pspStatus": transaction.get("pspStatus", str(payment.get("state")).upper()),
            }

        return await converge(s, plan)
