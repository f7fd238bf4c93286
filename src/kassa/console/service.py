"""What the console pages read and write, scoped to the signed-in operator's merchant and
channels. Reads use the repositories the API uses; writes build a ``Call`` for the operator and
run through ``kassa.unit_of_work`` (directly or via ``kassa.payments.service``), so the history
records the operator (``actor.keyName`` ``operator:<name>``) and idempotency works as for the API.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import func, select
from sqlalchemy.engine import Connection
from starlette.requests import Request

from kassa import idempotency, jsonutil, money, unit_of_work
from kassa.auth.keys import Principal
from kassa.console.accounts import Operator
from kassa.db.tables import event_attempts, events
from kassa.errors import EventNotFound, KassaError, OrderNotFound
from kassa.events import repository as event_repository
from kassa.http import Call, app_state
from kassa.idempotency import ABSENT, Outcome
from kassa.orders import repository as repo
from kassa.payments import ledger
from kassa.payments import service as payments
from kassa.state import AppState

ACTOR_PREFIX = "operator:"


# Reads ------------------------------------------------------------------------------------------


@dataclass
class OrderView:
    channel: str
    version: int
    order: dict[str, Any]
    meta: dict[str, Any]


def _admits(operator: Operator, channel: str) -> bool:
    return operator.channels is None or channel in operator.channels


async def list_orders(state: AppState, f: repo.OrderFilter) -> tuple[list[dict[str, Any]], int]:
    db = state.db
    if db.is_sqlite:
        docs, total, _ = await db.scan(lambda conn: repo.list_orders(conn, f))
    else:
        docs, total, _ = await repo.list_orders_postgres(db, f)
    return [jsonutil.loads(d) for d in docs], total


async def order_of_transaction(state: AppState, transaction_id: str) -> str | None:
    return await state.db.read(lambda conn: ledger.order_of_transaction(conn, transaction_id))


async def read_order(state: AppState, operator: Operator, order_id: str) -> OrderView:
    """The order, when it belongs to the operator's merchant and channels; else 404 as the API."""
    found = await repo.fetch_in_merchant(state.db, operator.merchant, order_id)
    if found is None or not _admits(operator, found[0]):
        raise OrderNotFound(order_id)
    channel, stored = found
    return OrderView(channel, stored.version, jsonutil.loads(stored.doc), orjson.loads(stored.meta))


async def history(state: AppState, order_id: str) -> list[dict[str, Any]]:
    entries = await state.db.scan(lambda conn: repo.list_history(conn, order_id))
    return [jsonutil.loads(e) for e in entries]


@dataclass
class PaymentView:
    payment: dict[str, Any]
    amount: Decimal
    captured: Decimal
    refunded: Decimal
    transactions: list[dict[str, Any]]

    @property
    def reserved(self) -> Decimal:
        # what is authorised and not captured yet
        return self.amount - self.captured

    @property
    def remaining(self) -> Decimal:
        # captured money not refunded
        return self.captured - self.refunded


async def payments_of(state: AppState, view: OrderView) -> list[PaymentView]:
    order_id = view.order["id"]
    ids = [p["id"] for p in view.order.get("payments") or []]

    def job(conn: Connection) -> dict[str, list[str]]:
        return {pid: ledger.list_transactions(conn, order_id, pid) for pid in ids}

    rows = await state.db.scan(job) if ids else {}
    result = []
    ledgers = view.meta.get("ledger") or {}
    for payment in view.order.get("payments") or []:
        entry = ledgers.get(payment["id"]) or {}
        result.append(
            PaymentView(
                payment,
                money.as_decimal(payment.get("amount")),
                Decimal(entry.get("captured", "0")),
                Decimal(entry.get("refunded", "0")),
                [jsonutil.loads(t) for t in rows.get(payment["id"], [])],
            )
        )
    return result


def event_filter(operator: Operator, **kw: Any) -> event_repository.EventFilter:
    return event_repository.EventFilter(operator.merchant, operator.channels, **kw)


