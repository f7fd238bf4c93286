"""The order unit of work: every write to an order goes through ``modify`` (or ``create``).

``modify`` reads the order under its row lock (SQLite ``BEGIN IMMEDIATE``, PostgreSQL
``SELECT ... FOR UPDATE``), checks ``If-Match``, applies a pure mutation to a copy, recomputes
totals, and, unless nothing changed, stores the new document with version + 1 (a compare-and-set),
its index columns, one history entry and the idempotency record, all in one transaction.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson
from sqlalchemy.engine import Connection

from kassa import idempotency, ids, jsonutil, timeutil
from kassa.errors import (
    ConcurrentModification,
    InvalidRequest,
    OrderHasTransactions,
    OrderNotFound,
    PreconditionFailed,
    ValidationFailed,
    field_error,
)
from kassa.events import outbox
from kassa.http import Call, warnings_headers
from kassa.idempotency import Outcome
from kassa.metrics import WRITE_CONFLICTS
from kassa.orders import repository as repo
from kassa.orders import rules
from kassa.payments.ledger import delete_for_order
from kassa.payments.rules import has_captures
from kassa.schemas_common import OrderStatus

T = TypeVar("T")

_ETAG = re.compile(r'\s*(?:W/)?"([^"]*)"\s*')


@dataclass
class WriteContext:
    """What a pure mutation may know about its request."""

    now: str  # write time T (semantics §4.5)
    call: Call


def etag(version: int) -> str:
    return f'"{version}"'


def json_outcome(body: Any, version: int, status: int = 200) -> Outcome:
    """A JSON answer carrying the order's ETag."""
    headers = {"Content-Type": "application/json", "ETag": etag(version)}
    return Outcome(status, jsonutil.dumps(body), headers)


def parse_if_match(value: str) -> list[str] | None:
    """Entity tags of an ``If-Match`` header; ``None`` means ``*``."""
    if value.strip() == "*":
        return None
    tags: list[str] = []
    for part in value.split(","):
        match = _ETAG.fullmatch(part)
        if not match:
            raise InvalidRequest(
                "If-Match must be * or a list of entity tags.",
                errors=[field_error("header:If-Match", "invalid entity tag list")],
            )
        tags.append(match.group(1))
    return tags


def check_if_match(call: Call, version: int) -> None:
    header = call.request.headers.get("if-match")
    if header is None:
        return
    tags = parse_if_match(header)
    if tags is not None and str(version) not in tags:
        raise PreconditionFailed(version)


def _now_ms() -> int:
    return int(time.time() * 1000)


def _write_time(previous: str | None) -> str:
    moment = timeutil.fmt(timeutil.now())
    # T never decreases from one committed change of an order to the next
    return max(moment, previous) if previous else moment


def _without_last_modified(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k != "lastModified"}


def history_entry(
    call: Call, sequence: int, at: str, patch: list[dict[str, Any]], **extra: Any
) -> bytes:
    entry: dict[str, Any] = {
        "sequence": sequence,
        "at": at,
        "actor": {"keyName": call.principal.key_name, "adapterId": call.principal.actor_adapter},
        "operation": call.operation,
        "requestId": call.request_id,
        "patch": patch,
        "hookCalls": [],
    }
    entry.update(extra)
    return jsonutil.dumps(entry)


def _locked(conn: Connection, call: Call, order_id: str) -> repo.StoredOrder:
    principal = call.principal
    stored = repo.lock(conn, principal.merchant, principal.channel, order_id)
    if stored is None:
        raise OrderNotFound(order_id)
    return stored


def _complete(conn: Connection, call: Call, outcome: Outcome) -> None:
    idempotency.complete(conn, call.claim, outcome, call.app.settings.idempotency_retention)


async def create(call: Call, body: dict[str, Any], respond: Callable[[str], Outcome]) -> Outcome:
    principal = call.principal
    created = timeutil.fmt(timeutil.now())
    order, computed = rules.new_order(
        body,
        order_id=ids.order_id(),
        merchant=principal.merchant,
        channel=principal.channel,
        created=created,
        channel_notifications=call.app.settings.channel_notifications.get(
            (principal.merchant, principal.channel), ()
        ),
    )
    text = jsonutil.dumps(order).decode()
    meta_doc: dict[str, Any] = {"computed": computed}
    events = outbox.rows(None, order, meta_doc, 1, _now_ms())
    meta = orjson.dumps(meta_doc).decode()
    outcome = respond(order["id"])
    outcome.headers.setdefault("ETag", etag(1))
    patch = [{"op": "add", "path": "", "value": _without_last_modified(order)}]
    entry = history_entry(call, 1, created, patch).decode()

    def job(conn: Connection) -> Outcome:
        repo.insert_order(conn, order, text, meta)
        repo.insert_history(conn, order["id"], 1, entry)
        outbox.insert(conn, events)
        _complete(conn, call, outcome)
        return outcome

    outcome = await call.app.db.write(job)
    if events:
        call.app.delivery_wake.set()
    return outcome


