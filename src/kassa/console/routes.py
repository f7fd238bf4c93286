"""The console's pages (``/console``): sign-in, orders, an order with its payments, ledger,
timeline and callbacks, payment actions, deliveries, needs attention, the dashboard; and the
configuration pages of ``kassa.console.admin_routes``.

Every page needs a session; every POST needs the session's CSRF token; writes need the role
``operator`` (payment actions, retries) or ``admin`` (keys, operators, configurations).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from kassa import timeutil
from kassa.console import accounts, insights
from kassa.console import service as console
from kassa.console.accounts import Role, Session
from kassa.console.admin_routes import router as admin_router
from kassa.console.web import (
    COOKIE,
    DONE,
    LOGIN_CSRF_COOKIE,
    PREFIX,
    BadCsrf,
    Denied,
    client_address,
    error_page,
    form,
    login_redirect,
    posted,
    redirect,
    render,
    session_of,
    set_cookie,
    text,
)
from kassa.errors import KassaError
from kassa.http import app_state
from kassa.schemas_common import OrderStatus

router = APIRouter(prefix=PREFIX, include_in_schema=False)

PAGE_SIZE = 25


def _pagination(filters: dict[str, str], page: int, total: int) -> dict[str, Any]:
    """A list page's place among its pages, and the links to its neighbours (same filters)."""
    query = {k: v for k, v in filters.items() if v}
    pages = max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1)
    return {
        "page": page,
        "pages": pages,
        "prev_url": f"?{urlencode({**query, 'page': page - 1})}" if page > 1 else None,
        "next_url": f"?{urlencode({**query, 'page': page + 1})}" if page < pages else None,
    }


STATUSES = tuple(status.value for status in OrderStatus)


# Sign-in -----------------------------------------------------------------------------------------


@router.get("")
async def home(request: Request) -> Response:
    return redirect(f"{PREFIX}/orders")


@router.get("/login")
async def login_page(request: Request) -> Response:
    token = accounts.new_password()
    response = render(
        request, "login.html", None, csrf=token, next=request.query_params.get("next")
    )
    set_cookie(request, response, LOGIN_CSRF_COOKIE, token)
    return response


def _safe_next(target: str | None) -> str:
    if target and target.startswith(PREFIX + "/") and not target.startswith("//"):
        return target
    return f"{PREFIX}/orders"


@router.post("/login")
async def login(request: Request) -> Response:
    fields = await form(request)
    state = app_state(request)
    if not accounts.same_token(request.cookies.get(LOGIN_CSRF_COOKIE, ""), fields.get("csrf")):
        return error_page(request, None, BadCsrf("The sign-in form expired; reload it."))
    name, password = fields.get("name", ""), fields.get("password", "")
    address = client_address(request)
    if await accounts.throttled(state.db, name, address):
        return render(
            request,
            "login.html",
            None,
            status=429,
            csrf=fields.get("csrf"),
            error="Too many failed sign-ins; wait a minute and try again.",
            next=fields.get("next"),
        )
    operator = await accounts.verify(state.db, name, password)
    if operator is None:
        await accounts.record_failure(state.db, name, address)
        return render(
            request,
            "login.html",
            None,
            status=401,
            csrf=fields.get("csrf"),
            error="Wrong name or password.",
            next=fields.get("next"),
        )
    token = await accounts.open_session(state.db, operator)
    response = redirect(_safe_next(fields.get("next")))
    set_cookie(request, response, COOKIE, token)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path=PREFIX)
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    try:
        await posted(request, Role.viewer)
    except KassaError as exc:
        return error_page(request, None, exc)
    token = request.cookies.get(COOKIE)
    if token:
        await accounts.end_session(app_state(request).db, token)
    response = redirect(f"{PREFIX}/login")
    response.delete_cookie(COOKIE, path=PREFIX)
    return response


# Orders -----------------------------------------------------------------------------------------