async def list_events(
    state: AppState, f: event_repository.EventFilter
) -> tuple[list[dict[str, Any]], int]:
    return await state.db.scan(lambda conn: event_repository.list_events(conn, f))


async def get_event(state: AppState, operator: Operator, event_id: str) -> dict[str, Any]:
    body = await state.db.read(
        lambda conn: event_repository.get_event(
            conn, event_id, operator.merchant, operator.channels
        )
    )
    if body is None:
        raise EventNotFound(event_id)
    parsed: dict[str, Any] = jsonutil.loads(body)
    return parsed


def _host(url: str) -> str:
    rest = url.split("://", 1)[-1]
    return rest.split("/", 1)[0].split("?", 1)[0] or "?"


async def host_success(
    state: AppState, operator: Operator, hours: float = 24
) -> list[dict[str, Any]]:
    """Per destination host: attempts and the share that succeeded over the last ``hours``."""
    since = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() - hours * 3600))
    statement = (
        select(events.c.invoke, event_attempts.c.outcome, func.count())
        .join(event_attempts, event_attempts.c.event_id == events.c.id)
        .where(events.c.merchant == operator.merchant, event_attempts.c.started_at >= since)
        .group_by(events.c.invoke, event_attempts.c.outcome)
    )
    if operator.channels is not None:
        statement = statement.where(events.c.channel.in_(operator.channels))
    rows = await state.db.scan(lambda conn: conn.execute(statement).all())
    hosts: dict[str, list[int]] = {}
    for invoke, outcome, count in rows:
        tally = hosts.setdefault(_host(invoke), [0, 0])
        tally[0] += count
        if outcome == "succeeded":
            tally[1] += count
    return [
        {"host": host, "attempts": n, "succeeded": ok, "rate": round(100 * ok / n, 1)}
        for host, (n, ok) in sorted(hosts.items())
    ]


# Writes -----------------------------------------------------------------------------------------


class StalePage(KassaError):
    code, status = "stale-page", 412


def _call(
    request: Request, operator: Operator, channel: str, operation: str, if_match: str | None
) -> Call:
    """A ``Call`` on behalf of the operator: the unit of work sees the order's channel, the
    operator as the actor and the form's ETag as ``If-Match`` (no other request header)."""
    headers = [(b"if-match", if_match.encode())] if if_match else []
    scope = {**request.scope, "headers": headers}
    principal = Principal(
        key_name=ACTOR_PREFIX + operator.name,
        merchant=operator.merchant,
        channel=channel,
        key_channels=operator.channels,
        adapter_header=None,
        actor_adapter=None,
    )
    return Call(Request(scope), app_state(request), principal, ABSENT, None, operation)


@dataclass
class WriteResult:
    outcome: Outcome
    replayed: bool


async def _run(call: Call, key: str, path: str, body: Any, work: Any) -> WriteResult:
    """Claim the form's Idempotency-Key, run ``work`` once, release the claim on failure."""
    idempotency.check_key(key)
    fp = idempotency.fingerprint("POST", path, call.principal.channel, None, body)
    claimed = await idempotency.claim(call.app.db, call.principal.merchant, key, fp)
    if isinstance(claimed, Outcome):
        return WriteResult(claimed, True)
    call.claim = claimed
    try:
        outcome = await work(call)
    except BaseException as exc:
        await idempotency.release(call.app.db, call.claim, exc)
        raise
    return WriteResult(outcome, False)


async def record_transaction(
    request: Request,
    operator: Operator,
    view: OrderView,
    payment_id: str,
    event: str,
    amount: Decimal,
    *,
    etag: str,
    key: str,
) -> WriteResult:
    """A capture or refund of ``amount`` recorded on the ledger (AddTransactionForOrderPayment)."""
    order_id = view.order["id"]
    call = _call(request, operator, view.channel, "AddTransactionForOrderPayment", etag)
    body = {"event": event, "amount": amount, "isSuccess": True}
    path = f"console/orders/{order_id}/payments/{payment_id}/transactions"

    async def work(call: Call) -> Outcome:
        return await payments.add_transaction(call, order_id, payment_id, body)

    return await _run(call, key, path, body, work)