class _CallsOut(Exception):
    """The write must call hooks or validation callbacks: it leaves the row-lock path."""

    def __init__(self, attempt: _Attempt) -> None:
        super().__init__("calls out")
        self.attempt = attempt  # the proposal made under the lock: the first attempt's


_VALIDATED = {OrderStatus.processing, OrderStatus.accepted, OrderStatus.completed}


def _leaves_checkout(before: dict[str, Any], after: dict[str, Any]) -> bool:
    return rules.status_of(before) is OrderStatus.checkout and rules.status_of(after) in _VALIDATED


def _validation_failed(before: dict[str, Any], after: dict[str, Any], errors: Any) -> Exception:
    return ValidationFailed(
        f"The order cannot move from {rules.status_of(before).value} to "
        f"{rules.status_of(after).value}: " + ", ".join(e["code"] for e in errors),
        errors=errors,
    )


@dataclass
class _Attempt:
    """One attempt's proposal (semantics §4.1 steps 2.1-2.5)."""

    stored: repo.StoredOrder
    before: dict[str, Any]
    after: dict[str, Any]
    meta: dict[str, Any]
    ctx: WriteContext
    result: Any


def _propose(call: Call, stored: repo.StoredOrder, apply: Callable[..., Any]) -> _Attempt:
    check_if_match(call, stored.version)
    before = jsonutil.loads(stored.doc)
    after = jsonutil.loads(stored.doc)
    meta = orjson.loads(stored.meta)
    ctx = WriteContext(now=_write_time(before.get("lastModified")), call=call)
    result = apply(after, meta, ctx)
    rules.compute_totals(after, meta.get("computed", ()))
    return _Attempt(stored, before, after, meta, ctx, result)


def _commit(
    conn: Connection,
    call: Call,
    attempt: _Attempt,
    respond: Callable[[int, dict[str, Any], Any], Outcome],
    headers: dict[str, str],
    hook_calls: list[dict[str, Any]],
    fired: list[int],
) -> Outcome | None:
    """Store the attempt's proposal if the order is still at the version it read.

    Returns ``None`` (and writes nothing) when another write committed meanwhile.
    """
    stored, before, after, meta = attempt.stored, attempt.before, attempt.after, attempt.meta
    now = attempt.ctx.now
    patch = jsonutil.json_diff(_without_last_modified(before), _without_last_modified(after))
    if not patch:
        outcome = respond(stored.version, before, attempt.result)
        outcome.headers.setdefault("ETag", etag(stored.version))
    else:
        version = stored.version + 1
        after["lastModified"] = now
        events = outbox.rows(before, after, meta, version, _now_ms())
        stored_ok = repo.update_order(
            conn,
            before,
            after,
            text=jsonutil.dumps(after).decode(),
            meta=orjson.dumps(meta).decode(),
            version=stored.version,
        )
        if not stored_ok:
            return None
        entry = history_entry(call, version, now, patch, hookCalls=hook_calls)
        repo.insert_history(conn, after["id"], version, entry.decode())
        if events:
            outbox.insert(conn, events)
            fired.append(len(events))
        outcome = respond(version, after, attempt.result)
        outcome.headers.setdefault("ETag", etag(version))
    outcome.headers.update(headers)
    _complete(conn, call, outcome)
    return outcome


async def modify(
    call: Call,
    order_id: str,
    apply: Callable[[dict[str, Any], dict[str, Any], WriteContext], T],
    respond: Callable[[int, dict[str, Any], T], Outcome],
) -> Outcome:
    """Apply ``apply`` to the order and commit the result (or nothing) — semantics §4.1.

    A write that calls out to nothing runs as one transaction holding the order row. When the
    stored order has a hook that the change triggers, or the change leaves ``checkout`` and
    validation callbacks must run, it runs the attempt loop instead: outbound calls with no
    transaction open, then a compare-and-set commit, at most four times.
    """
    from kassa.callbacks import (
        hooks,  # hooks check patches with the mutations, which import this module
    )

    fired: list[int] = []
    suppressed = call.request.headers.get("x-adapterid")

    def job(conn: Connection) -> Outcome | None:
        attempt = _propose(call, _locked(conn, call, order_id), apply)
        before, after = attempt.before, attempt.after
        leaving = _leaves_checkout(before, after)
        if (leaving and after.get("validations")) or hooks.candidates(
            before, after, suppressed, set()
        ):
            raise _CallsOut(attempt)
        if leaving:
            errors = rules.builtin_validation(after)
            if errors:
                raise _validation_failed(before, after, errors)
        return _commit(conn, call, attempt, respond, {}, [], fired)

    try:
        outcome = await call.app.db.write(job)
    except _CallsOut as calls_out:
        outcome = await _attempts(call, order_id, apply, respond, calls_out.attempt, fired)
    if outcome is None:  # the row lock makes this unreachable; keep the CAS honest
        raise RuntimeError("order row changed while locked")
    if fired:
        call.app.delivery_wake.set()
    return outcome


MAX_ATTEMPTS = 4


