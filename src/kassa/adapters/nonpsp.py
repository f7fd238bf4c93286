"""The built-in Non-PSP adapter ``nonpsp_adapter`` (adapters.md §4).

Completes orders at once for merchant-managed payment methods (invoice, pay in store, account
credit, testing). Routes N1-N8 below ``nonpsp_adapter_path_prefix``; its state lives in the
order (the payment, ``attributes.nonpsp_adapter``, three hooks) and in the channel's
configuration ``nonpsp_adapter``, read on every request. No payment actions.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from kassa import jsonutil
from kassa.adapters import calls, documents
from kassa.adapters.calls import AdapterContext, ClientCall
from kassa.adapters.converge import OrderSession, converge
from kassa.adapters.documents import status_of
from kassa.adapters.errors import (
    AdapterInactive,
    PaymentMethodRequired,
    PaymentNotFound,
)
from kassa.adapters.remainder import amount_patch, remainder
from kassa.configuration import schemas
from kassa.errors import (
    ConfigurationNotFound,
    InvalidRequest,
    InvalidStateTransition,
    OrderNotEditable,
    field_error,
)
from kassa.idempotency import ABSENT, Outcome

ADAPTER_ID = "nonpsp_adapter"
ORDERS = "/api/checkout/v1/orders/{order_id}/payments"
CALLBACKS = "/api/checkout/v1/callback/orders/{order_id}/payments/{payment_id}"
SCHEMA_PATH = f"/openapi/v1/schemas/{ADAPTER_ID}.json"

_NOT_FOUND = frozenset({"order-not-found", "payment-not-found"})
CREATE_ERRORS = _NOT_FOUND | {"order-not-editable", "limit-exceeded", "hook-rejected"}
SELECT_ERRORS = _NOT_FOUND | {"order-not-editable", "invalid-state-transition", "hook-rejected"}
COMPLETE_ERRORS = SELECT_ERRORS | {"validation-failed", "invalid-request"}
REMOVE_ERRORS = SELECT_ERRORS | {"hook-not-found"}

_OPEN = {"intent", "processing", "pending"}
_ENDED = {"removed", "declined", "failed", "cancelled"}

# the pure part ----------------------------------------------------------------------------------


def methods_of(config: dict[str, Any] | None) -> list[str]:
    methods = (config or {}).get("methods")
    if not isinstance(methods, list):
        return []
    return [
        m["identifier"]
        for m in methods
        if isinstance(m, dict) and isinstance(m.get("identifier"), str)
    ]


def preselected(config: dict[str, Any] | None) -> str | None:
    for m in (config or {}).get("methods") or []:
        if (
            isinstance(m, dict)
            and m.get("preSelected") is True
            and isinstance(m.get("identifier"), str)
        ):
            return str(m["identifier"])
    return None


def stored_choice(payment: dict[str, Any]) -> str | None:
    own = ((payment.get("attributes") or {}).get(ADAPTER_ID)) or {}
    choice = own.get("selectedPaymentMethod") if isinstance(own, dict) else None
    return choice if isinstance(choice, str) else None


def selected(payment: dict[str, Any], config: dict[str, Any] | None) -> str | None:
    return stored_choice(payment) or preselected(config)


def view(payment: dict[str, Any], config: dict[str, Any] | None) -> dict[str, Any]:
    """The NonpspPayment answer of N1-N3."""
    body: dict[str, Any] = {
        "paymentId": payment["id"],
        "paymentMethods": [{"identifier": m} for m in methods_of(config)],
    }
    choice = selected(payment, config)
    if choice is not None:
        body["selectedPaymentMethod"] = choice
    for name in ("state", "amount", "currency"):
        if name in payment:
            body[name] = payment[name]
    return body


def own_payment(order: dict[str, Any], payment_id: str) -> tuple[int, dict[str, Any]]:
    found = documents.owned(order, "payments", ADAPTER_ID, payment_id)
    if found is None:
        raise PaymentNotFound(payment_id)
    return found


def current_payment(order: dict[str, Any]) -> dict[str, Any] | None:
    return documents.current(order, "payments", ADAPTER_ID)


def hooks_for(callback_base: str, order_id: str, payment_id: str) -> list[dict[str, Any]]:
    """The hooks of §4.3 for one payment."""
    base = callback_base + CALLBACKS.format(order_id=order_id, payment_id=payment_id)
    return documents.hooks(
        ADAPTER_ID,
        "/payments",
        base,
        payment_id,
        (
            ("/total", "update-payment", "update-payment-total"),
            ("/payments", "update-payment", "update-payment-payments"),
            ("/state", "state-changed", "state-changed"),
        ),
    )


def update_payment(order: dict[str, Any], payment_id: str) -> list[dict[str, Any]]:
    """N6: the patch that keeps the payment covering the remainder."""
    return amount_patch(order, payment_id, _OPEN)


def state_changed(order: dict[str, Any], payment_id: str) -> list[dict[str, Any]]:
    """N7: the payment follows the order's end states."""
    status = status_of(order)
    for i, payment in enumerate(order.get("payments") or []):
        if payment.get("id") != payment_id or not isinstance(payment, dict):
            continue
        state = payment.get("state")
        if status in {"accepted", "completed"} and state in {"intent", "processing"}:
            return [{"op": "replace", "path": f"/payments/{i}/state", "value": "confirmed"}]
        if status in {"declined", "removed"} and state in {"intent", "processing", "confirmed"}:
            return [{"op": "replace", "path": f"/payments/{i}/state", "value": "cancelled"}]
        return []
    return []


