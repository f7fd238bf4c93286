"""The sandbox card PSP ``kassa_sandbox_psp_adapter`` (adapters.md §5): routes P1-P10.

A simulated card PSP with five scenarios (approve, decline, redirect to a hosted confirm page,
pending then pushes, review), payment actions that write ledger transactions, and the callbacks
of §5.6. Like every adapter it is a client of the Order API: its state lives in the order
(the payment, ``attributes.kassa_sandbox_psp_adapter``, its callbacks) and in the channel's
configuration; only the simulated PSP's pushes have a store of their own
(``kassa.adapters.sandbox_store``). The decisions are pure functions in
``kassa.adapters.sandbox``.
"""

from __future__ import annotations

import contextlib
import html
import time
from collections.abc import AsyncIterator
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qs, quote

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from kassa import ids, jsonutil
from kassa.adapters import calls, sandbox, sandbox_store
from kassa.adapters.calls import AdapterContext, ClientCall
from kassa.adapters.client import Caller
from kassa.adapters.converge import OrderSession, converge
from kassa.adapters.errors import AdapterInactive, PaymentNotFound
from kassa.adapters.remainder import remainder
from kassa.adapters.sandbox import (
    ACTIONS,
    CALLBACKS,
    CHALLENGE,
    ORDERS,
    ActionNotAvailable,
    PaymentInProgress,
    own,
    status_of,
    with_own,
)
from kassa.adapters.sandbox import (
    ADAPTER_ID as ADAPTER_ID,
)
from kassa.configuration import schemas
from kassa.errors import (
    ConfigurationNotFound,
    InvalidAmount,
    InvalidRequest,
    InvalidStateTransition,
    KassaError,
    OrderNotEditable,
    RouteNotFound,
    field_error,
)
from kassa.idempotency import ABSENT, Outcome

SCHEMA_PATH = f"/openapi/v1/schemas/{ADAPTER_ID}.json"
ACTION_TYPES = ("capture", "refund", "cancel", "refresh")

_NOT_FOUND = frozenset({"order-not-found", "payment-not-found"})
CREATE_ERRORS = _NOT_FOUND | {"order-not-editable", "limit-exceeded", "hook-rejected"}
AUTHORIZE_ERRORS = _NOT_FOUND | {
    "order-not-editable",
    "invalid-state-transition",
    "validation-failed",
    "hook-rejected",
}
REMOVE_ERRORS = _NOT_FOUND | {
    "order-not-editable",
    "invalid-state-transition",
    "hook-rejected",
    "hook-not-found",
    "validation-not-found",
    "notification-not-found",
}
ACTION_ERRORS = _NOT_FOUND | {
    "amount-exceeds-reserved",
    "amount-exceeds-captured",
    "invalid-amount",
    "order-not-editable",
    "invalid-state-transition",
    "idempotency-key-reuse",
}
_JSON = "application/json"
_RESOLVED = {"reserved", "captured", "credited", "refunded"}


def own_payment(order: dict[str, Any], payment_id: str) -> tuple[int, dict[str, Any]]:
    for i, payment in enumerate(order.get("payments") or []):
        if payment.get("id") == payment_id and payment.get("adapterId") == ADAPTER_ID:
            return i, dict(payment)
    raise PaymentNotFound(payment_id)


def callbacks_for(callback_base: str, order_id: str, payment_id: str) -> dict[str, list[Any]]:
    """The hooks, validation and notification of §5.6 for one payment, by order field."""
    base = callback_base + CALLBACKS.format(order_id=order_id, payment_id=payment_id)
    reference = f"{ADAPTER_ID}/{payment_id}/"
    hooks = [
        {
            "adapterId": ADAPTER_ID,
            "version": "v1",
            "scope": scope,
            "target": "/payments",
            "invoke": f"{base}/{callback}",
            "reference": reference + name,
        }
        for scope, callback, name in (
            ("/total", "update-payment", "update-payment-total"),
            ("/payments", "update-payment", "update-payment-payments"),
            ("/state", "state-changed", "state-changed"),
        )
    ]
    validation = {
        "adapterId": ADAPTER_ID,
        "invoke": f"{base}/validate",
        "description": "The sandbox payment can be authorised",
        "reference": reference + "validate",
    }
    notification = {
        "adapterId": ADAPTER_ID,
        "version": "v1",
        "scope": "/state/currentStatus",
        "schema": {"const": "completed"},
        "invoke": f"{base}/completed",
        "description": "Capture on completion when captureOnComplete is set",
        "reference": reference + "completed",
    }
    return {"hooks": hooks, "validations": [validation], "notifications": [notification]}