@router.get("/orders")
async def orders_page(request: Request) -> Response:
    session = await session_of(request)
    if session is None:
        return login_redirect(request)
    params = request.query_params
    page = int(params["page"]) if params.get("page", "").isdigit() and params["page"] != "0" else 1
    q = text(params, "q")
    status = text(params, "status")
    filters = {
        "status": status or "",
        "channel": text(params, "channel") or "",
        "from": text(params, "from") or "",
        "to": text(params, "to") or "",
        "country": text(params, "country") or "",
        "currency": text(params, "currency") or "",
        "q": q or "",
    }
    state = app_state(request)
    search, email, payment_id = None, None, None
    if q:
        if q.startswith("pt_"):  # a transaction: open its order
            order_id = await console.order_of_transaction(state, q)
            if order_id is not None:
                return redirect(f"{PREFIX}/orders/{quote(order_id)}")
            search = "\x00no-match"
        elif q.startswith("p_"):
            payment_id = q
        elif "@" in q:
            email = q
        else:
            search = q[:200]
    date_from = date_to = None
    exclusive = False
    try:
        if filters["from"]:
            date_from = timeutil.parse_bound(filters["from"], upper=False)[0]
        if filters["to"]:
            date_to, exclusive = timeutil.parse_bound(filters["to"], upper=True)
    except ValueError:
        pass  # an unreadable date filters nothing
    f = console.order_filter(
        session.operator,
        channel=filters["channel"] or None,
        statuses=[status] if status in STATUSES else None,
        date_from=date_from,
        date_to=date_to,
        date_to_exclusive=exclusive,
        country=filters["country"] or None,
        currency=filters["currency"] or None,
        email=email,
        search=search,
        payment_id=payment_id,
        offset=(page - 1) * PAGE_SIZE,
        limit=PAGE_SIZE,
    )
    orders, total = await console.list_orders(state, f)
    return render(
        request,
        "orders.html",
        session,
        orders=orders,
        total=total,
        filters=filters,
        statuses=STATUSES,
        **_pagination(filters, page, total),
    )


@router.get("/orders/{order_id}")
async def order_page(order_id: str, request: Request) -> Response:
    session = await session_of(request)
    if session is None:
        return login_redirect(request)
    state = app_state(request)
    try:
        view = await console.read_order(state, session.operator, order_id)
    except KassaError as exc:
        return error_page(request, session, exc)
    payments = await console.payments_of(state, view)
    history = await console.history(state, order_id)
    events, _ = await console.list_events(
        state, console.event_filter(session.operator, order_id=order_id, limit=50)
    )
    hook_calls: dict[str, str] = {}
    for entry in history:  # oldest first: the last call wins
        for hook_call in entry.get("hookCalls") or []:
            hook_calls[str(hook_call.get("hookId"))] = (
                f"{hook_call.get('outcome', '?')} at {entry.get('at')}"
            )
    notification_calls: dict[str, str] = {}
    for event in reversed(events):  # newest first in the list: the last event wins
        notification_calls[event["notificationId"]] = (
            f"{event['status']} ({event.get('lastStatusCode') or 'no answer yet'})"
        )
    return render(
        request,
        "order.html",
        session,
        view=view,
        order=view.order,
        payments=payments,
        history=list(reversed(history)),
        events=events,
        done=DONE.get(request.query_params.get("done", "")),
        can_act=session.operator.role.at_least(Role.operator),
        hook_calls=hook_calls,
        notification_calls=notification_calls,
    )


def _amount(value: str | None) -> Decimal:
    try:
        amount = Decimal(value or "")
    except InvalidOperation:
        amount = Decimal(-1)
    if not amount.is_finite() or amount <= 0:
        from kassa.errors import InvalidAmount

        raise InvalidAmount("Enter an amount greater than 0, e.g. 12.50.")
    return amount


