"""The sandbox card PSP ``kassa_sandbox_psp_adapter`` (adapters.md §5): routes P1-P10.

A simulated card PSP with five scenarios (approve, decline, redirect to a hosted confirm page,
pending then pushes, review), payment actions that write ledger transactions, and the callbacks
of §5.6. Like every adapter it is a client of the Order API: its state lives in the order
(the payment, ``attributes.kassa_sandbox_psp_adapter``, its callbacks) and in the channel's
configuration; only the simulated PSP's pushes have a store of their own
(``kassa.adapters.sandbox_store``). The decisions are pure functions in
``kassa.adapters.sandbox``; the steps the routes share (the approve and decline paths, actions)
are in ``kassa.adapters.sandbox_flow``, the confirm page's HTML in ``kassa.adapters.sandbox_page``.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from kassa import ids, jsonutil
from kassa.adapters import calls, sandbox, sandbox_flow, sandbox_page, sandbox_store
from kassa.adapters.calls import AdapterContext, ClientCall
from kassa.adapters.client import Caller
from kassa.adapters.converge import OrderSession, converge
from kassa.adapters.documents import status_of
from kassa.adapters.errors import PaymentNotFound
from kassa.adapters.remainder import remainder
from kassa.adapters.sandbox import (
    ACTIONS,
    CALLBACKS,
    CHALLENGE,
    ORDERS,
    ActionNotAvailable,
    PaymentInProgress,
    own,
    with_own,
)
from kassa.adapters.sandbox import (
    ADAPTER_ID as ADAPTER_ID,
)
from kassa.configuration import schemas
from kassa.errors import (
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
    store = sandbox_store.PushStore(ctx)
    flow = sandbox_flow.Flow(ctx)

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

    # P1 --------------------------------------------------------------------------------------

    @router.post(ORDERS)
    async def create(order_id: str, request: Request) -> Response:
        store.ensure_running(request.app)
        call = await calls.start(ctx, request, order_id, write=True, listed=CREATE_ERRORS)

        async def handler(call: ClientCall) -> Outcome:
            await flow.active_configuration(call.caller)

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
                    _, payment = sandbox.own_payment(s.order, payment_id)
                payment_id = str(payment["id"])
                wanted = sandbox.callbacks_for(ctx.callback_base, order_id, payment_id)
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
        _, payment = sandbox.own_payment(call.session.order, payment_id)
        url = None
        if payment.get("state") == "processing":
            url = await flow.redirect_url(call.caller, order_id, payment_id)
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
            config = await flow.active_configuration(call.caller)
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
                _, payment = sandbox.own_payment(s.order, payment_id)
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
                        payment = flow.remember(s, dict(reply.body))
                    if status == "checkout":  # validation; a failure changes nothing more
                        await s.write("PUT", "/state", {"currentStatus": "processing"})
                        await s.reread()
                        _, payment = sandbox.own_payment(s.order, payment_id)
                    attempt = int(own(payment).get("attempt") or 0) + 1
                    started["attempt"] = attempt
                    marked = with_own(
                        payment, scenario=scenario, attempt=attempt, lastPushSequence=0
                    )
                    if scenario in {"approve", "decline"}:
                        # resolved at once: the marks are written with the payment's outcome
                        # (intent → reserved or declined, semantics §2.1), one write less
                        payment = flow.remember(s, marked)
                    else:
                        target = "pending" if scenario in {"pending", "review"} else "processing"
                        payment = await flow.put_payment(s, marked, target)
                if scenario in {"approve", "decline"}:
                    await flow.finish(s, payment_id, scenario, attempt)
                    _, payment = sandbox.own_payment(s.order, payment_id)
                    if payment.get("state") in sandbox.RESOLVED | {"declined"}:
                        return payment  # as the payment write answered, or as read resolved
                elif scenario in {"pending", "review"}:
                    ledger = await flow.transactions(s, payment_id)
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
                return sandbox.own_payment(s.order, payment_id)[1]

            payment = await converge(call.session, plan)
            url = None
            if payment.get("state") == "processing":
                url = await flow.redirect_url(call.caller, order_id, payment_id)
            return calls.json_outcome(sandbox.authorize_result(payment, url))

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
                _, payment = sandbox.own_payment(s.order, payment_id)
                mine = own(payment)
                if payment.get("state") != "pending" or mine.get("scenario") != "review":
                    raise ActionNotAvailable(
                        str(payment.get("state")), "The payment is not awaiting review."
                    )
                await flow.finish(s, payment_id, str(decision), int(mine.get("attempt") or 0))
                await s.reread()
                return sandbox.own_payment(s.order, payment_id)[1]

            payment = await converge(call.session, plan)
            return calls.json_outcome(sandbox.authorize_result(payment, None))

        return await calls.run(ctx, call, handler)

    # P5 --------------------------------------------------------------------------------------

    @router.post(ORDERS + "/{payment_id}/remove")
    async def remove(order_id: str, payment_id: str, request: Request) -> Response:
        call = await calls.start(ctx, request, order_id, write=True, listed=REMOVE_ERRORS)

        async def handler(call: ClientCall) -> Outcome:
            async def plan(s: OrderSession) -> None:
                _, payment = sandbox.own_payment(s.order, payment_id)
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
        sandbox.own_payment(call.session.order, payment_id)
        found = await store.list(payment_id)
        return Response(jsonutil.dumps(found), media_type=_JSON)

    # P7 --------------------------------------------------------------------------------------

    async def challenge_claims(token: str) -> dict[str, str] | None:
        return sandbox.read_token(await flow.token_key(), token, time.time())

    @router.get(CHALLENGE)
    async def challenge_page(token: str, request: Request) -> Response:
        claims = await challenge_claims(token)
        if claims is None:
            return sandbox_page.not_found_page()
        caller = Caller(claims["m"], claims["c"], calls.request_id(request))
        try:
            session = await flow.callback_session(caller, claims["o"], _NOT_FOUND)
            _, payment = sandbox.own_payment(session.order, claims["p"])
        except KassaError as exc:
            if exc.status != 404:
                raise
            return sandbox_page.not_found_page()
        action = ctx.prefix + CHALLENGE.format(token=token)
        return sandbox_page.challenge(claims["o"], payment, action)

    @router.post(CHALLENGE)
    async def challenge_submit(token: str, request: Request) -> Response:
        claims = await challenge_claims(token)
        if claims is None:
            return sandbox_page.not_found_page()
        raw = await calls.read_body(request)
        form = parse_qs(raw.decode("latin-1"))
        outcome = (form.get("outcome") or [""])[0]
        if outcome not in {"approve", "decline"}:
            return sandbox_page.bad_request()
        caller = Caller(claims["m"], claims["c"], calls.request_id(request))
        try:
            session = await flow.callback_session(caller, claims["o"], AUTHORIZE_ERRORS)
            sandbox.own_payment(session.order, claims["p"])
        except KassaError as exc:
            if exc.status != 404:
                raise
            return sandbox_page.not_found_page()

        async def plan(s: OrderSession) -> dict[str, Any]:
            _, payment = sandbox.own_payment(s.order, claims["p"])
            if payment.get("state") == "processing":
                attempt = int(own(payment).get("attempt") or 0)
                await flow.finish(s, claims["p"], outcome, attempt)
                await s.reread()
                _, payment = sandbox.own_payment(s.order, claims["p"])
            return payment

        payment = await converge(session, plan)
        approved = payment.get("state") in sandbox.RESOLVED
        target = sandbox_page.redirect_target(await flow.configuration(caller), approved, claims)
        if target:
            return RedirectResponse(target, status_code=303)
        return sandbox_page.result(claims["o"], approved)

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
            as_order(body), payment_id, await flow.configuration(caller)
        )
        if problem is None:
            return json_response({})
        return json_response({"code": "sandbox-validation-failed", "message": problem}, 400)

    @router.post(CALLBACKS + "/completed")
    async def on_completed(order_id: str, payment_id: str, request: Request) -> Response:
        caller, body = await callback_body(order_id, request)
        if not isinstance(body, dict):
            raise InvalidRequest("The body must be a notification event.")
        config = await flow.configuration(caller)
        if (config or {}).get("captureOnComplete") is True:
            session = await flow.callback_session(caller, order_id, ACTION_ERRORS)
            _, payment = sandbox.own_payment(session.order, payment_id)
            if payment.get("state") == "reserved":
                with contextlib.suppress(ActionNotAvailable):  # captured meanwhile
                    await flow.execute(session, payment_id, "capture", None, None)
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
        session = await flow.callback_session(caller, order_id, _NOT_FOUND | AUTHORIZE_ERRORS)
        _, payment = sandbox.own_payment(session.order, payment_id)
        if body.get("pspReference") != payment.get("reference"):
            raise PaymentNotFound(payment_id)

        async def plan(s: OrderSession) -> bool:
            _, payment = sandbox.own_payment(s.order, payment_id)
            mine = own(payment)
            if sequence <= int(mine.get("lastPushSequence") or 0):
                return False  # a duplicate or a late one: applied already, or superseded
            attempt = int(mine.get("attempt") or 0)
            if status == "PENDING":
                if payment.get("state") == "processing":
                    payment = await flow.put_payment(s, payment, "pending")
            else:
                await flow.finish(
                    s, payment_id, "approve" if status == "AUTHORISED" else "decline", attempt
                )
                await s.reread()
                _, payment = sandbox.own_payment(s.order, payment_id)
            await s.write(
                "PUT",
                f"/payments/{payment_id}",
                with_own(payment, lastPushSequence=sequence),
            )
            return True

        applied = await converge(session, plan)
        return json_response({"applied": applied})

    # P9 --------------------------------------------------------------------------------------

    @router.post(ACTIONS + "/{kind}")
    async def action(order_id: str, payment_id: str, kind: str, request: Request) -> Response:
        if kind not in ACTION_TYPES:
            raise RouteNotFound()
        raw = await calls.read_body(request)
        caller, session = await calls.authenticate_caller(ctx, request, raw, order_id)
        requested = _amount_of(calls.parse_json(request, raw))
        if session is None:  # a signed call from kassa: read the order now
            session = await flow.callback_session(caller, order_id, ACTION_ERRORS)
        session.listed = ACTION_ERRORS
        sandbox.own_payment(session.order, payment_id)
        result = await flow.execute(
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