def _redirect_target(config: dict[str, Any] | None, approved: bool, claims: dict[str, str]) -> str:
    urls = (config or {}).get("redirectUrls") or {}
    template = urls.get("confirmationUrl" if approved else "checkoutUrl")
    if not isinstance(template, str) or not template:
        return ""
    for name, key in (("orderId", "o"), ("merchant", "m"), ("channel", "c")):
        template = template.replace("{" + name + "}", quote(claims[key], safe=""))
    return template


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    text = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title>"
        "<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;"
        "padding:0 1rem}button{font-size:1rem;padding:.5rem 1rem;margin-right:.5rem}</style>"
        f"</head><body data-testid='sandbox-challenge'>{body}</body></html>"
    )
    return HTMLResponse(text, status_code=status)


def _not_found_page() -> HTMLResponse:
    return _page(
        "Not found",
        "<h1 data-testid='challenge-not-found'>This confirmation link is not valid</h1>"
        "<p>It may have expired. Return to the shop and try again.</p>",
        404,
    )


def _amount_of(body: Any) -> Decimal | None:
    if body is ABSENT or body is None:
        return None
    if not isinstance(body, dict):
        raise InvalidRequest("The body must be a JSON object.", errors=[field_error("", "object")])
    value = body.get("amount")
    if value is None:
        return None
    try:
        amount = Decimal(str(value)) if not isinstance(value, bool) else None
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite() or amount <= 0:
        raise InvalidAmount("amount must be a positive number.")
    return amount