# the routes -------------------------------------------------------------------------------------


def mount(ctx: AdapterContext) -> Any:
    """The adapter's router (FastAPI ``APIRouter``) for ``ctx``."""
    router = calls.router_for(ctx)
    upstream = ctx.upstream

    async def configuration(call: ClientCall) -> dict[str, Any] | None:
        return await upstream.configuration(call.caller, ADAPTER_ID)

    async def payment_view(s: OrderSession, payment_id: str, config: Any) -> dict[str, Any]:
        reply = await upstream.send(
            s.caller, "GET", upstream.order_url(s.order_id, f"/payments/{payment_id}")
        )
        if not reply.ok or not isinstance(reply.body, dict):
            raise reply.error(s.listed)
        return view(reply.body, config)

    @router.post(ORDERS)
    async def create(order_id: str, request: Request) -> Response:
        call = await calls.start(ctx, request, order_id, write=True, listed=CREATE_ERRORS)

        async def handler(call: ClientCall) -> Outcome:
            config = await configuration(call)
            if config is None:
                raise ConfigurationNotFound(ADAPTER_ID)
            if config.get("active") is not True:
                raise AdapterInactive(ADAPTER_ID)

            async def plan(s: OrderSession) -> str:
                if status_of(s.order) != "checkout":
                    raise OrderNotEditable(status_of(s.order), "Creating a payment")
                payment = current_payment(s.order)
                hooks = s.order.get("hooks") or []
                if payment is None:
                    body = {
                        "adapterId": ADAPTER_ID,
                        "type": "default",
                        "state": "intent",
                        "name": preselected(config) or ADAPTER_ID,
                        "amount": remainder(s.order),
                        "attributes": {ADAPTER_ID: {}},
                    }
                    reply = await s.write("POST", "/payments", body)
                    payment_id = str(reply.body["id"])
                    hooks = []
                else:
                    payment_id = str(payment["id"])
                present = {h.get("reference") for h in hooks if h.get("adapterId") == ADAPTER_ID}
                for hook in hooks_for(ctx.callback_base, order_id, payment_id):
                    if hook["reference"] not in present:
                        await s.write("POST", "/hooks", hook)
                return payment_id

            payment_id = await converge(call.session, plan)
            return calls.json_outcome(await payment_view(call.session, payment_id, config))

        return await calls.run(ctx, call, handler)

    @router.get(ORDERS + "/{payment_id}")
    async def get(order_id: str, payment_id: str, request: Request) -> Response:
        call = await calls.start(ctx, request, order_id, listed=_NOT_FOUND)
        assert isinstance(call, ClientCall)
        _, payment = own_payment(call.session.order, payment_id)
        body = view(payment, await configuration(call))
        return Response(jsonutil.dumps(body), media_type="application/json")

    @router.put(ORDERS + "/{payment_id}")
    async def select(order_id: str, payment_id: str, request: Request) -> Response:
        call = await calls.start(
            ctx, request, order_id, body=True, write=True, listed=SELECT_ERRORS
        )

        async def handler(call: ClientCall) -> Outcome:
            config = await configuration(call)
            choice = call.body.get("selectedPaymentMethod") if isinstance(call.body, dict) else None
            if not isinstance(choice, str) or choice not in methods_of(config):
                problem = "required" if choice is None else "not a configured payment method"
                raise InvalidRequest(
                    f"selectedPaymentMethod is {problem}.",
                    errors=[field_error("/selectedPaymentMethod", problem)],
                )
            if call.body is ABSENT:  # pragma: no cover - caught above
                raise InvalidRequest("A JSON body is required.")

            async def plan(s: OrderSession) -> dict[str, Any]:
                _, payment = own_payment(s.order, payment_id)
                if status_of(s.order) != "checkout":
                    raise OrderNotEditable(status_of(s.order), "Selecting a payment method")
                if payment.get("state") == "removed":
                    raise InvalidStateTransition("removed", "removed")
                if stored_choice(payment) == choice:
                    return payment
                attributes = dict(payment.get("attributes") or {})
                mine = attributes.get(ADAPTER_ID)
                attributes[ADAPTER_ID] = {
                    **(mine if isinstance(mine, dict) else {}),
                    "selectedPaymentMethod": choice,
                }
                updated = {**payment, "name": choice, "attributes": attributes}
                reply = await s.write("PUT", f"/payments/{payment_id}", updated)
                return dict(reply.body)

            payment = await converge(call.session, plan)
            return calls.json_outcome(view(payment, config))

        return await calls.run(ctx, call, handler)

    @router.post(ORDERS + "/{payment_id}/complete")
    async def complete(order_id: str, payment_id: str, request: Request) -> Response:
        call = await calls.start(ctx, request, order_id, write=True, listed=COMPLETE_ERRORS)

        async def handler(call: ClientCall) -> Outcome:
            config = await configuration(call)

            async def plan(s: OrderSession) -> None:
                _, payment = own_payment(s.order, payment_id)
                status = status_of(s.order)
                if status in {"declined", "removed"}:
                    raise OrderNotEditable(status, "Completing a payment")
                if payment.get("state") in _ENDED:
                    raise InvalidStateTransition(str(payment.get("state")), "confirmed")
                if status == "completed" and payment.get("state") == "confirmed":
                    return
                method = selected(payment, config)
                if method is None:
                    raise PaymentMethodRequired()
                # 2. checkout -> processing: full validation; prices freeze
                if status == "checkout":
                    await s.write("PUT", "/state", {"currentStatus": "processing"})
                    await s.reread()
                    _, payment = own_payment(s.order, payment_id)
                # 3. the payment confirmed
                if payment.get("state") != "confirmed":
                    reply = await s.write(
                        "PUT", f"/payments/{payment_id}", {**payment, "state": "confirmed"}
                    )
                    payment = dict(reply.body)
                # 4. one confirm transaction
                path = f"/payments/{payment_id}/transactions"
                listed = await upstream.send(s.caller, "GET", upstream.order_url(order_id, path))
                if not listed.ok or not isinstance(listed.body, list):
                    raise listed.error(s.listed)
                if not any(
                    t.get("event") == "confirm" and t.get("isSuccess") is True for t in listed.body
                ):
                    transaction = {
                        "event": "confirm",
                        "isSuccess": True,
                        "amount": payment.get("amount", 0),
                        "pspEvent": "complete",
                        "pspStatus": method,
                    }
                    await s.write("POST", path, transaction)
                # 5. completed (no validation from processing)
                if status_of(s.order) != "completed":
                    await s.write("PUT", "/state", {"currentStatus": "completed"})

            await converge(call.session, plan)
            return calls.empty_outcome()

        return await calls.run(ctx, call, handler)

    @router.post(ORDERS + "/{payment_id}/remove")
    async def remove(order_id: str, payment_id: str, request: Request) -> Response:
        call = await calls.start(ctx, request, order_id, write=True, listed=REMOVE_ERRORS)

        async def handler(call: ClientCall) -> Outcome:
            async def plan(s: OrderSession) -> None:
                _, payment = own_payment(s.order, payment_id)
                status = status_of(s.order)
                if status not in {"checkout", "processing"}:
                    raise OrderNotEditable(status, "Removing a payment")
                if payment.get("state") != "removed":
                    await s.write("PUT", f"/payments/{payment_id}", {**payment, "state": "removed"})
                prefix = f"{ADAPTER_ID}/{payment_id}/"
                for hook in s.order.get("hooks") or []:
                    reference = hook.get("reference")
                    if hook.get("adapterId") == ADAPTER_ID and str(reference or "").startswith(
                        prefix
                    ):
                        await s.write("DELETE", f"/hooks/{hook['id']}", has_body=False)

            await converge(call.session, plan)
            return calls.empty_outcome()

        return await calls.run(ctx, call, handler)

    async def callback(order_id: str, request: Request) -> dict[str, Any]:
        raw = await calls.read_body(request)
        await calls.authenticate_callback(ctx, request, raw, order_id)
        order = calls.parse_json(request, raw)
        if not isinstance(order, dict) or not isinstance(order.get("payments", []), list):
            raise InvalidRequest(
                "The body must be an order object.", errors=[field_error("", "not an order")]
            )
        return order

    @router.post(CALLBACKS + "/update-payment")
    async def on_update(order_id: str, payment_id: str, request: Request) -> Response:
        order = await callback(order_id, request)
        return Response(jsonutil.dumps(update_payment(order, payment_id)), media_type=_JSON)

    @router.post(CALLBACKS + "/state-changed")
    async def on_state(order_id: str, payment_id: str, request: Request) -> Response:
        order = await callback(order_id, request)
        return Response(jsonutil.dumps(state_changed(order, payment_id)), media_type=_JSON)

    @router.get(SCHEMA_PATH)
    async def schema() -> Response:
        return Response(
            schemas.schema_bytes(ADAPTER_ID),
            media_type=schemas.MEDIA_TYPE,
            headers={"Cache-Control": schemas.CACHE_CONTROL},
        )

    return router


_JSON = "application/json"