async def _attempts(
    call: Call,
    order_id: str,
    apply: Callable[[dict[str, Any], dict[str, Any], WriteContext], T],
    respond: Callable[[int, dict[str, Any], T], Outcome],
    first: _Attempt,
    fired: list[int],
) -> Outcome:
    from kassa.callbacks import hooks
    from kassa.callbacks import validations as validation_calls

    state = call.app
    suppressed = call.request.headers.get("x-adapterid")
    principal = call.principal
    attempt = first
    for number in range(MAX_ATTEMPTS):
        if number:
            stored = await state.db.read(
                lambda conn: repo.get(conn, principal.merchant, principal.channel, order_id)
            )
            if stored is None:
                raise OrderNotFound(order_id)
            attempt = _propose(call, stored, apply)
        attempt.after, record = await hooks.run(
            state, attempt.before, attempt.after, attempt.meta, suppressed=suppressed
        )
        warnings = list(record.warnings)
        if _leaves_checkout(attempt.before, attempt.after):
            checked = await validation_calls.validate(state, attempt.after)
            warnings += checked.warnings
            if checked.errors:
                raise _validation_failed(attempt.before, attempt.after, checked.errors)
        headers = warnings_headers(warnings)
        outcome = await state.db.write(
            functools.partial(
                _commit,
                call=call,
                attempt=attempt,
                respond=respond,
                headers=headers,
                hook_calls=record.calls,
                fired=fired,
            )
        )
        if outcome is not None:
            return outcome
        WRITE_CONFLICTS.inc()
    raise ConcurrentModification()


async def delete(call: Call, order_id: str, outcome: Outcome) -> Outcome:
    def job(conn: Connection) -> Outcome:
        stored = _locked(conn, call, order_id)
        check_if_match(call, stored.version)
        if has_captures(orjson.loads(stored.meta)):
            raise OrderHasTransactions()
        delete_for_order(conn, order_id)
        repo.delete_order(conn, order_id)
        _complete(conn, call, outcome)
        return outcome

    return await call.app.db.write(job)


async def read(call: Call, order_id: str) -> repo.StoredOrder:
    principal = call.principal
    stored = await call.app.db.read(
        lambda conn: repo.get(conn, principal.merchant, principal.channel, order_id)
    )
    if stored is None:
        raise OrderNotFound(order_id)
    return stored


async def history(call: Call, order_id: str) -> list[str]:
    principal = call.principal

    def job(conn: Connection) -> list[str] | None:
        if repo.get(conn, principal.merchant, principal.channel, order_id) is None:
            return None
        return repo.list_history(conn, order_id)

    entries = await call.app.db.scan(job)
    if entries is None:
        raise OrderNotFound(order_id)
    return entries


async def list_orders(call: Call, f: repo.OrderFilter) -> tuple[list[str], int, Any]:
    return await call.app.db.scan(lambda conn: repo.list_orders(conn, f))


async def record_outcome(call: Call, outcome: Outcome) -> None:
    """Record the outcome of a write that changed nothing (for its idempotency key)."""
    if call.claim is not None:
        await call.app.db.write(lambda conn: _complete(conn, call, outcome))


async def append(
    call: Call,
    order_id: str,
    prepare: Callable[
        [dict[str, Any], dict[str, Any], WriteContext, int], tuple[dict[str, Any], T]
    ],
    write_rows: Callable[[Connection, T], None],
    respond: Callable[[int, T], Outcome],
) -> Outcome:
    """A write outside the order document (semantics §4.4): transactions and action records.

    Under the order's row lock: ``prepare`` checks (404s, If-Match, editability, ledger) and
    returns the history ``details`` and its payload; then the rows are written, the version is
    incremented, ``lastModified`` set and a history entry with an empty patch inserted.
    """

    def job(conn: Connection) -> Outcome:
        stored = _locked(conn, call, order_id)
        order = jsonutil.loads(stored.doc)
        meta = orjson.loads(stored.meta)
        previous = order["lastModified"]
        ctx = WriteContext(now=_write_time(previous), call=call)
        details, payload = prepare(order, meta, ctx, stored.version)
        version = stored.version + 1
        write_rows(conn, payload)
        # only lastModified changes: rewrite it in the stored text instead of re-encoding the
        # order (it is the first such key; id, merchant, channel, reference and created precede)
        old, new = f'"lastModified":"{previous}"', f'"lastModified":"{ctx.now}"'
        text = stored.doc.replace(old, new, 1)
        if text == stored.doc and previous != ctx.now:
            order["lastModified"] = ctx.now
            text = jsonutil.dumps(order).decode()
        stored_ok = repo.touch_order(
            conn, order_id, text=text, meta=orjson.dumps(meta).decode(), version=stored.version
        )
        if not stored_ok:  # the row lock makes this unreachable; keep the CAS honest
            raise RuntimeError("order row changed while locked")
        entry = history_entry(call, version, ctx.now, [], details=details)
        repo.insert_history(conn, order_id, version, entry.decode())
        outcome = respond(version, payload)
        outcome.headers.setdefault("ETag", etag(version))
        _complete(conn, call, outcome)
        return outcome

    return await call.app.db.write(job)