def mount(ctx: AdapterContext) -> Any:
    """The adapter's router (FastAPI ``APIRouter``) for ``ctx``."""
    router = calls.router_for(ctx)
    upstream = ctx.upstream
    store = sandbox_store.PushStore(ctx)

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        # merged into the application's lifespan by include_router: pushes due before a
        # restart go out without waiting for a request (routes start the loop too, for
        # servers run without lifespan events)
        store.ensure_running(app)
        try:
            yield
        finally:
            await store.aclose()

    router.lifespan_context = lifespan

    async def configuration(caller: Caller) -> dict[str, Any] | None:
        return await upstream.configuration(caller, ADAPTER_ID)

    async def active_configuration(caller: Caller) -> dict[str, Any]:
        config = await configuration(caller)
        if config is None:
            raise ConfigurationNotFound(ADAPTER_ID)
        if config.get("active") is not True:
            raise AdapterInactive(ADAPTER_ID)
        return config

    async def token_key() -> bytes:
        return sandbox.challenge_key(await upstream.key())

    async def redirect_url(caller: Caller, order_id: str, payment_id: str) -> str:
        token = sandbox.make_token(
            await token_key(), caller.merchant, caller.channel, order_id, payment_id, time.time()
        )
        return (ctx.public_base_url or "") + ctx.prefix + CHALLENGE.format(token=token)

    async def transactions(s: OrderSession, payment_id: str) -> list[dict[str, Any]]:
        url = upstream.order_url(s.order_id, f"/payments/{payment_id}/transactions")
        reply = await upstream.send(s.caller, "GET", url)
        if not reply.ok or not isinstance(reply.body, list):
            raise reply.error(s.listed)
        return [t for t in reply.body if isinstance(t, dict)]

    async def put_payment(
        s: OrderSession, payment: dict[str, Any], state: str, captured: Decimal = Decimal(0)
    ) -> dict[str, Any]:
        actions = sandbox.actions_for(ctx.callback_base, s.order_id, payment, state, captured)
        reply = await s.write(
            "PUT", f"/payments/{payment['id']}", {**payment, "state": state, "actions": actions}
        )
        return remember(s, dict(reply.body))

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

    async def finish(s: OrderSession, payment_id: str, outcome: str, attempt: int) -> None:
        """The approve or decline path (§5.2); a path reached twice writes nothing."""
        _, payment = own_payment(s.order, payment_id)
        state = str(payment.get("state"))
        if outcome == "approve":
            if state not in _RESOLVED:
                if state not in {"intent", "processing", "pending"}:
                    return  # declined or ended meanwhile: nothing to approve
                ledger = await transactions(s, payment_id)
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
                await put_payment(s, payment, "reserved")
            if status_of(s.order) == "processing":
                await s.write("PUT", "/state", {"currentStatus": "accepted"})
            return
        if state not in {"declined", "intent", "processing", "pending"}:
            return  # approved meanwhile: never moves backwards
        if state != "declined":
            ledger = await transactions(s, payment_id)
            if not any(
                t.get("event") == "open" and sandbox.attempt_of(t) == attempt for t in ledger
            ):
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
            await put_payment(s, payment, "declined")
        if status_of(s.order) == "processing":
            await s.write("PUT", "/state", {"currentStatus": "checkout"})

    async def callback_session(
        caller: Caller, order_id: str, listed: frozenset[str]
    ) -> OrderSession:
        session = OrderSession(upstream, caller, order_id, {}, None, listed)
        await session.reread()
        return session

    def authorize_result(payment: dict[str, Any], url: str | None) -> dict[str, Any]:
        state = str(payment.get("state"))
        scenario = own(payment).get("scenario")
        if state in _RESOLVED:
            result = "approved"
        elif state == "declined":
            result = "declined"
        elif state == "processing":
            result = "redirect"
        elif scenario == "review":
            result = "review"
        else:
            result = "pending"
        body: dict[str, Any] = {"paymentId": payment["id"], "result": result, "state": state}
        if result == "redirect" and url is not None:
            body["redirectUrl"] = url
        return body

    # P1 --------------------------------------------------------------------------------------

    @router.post(ORDERS)
    async def create(order_id: str, request: Request) -> Response:
        store.ensure_running(request.app)
        call = await calls.start(ctx, request, order_id, write=True, listed=CREATE_ERRORS)

        async def handler(call: ClientCall) -> Outcome:
            await active_configuration(call.caller)

            async def plan(s: OrderSession) -> dict[str, Any]:
                if status_of(s.order) != "checkout":
                    raise OrderNotEditable(status_of(s.order), "Creating a payment")
                payment = sandbox.current_payment(s.order)
                if payment is None:
                    body = {
                        "adapterId": ADAPTER_ID,
                        "type": "default",
                        "state": "intent",
                        "name": "Sandbox card",
                        "reference": ids.new_id("sbx_"),
                        "amount": remainder(s.order),
                        "attributes": {ADAPTER_ID: {}},
                    }
                    reply = await s.write("POST", "/payments", body)
                    payment_id = str(reply.body["id"])
                    await s.reread()
                    _, payment = own_payment(s.order, payment_id)
                payment_id = str(payment["id"])
                wanted = callbacks_for(ctx.callback_base, order_id, payment_id)
                for field, items in wanted.items():
                    present = {
                        x.get("reference")
                        for x in s.order.get(field) or []
                        if x.get("adapterId") == ADAPTER_ID
                    }
                    for item in items:
                        if item["reference"] not in present:
                            await s.write("POST", f"/{field}", item)
                return payment

            payment = await converge(call.session, plan)
            return calls.json_outcome(sandbox.view(payment))

        return await calls.run(ctx, call, handler)

    # P2 --------------------------------------------------------------------------------------

    @router.get(ORDERS + "/{payment_id}")
    async def get(order_id: str, payment_id: str, request: Request) -> Response:
        store.ensure_running(request.app)
        call = await calls.start(ctx, request, order_id, listed=_NOT_FOUND)
        assert isinstance(call, ClientCall)
        _, payment = own_payment(call.session.order, payment_id)
        url = None
        if payment.get("state") == "processing":
            url = await redirect_url(call.caller, order_id, payment_id)
        body = sandbox.view(payment, url)
        return Response(jsonutil.dumps(body), media_type=_JSON)

    # P3 --------------------------------------------------------------------------------------

    @router.post(ORDERS + "/{payment_id}/authorize")
    async def authorize(order_id: str, payment_id: str, request: Request) -> Response:
        store.ensure_running(request.app)
        call = await calls.start(
            ctx, request, order_id, body=True, write=True, listed=AUTHORIZE_ERRORS
        )

        async def handler(call: ClientCall) -> Outcome:
            config = await active_configuration(call.caller)
            default = config.get("defaultScenario", "approve")
            try:
                scenario = sandbox.scenario_of(
                    None if call.body is ABSENT else call.body,
                    default if default in sandbox.SCENARIOS else "approve",
                )
            except ValueError as exc:
                pointer, problem = exc.args
                raise InvalidRequest(
                    f"Unknown sandbox scenario: {problem}.",
                    errors=[field_error(pointer, problem)],
                ) from exc
            started: dict[str, int] = {}

            async def plan(s: OrderSession) -> dict[str, Any]:
                _, payment = own_payment(s.order, payment_id)
                attempt = started.get("attempt")
                if attempt is None or own(payment).get("attempt") != attempt:
                    status = status_of(s.order)
                    state = str(payment.get("state"))
                    if status not in {"checkout", "processing"}:
                        raise OrderNotEditable(status, "Authorising a payment")
                    if state in {"processing", "pending"}:
                        raise PaymentInProgress(state)
                    if state not in {"intent", "declined"}:
                        raise InvalidStateTransition(state, "processing")
                    if state == "declined":
                        # a retry after a decline; the hooks left a declined payment's amount
                        # alone while the buyer changed the cart, so it covers the order again
                        retry = {
                            **payment,
                            "state": "intent",
                            "amount": remainder(s.order, payment_id),
                        }
                        reply = await s.write("PUT", f"/payments/{payment_id}", retry)
                        payment = remember(s, dict(reply.body))
                    if status == "checkout":  # validation; a failure changes nothing more
                        await s.write("PUT", "/state", {"currentStatus": "processing"})
                        await s.reread()
                        _, payment = own_payment(s.order, payment_id)
                    attempt = int(own(payment).get("attempt") or 0) + 1
                    started["attempt"] = attempt
                    target = "pending" if scenario in {"pending", "review"} else "processing"
                    marked = with_own(
                        payment, scenario=scenario, attempt=attempt, lastPushSequence=0
                    )
                    payment = await put_payment(s, marked, target)
                if scenario in {"approve", "decline"}:
                    await finish(s, payment_id, scenario, attempt)
                elif scenario in {"pending", "review"}:
                    ledger = await transactions(s, payment_id)
                    if not any(
                        t.get("event") == "process" and sandbox.attempt_of(t) == attempt
                        for t in ledger
                    ):
                        request_json, _ = sandbox.psp_exchange(payment, attempt, "approve")
                        await s.write(
                            "POST",
                            f"/payments/{payment_id}/transactions",
                            {
                                "event": "process",
                                "isSuccess": True,
                                "pspEvent": "authorisation",
                                "pspStatus": "PENDING" if scenario == "pending" else "REVIEW",
                                "requestJson": request_json,
                            },
                        )
                    if scenario == "pending":
                        await store.schedule(s.caller, order_id, payment, attempt, config)
                await s.reread()
                return own_payment(s.order, payment_id)[1]

            payment = await converge(call.session, plan)
            url = None
            if payment.get("state") == "processing":
                url = await redirect_url(call.caller, order_id, payment_id)
            return calls.json_outcome(authorize_result(payment, url))

        return await calls.run(ctx, call, handler)

    # P4 --------------------------------------------------------------------------------------

    @router.post(ORDERS + "/{payment_id}/review")
    async def review(order_id: str, payment_id: str, request: Request) -> Response:
        call = await calls.start(
            ctx, request, order_id, body=True, write=True, listed=AUTHORIZE_ERRORS
        )

        async def handler(call: ClientCall) -> Outcome:
            decision = call.body.get("decision") if isinstance(call.body, dict) else None
            if decision not in {"approve", "decline"}:
                raise InvalidRequest(
                    "decision must be approve or decline.",
                    errors=[field_error("/decision", "must be approve or decline")],
                )

            async def plan(s: OrderSession) -> dict[str, Any]:
                _, payment = own_payment(s.order, payment_id)
                mine = own(payment)
                if payment.get("state") != "pending" or mine.get("scenario") != "review":
                    raise ActionNotAvailable(
                        str(payment.get("state")), "The payment is not awaiting review."
                    )
                await finish(s, payment_id, str(decision), int(mine.get("attempt") or 0))
                await s.reread()
                return own_payment(s.order, payment_id)[1]

            payment = await converge(call.session, plan)
            return calls.json_outcome(authorize_result(payment, None))

        return await calls.run(ctx, call, handler)

    # P5 --------------------------------------------------------------------------------------

    @router.post(ORDERS + "/{payment_id}/remove")
    async def remove(order_id: str, payment_id: str, request: Request) -> Response:
        call = await calls.start(ctx, request, order_id, write=True, listed=REMOVE_ERRORS)

        async def handler(call: ClientCall) -> Outcome:
            async def plan(s: OrderSession) -> None:
                _, payment = own_payment(s.order, payment_id)
                status = status_of(s.order)
                state = str(payment.get("state"))
                if status not in {"checkout", "processing"}:
                    raise OrderNotEditable(status, "Removing a payment")
                if state in {"processing", "pending"}:
                    raise PaymentInProgress(state)
                if state != "removed":
                    await s.write("PUT", f"/payments/{payment_id}", {**payment, "state": "removed"})
                prefix = f"{ADAPTER_ID}/{payment_id}/"
                for field in ("hooks", "validations", "notifications"):
                    for item in s.order.get(field) or []:
                        reference = str(item.get("reference") or "")
                        if item.get("adapterId") == ADAPTER_ID and reference.startswith(prefix):
                            await s.write("DELETE", f"/{field}/{item['id']}", has_body=False)

            await converge(call.session, plan)
            return calls.empty_outcome()

        return await calls.run(ctx, call, handler)

    # P6 --------------------------------------------------------------------------------------

    @router.get(ORDERS + "/{payment_id}/pushes")
    async def pushes(order_id: str, payment_id: str, request: Request) -> Response:
        store.ensure_running(request.app)
        call = await calls.start(ctx, request, order_id, listed=_NOT_FOUND)
        assert isinstance(call, ClientCall)
        own_payment(call.session.order, payment_id)
        found = await store.list(payment_id)
        return Response(jsonutil.dumps(found), media_type=_JSON)

    # P7 --------------------------------------------------------------------------------------

    async def challenge_claims(token: str) -> dict[str, str] | None:
        return sandbox.read_token(await token_key(), token, time.time())

    @router.get(CHALLENGE)
    async def challenge_page(token: str, request: Request) -> Response:
        claims = await challenge_claims(token)
        if claims is None:
            return _not_found_page()
        caller = Caller(claims["m"], claims["c"], calls.request_id(request))
        try:
            session = await callback_session(caller, claims["o"], _NOT_FOUND)
            _, payment = own_payment(session.order, claims["p"])
        except KassaError as exc:
            if exc.status != 404:
                raise
            return _not_found_page()
        amount = html.escape(f"{payment.get('amount', 0)} {payment.get('currency') or ''}")
        order = html.escape(claims["o"])
        action = html.escape(ctx.prefix + CHALLENGE.format(token=token))
        body = (
            "<h1>Sandbox card confirmation</h1>"
            "<p>This page stands in for a card issuer's 3-D Secure challenge. No money moves.</p>"
            f"<p>Order <code data-testid='challenge-order-id'>{order}</code></p>"
            f"<p>Amount <strong data-testid='challenge-amount'>{amount.strip()}</strong></p>"
            f"<form method='post' action='{action}'>"
            "<button type='submit' name='outcome' value='approve' "
            "data-testid='challenge-approve'>Approve</button>"
            "<button type='submit' name='outcome' value='decline' "
            "data-testid='challenge-decline'>Decline</button></form>"
        )
        return _page("Sandbox card confirmation", body)

    @router.post(CHALLENGE)
    async def challenge_submit(token: str, request: Request) -> Response:
        claims = await challenge_claims(token)
        if claims is None:
            return _not_found_page()
        raw = await calls.read_body(request)
        form = parse_qs(raw.decode("latin-1"))
        outcome = (form.get("outcome") or [""])[0]
        if outcome not in {"approve", "decline"}:
            return _page(
                "Bad request",
                "<h1 data-testid='challenge-bad-request'>Choose approve or decline</h1>",
                400,
            )
        caller = Caller(claims["m"], claims["c"], calls.request_id(request))
        try:
            session = await callback_session(caller, claims["o"], AUTHORIZE_ERRORS)
            own_payment(session.order, claims["p"])
        except KassaError as exc:
            if exc.status != 404:
                raise
            return _not_found_page()

        async def plan(s: OrderSession) -> dict[str, Any]:
            _, payment = own_payment(s.order, claims["p"])
            if payment.get("state") == "processing":
                attempt = int(own(payment).get("attempt") or 0)
                await finish(s, claims["p"], outcome, attempt)
                await s.reread()
                _, payment = own_payment(s.order, claims["p"])
            return payment

        payment = await converge(session, plan)
        approved = payment.get("state") in _RESOLVED
        target = _redirect_target(await configuration(caller), approved, claims)
        if target:
            return RedirectResponse(target, status_code=303)
        word = "approved" if approved else "declined"
        return _page(
            f"Payment {word}",
            f"<h1 data-testid='challenge-result'>Payment {word}</h1>"
            f"<p>Order <code>{html.escape(claims['o'])}</code></p>",
        )

    # P8 --------------------------------------------------------------------------------------

    async def callback_body(order_id: str, request: Request) -> tuple[Caller, Any]:
        raw = await calls.read_body(request)
        caller = await calls.authenticate_callback(ctx, request, raw, order_id)
        return caller, calls.parse_json(request, raw)

    def as_order(body: Any) -> dict[str, Any]:
        if not isinstance(body, dict) or not isinstance(body.get("payments", []), list):
            raise InvalidRequest(
                "The body must be an order object.", errors=[field_error("", "not an order")]
            )
        return body

    def json_response(body: Any, status: int = 200) -> Response:
        return Response(jsonutil.dumps(body), status_code=status, media_type=_JSON)

    @router.post(CALLBACKS + "/update-payment")
    async def on_update(order_id: str, payment_id: str, request: Request) -> Response:
        _, body = await callback_body(order_id, request)
        return json_response(sandbox.update_payment(as_order(body), payment_id))

    @router.post(CALLBACKS + "/state-changed")
    async def on_state(order_id: str, payment_id: str, request: Request) -> Response:
        _, body = await callback_body(order_id, request)
        status, answer = sandbox.state_changed(as_order(body), payment_id)
        return json_response(answer, status)

    @router.post(CALLBACKS + "/validate")
    async def on_validate(order_id: str, payment_id: str, request: Request) -> Response:
        caller, body = await callback_body(order_id, request)
        problem = sandbox.validation_problem(
            as_order(body), payment_id, await configuration(caller)
        )
        if problem is None:
            return json_response({})
        return json_response({"code": "sandbox-validation-failed", "message": problem}, 400)

    @router.post(CALLBACKS + "/completed")
    async def on_completed(order_id: str, payment_id: str, request: Request) -> Response:
        caller, body = await callback_body(order_id, request)
        if not isinstance(body, dict):
            raise InvalidRequest("The body must be a notification event.")
        config = await configuration(caller)
        if (config or {}).get("captureOnComplete") is True:
            session = await callback_session(caller, order_id, ACTION_ERRORS)
            _, payment = own_payment(session.order, payment_id)
            if payment.get("state") == "reserved":
                with contextlib.suppress(ActionNotAvailable):  # captured meanwhile
                    await execute(session, payment_id, "capture", None, None)
        return json_response({})

    @router.post(CALLBACKS + "/push")
    async def on_push(order_id: str, payment_id: str, request: Request) -> Response:
        caller, body = await callback_body(order_id, request)
        if not isinstance(body, dict):
            raise InvalidRequest("The body must be a push event.")
        sequence, status = body.get("sequence"), body.get("status")
        if (
            not isinstance(sequence, int)
            or isinstance(sequence, bool)
            or status not in {"PENDING", "AUTHORISED", "REFUSED"}
        ):
            raise InvalidRequest(
                "A push needs an integer sequence and a status.",
                errors=[field_error("/sequence", "integer"), field_error("/status", "status")],
            )
        session = await callback_session(caller, order_id, _NOT_FOUND | AUTHORIZE_ERRORS)
        _, payment = own_payment(session.order, payment_id)
        if body.get("pspReference") != payment.get("reference"):
            raise PaymentNotFound(payment_id)

        async def plan(s: OrderSession) -> bool:
            _, payment = own_payment(s.order, payment_id)
            mine = own(payment)
            if sequence <= int(mine.get("lastPushSequence") or 0):
                return False  # a duplicate or a late one: applied already, or superseded
            attempt = int(mine.get("attempt") or 0)
            if status == "PENDING":
                if payment.get("state") == "processing":
                    payment = await put_payment(s, payment, "pending")
            else:
                await finish(
                    s, payment_id, "approve" if status == "AUTHORISED" else "decline", attempt
                )
                await s.reread()
                _, payment = own_payment(s.order, payment_id)
            await s.write(
                "PUT",
                f"/payments/{payment_id}",
                with_own(payment, lastPushSequence=sequence),
            )
            return True

        applied = await converge(session, plan)
        return json_response({"applied": applied})

    # P9 --------------------------------------------------------------------------------------

    async def execute(
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
            ledger = await transactions(s, payment_id)
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
                await s.write(
                    "POST", f"/payments/{payment_id}/transactions", transaction, headers=headers
                )
                done["transaction"] = transaction
                ledger = await transactions(s, payment_id)
                captured, refunded = sandbox.sums(ledger)
            if kind == "capture" and state == "reserved":
                state = "captured"
            elif kind == "refund" and state in {"captured", "credited"}:
                state = "refunded" if refunded >= captured else "credited"
            elif kind == "cancel" and state == "reserved":
                state = "cancelled"
            wanted = sandbox.actions_for(ctx.callback_base, s.order_id, payment, state, captured)
            if state != payment.get("state") or not sandbox.same_actions(
                payment.get("actions"), wanted
            ):
                payment = await put_payment(s, payment, state, captured)
            transaction = done.get("transaction") or {}
            return {
                "action": kind,
                "amount": transaction.get("amount", 0),
                "pspStatus": transaction.get("pspStatus", str(payment.get("state")).upper()),
            }

        return await converge(s, plan)

    @router.post(ACTIONS + "/{kind}")
    async def action(order_id: str, payment_id: str, kind: str, request: Request) -> Response:
        if kind not in ACTION_TYPES:
            raise RouteNotFound()
        raw = await calls.read_body(request)
        caller = await calls.authenticate_callback(ctx, request, raw, order_id)
        requested = _amount_of(calls.parse_json(request, raw))
        session = await callback_session(caller, order_id, ACTION_ERRORS)
        own_payment(session.order, payment_id)
        result = await execute(
            session, payment_id, kind, requested, request.headers.get("idempotency-key")
        )
        return json_response(result)

    # P10 -------------------------------------------------------------------------------------

    @router.get(SCHEMA_PATH)
    async def schema() -> Response:
        return Response(
            schemas.schema_bytes(ADAPTER_ID),
            media_type=schemas.MEDIA_TYPE,
            headers={"Cache-Control": schemas.CACHE_CONTROL},
        )

    return router