async def execute_action(
    request: Request,
    operator: Operator,
    view: OrderView,
    payment_id: str,
    action_id: str,
    *,
    etag: str,
    key: str,
) -> WriteResult:
    """A registered payment action, called as ExecutePaymentAction does."""
    order_id = view.order["id"]
    call = _call(request, operator, view.channel, "ExecutePaymentAction", etag)
    path = f"console/orders/{order_id}/payments/{payment_id}/actions/{action_id}/execute"

    async def work(call: Call) -> Outcome:
        return await payments.execute_action(call, order_id, payment_id, action_id)

    return await _run(call, key, path, ABSENT, work)


async def retry_event(
    request: Request, operator: Operator, event_id: str, *, key: str
) -> WriteResult:
    event = await get_event(app_state(request), operator, event_id)
    call = _call(request, operator, event["channel"], "RetryEvent", None)

    def respond(body: dict[str, Any]) -> Outcome:
        return Outcome(200, jsonutil.dumps(body), {"Content-Type": "application/json"})

    async def work(call: Call) -> Outcome:
        return await unit_of_work.execute(call, unit_of_work.RetryEvent(event_id, respond))

    return await _run(call, key, f"console/events/{event_id}/retry", ABSENT, work)


def order_filter(
    operator: Operator,
    *,
    channel: str | None,
    statuses: list[str] | None,
    date_from: str | None,
    date_to: str | None,
    date_to_exclusive: bool,
    country: str | None,
    currency: str | None,
    email: str | None,
    search: str | None,
    payment_id: str | None,
    offset: int,
    limit: int,
) -> repo.OrderFilter:
    """The list filter of the orders page, within the operator's merchant and channels."""
    if channel is not None and not _admits(operator, channel):
        channel = "\x00none"  # a channel the operator may not see lists nothing
    return repo.OrderFilter(
        merchant=operator.merchant,
        channel=channel,
        channels=list(operator.channels) if channel is None and operator.channels else None,
        statuses=statuses,
        date_from=date_from,
        date_to=date_to,
        date_to_exclusive=date_to_exclusive,
        countries=[country] if country else None,
        currencies=[currency.upper()] if currency else None,
        billing_emails=[email] if email else None,
        search=search,
        payment_id=payment_id,
        offset=offset,
        limit=limit,
    )


# Configuration (admin) --------------------------------------------------------------------------


async def channels(request: Request, operator: Operator) -> list[str]:
    from kassa.configuration import service as configurations

    call = _call(request, operator, "", "ListChannels", None)
    return await configurations.list_channels(call)


async def configurations_of(
    request: Request, operator: Operator, channel: str
) -> list[dict[str, Any]]:
    from kassa.configuration import service as configurations

    if not _admits(operator, channel):
        return []
    call = _call(request, operator, channel, "GetConfigurations", None)
    listed: list[dict[str, Any]] = jsonutil.loads(await configurations.list_configurations(call))
    return listed


async def save_configuration(
    request: Request, operator: Operator, channel: str, text: str, *, key: str
) -> WriteResult:
    """A configuration edited as JSON, checked against its adapter's JSON Schema (C6)."""
    from kassa.configuration import rules
    from kassa.configuration import service as configurations

    if not channel or not _admits(operator, channel):
        from kassa.errors import Forbidden

        raise Forbidden("That channel is not one of yours.")
    try:
        body = jsonutil.parse_body(text.encode())
    except jsonutil.JSONError as exc:
        from kassa.errors import InvalidRequest

        raise InvalidRequest(f"The configuration is not valid JSON: {exc}") from exc
    name = body.get("id") if isinstance(body, dict) else None
    config = rules.one(body, name if isinstance(name, str) else "")
    call = _call(request, operator, channel, "PutConfiguration", None)

    async def work(call: Call) -> Outcome:
        return await configurations.put_one(call, config)

    return await _run(call, key, f"console/configurations/{channel}/{config.name}", body, work)