@router.post("/orders/{order_id}/payments/{payment_id}/transactions")
async def record_transaction(order_id: str, payment_id: str, request: Request) -> Response:
    session: Session | None = None
    try:
        session, fields = await posted(request, Role.operator)
        event = fields.get("event", "")
        if event not in {"capture", "refund"}:
            raise Denied("Only captures and refunds are recorded from the console.")
        state = app_state(request)
        view = await console.read_order(state, session.operator, order_id)
        result = await console.record_transaction(
            request,
            session.operator,
            view,
            payment_id,
            event,
            _amount(fields.get("amount")),
            etag=fields.get("etag", ""),
            key=fields.get("idempotency_key", ""),
        )
    except KassaError as exc:
        return error_page(request, session, exc)
    done = "replayed" if result.replayed else event
    return redirect(f"{PREFIX}/orders/{quote(order_id)}?done={done}")


@router.post("/orders/{order_id}/payments/{payment_id}/actions/{action_id}/execute")
async def execute_action(
    order_id: str, payment_id: str, action_id: str, request: Request
) -> Response:
    session: Session | None = None
    try:
        session, fields = await posted(request, Role.operator)
        state = app_state(request)
        view = await console.read_order(state, session.operator, order_id)
        result = await console.execute_action(
            request,
            session.operator,
            view,
            payment_id,
            action_id,
            etag=fields.get("etag", ""),
            key=fields.get("idempotency_key", ""),
        )
    except KassaError as exc:
        return error_page(request, session, exc)
    done = "replayed" if result.replayed else "action"
    return redirect(f"{PREFIX}/orders/{quote(order_id)}?done={done}")


# Deliveries -------------------------------------------------------------------------------------


@router.get("/deliveries")
async def deliveries_page(request: Request) -> Response:
    session = await session_of(request)
    if session is None:
        return login_redirect(request)
    params = request.query_params
    page = int(params["page"]) if params.get("page", "").isdigit() and params["page"] != "0" else 1
    filters = {name: text(params, name) or "" for name in ("order", "status", "channel", "adapter")}
    f = console.event_filter(
        session.operator,
        order_id=filters["order"] or None,
        statuses=(filters["status"],) if filters["status"] else None,
        channel=filters["channel"] or None,
        adapter_id=filters["adapter"] or None,
        offset=(page - 1) * PAGE_SIZE,
        limit=PAGE_SIZE,
    )
    state = app_state(request)
    events, total = await console.list_events(state, f)
    hosts = await console.host_success(state, session.operator)
    return render(
        request,
        "deliveries.html",
        session,
        events=events,
        total=total,
        hosts=hosts,
        filters=filters,
        **_pagination(filters, page, total),
        done=DONE.get(params.get("done", "")),
    )


@router.get("/deliveries/{event_id}")
async def delivery_page(event_id: str, request: Request) -> Response:
    session = await session_of(request)
    if session is None:
        return login_redirect(request)
    try:
        event = await console.get_event(app_state(request), session.operator, event_id)
    except KassaError as exc:
        return error_page(request, session, exc)
    return render(
        request,
        "delivery.html",
        session,
        event=event,
        can_act=session.operator.role.at_least(Role.operator),
        done=DONE.get(request.query_params.get("done", "")),
    )


@router.post("/deliveries/{event_id}/retry")
async def retry_delivery(event_id: str, request: Request) -> Response:
    session: Session | None = None
    try:
        session, fields = await posted(request, Role.operator)
        result = await console.retry_event(
            request, session.operator, event_id, key=fields.get("idempotency_key", "")
        )
    except KassaError as exc:
        return error_page(request, session, exc)
    done = "replayed" if result.replayed else "retry"
    return redirect(f"{PREFIX}/deliveries/{quote(event_id)}?done={done}")


# Needs attention, dashboard ---------------------------------------------------------------------


@router.get("/attention")
async def attention_page(request: Request) -> Response:
    session = await session_of(request)
    if session is None:
        return login_redirect(request)
    found = await insights.attention(app_state(request), session.operator)
    return render(request, "attention.html", session, **found)


@router.get("/dashboard")
async def dashboard_page(request: Request) -> Response:
    session = await session_of(request)
    if session is None:
        return login_redirect(request)
    data = await insights.dashboard(app_state(request), session.operator)
    return render(request, "dashboard.html", session, data=data)


router.include_router(admin_router)
