"""The unit of work: every write of kassa runs through ``execute`` (semantics §4).

A write is declared as an operation — plain data and pure functions, no SQL — and ``execute``
turns it into one database transaction:

* ``NewOrder``   — insert the order, its first history entry and the events it fires;
* ``Change``     — a pure document change of an order. It is **prepared outside the
  transaction**: a point read of the order, ``If-Match``, apply, recompute totals, diff, the
  new text, history entry and events; the write then only stores them with a compare-and-set
  on the version read (an empty diff is a no-op); on PostgreSQL that is one statement, the
  completion of the idempotency claim included, and no transaction around it. If other writes
  came first ``OPTIMISTIC_TRIES`` times, the change is made on the **locked path** (read the
  row under its lock, then the same steps), which cannot conflict. When a callback stage calls out
  (``kassa.callbacks.engine``), the **attempt loop**: no transaction open while calling out,
  then a compare-and-set commit, at most ``MAX_ATTEMPTS`` times;
* ``Append``     — rows outside the document (the payment ledger), on the same two paths: a
  pure ``prepare`` checks the ledger and returns the row and the history details, the document
  only gets a new ``lastModified`` and version;
* ``Remove``     — delete an order (refused once money was captured) with its ledger;
* ``RetryEvent`` — schedule a manual delivery attempt of an event;
* ``Record``     — only the idempotency record of an answer that changed nothing.

Each completes the request's idempotency claim in the same transaction (unless the operation
says its answer is not to be recorded), and wakes the delivery loop after a commit that wrote
events. No other module opens a write transaction for an order (configurations, which have no
hooks, history or events, are written by ``kassa.configuration.service``).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import orjson
from sqlalchemy.engine import Connection

from kassa import http, idempotency, jsonutil, timeutil
from kassa.callbacks import engine
from kassa.callbacks.passed import Passed
from kassa.db.engine import Row, insert_statement
from kassa.errors import (
    ConcurrentModification,
    EventNotFound,
    OrderHasTransactions,
    OrderNotFound,
)
from kassa.events import outbox
from kassa.events import repository as event_repository
from kassa.http import Call
from kassa.idempotency import Outcome
from kassa.metrics import WRITE_CONFLICTS
from kassa.orders import history, rules
from kassa.orders import repository as repo
from kassa.orders.document import Meta, Order, PriceKey
from kassa.orders.model import Actor, Apply, Context
from kassa.payments import ledger
from kassa.payments.rules import has_captures

T = TypeVar("T")

MAX_ATTEMPTS = 4
# prepared attempts of a write without callbacks before it takes the locked path, which cannot
# conflict: another attempt costs a point read and a compare-and-set, the locked path a
# transaction of four round trips whose row lock queues the order's other writers
OPTIMISTIC_TRIES = 3


@dataclass(frozen=True)
class _Conflict:
    """A prepared write found the order at another version: another write came first.
    ``current``: the order as it is now, when the failed statement could tell (PostgreSQL
    answers it with the compare-and-set); None: the next attempt reads it."""

    current: repo.StoredOrder | None = None


# The operations --------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewOrder:
    order: Order  # the new document (``rules.new_order``)
    computed: list[PriceKey]  # the cart-total components kassa computes
    respond: Callable[[str], Outcome]  # order id → answer


@dataclass(frozen=True)
class Change(Generic[T]):
    order_id: str
    apply: Apply[T]
    # (version, committed document, what ``apply`` returned) → answer
    respond: Callable[[int, Order, T], Outcome]


@dataclass(frozen=True)
class LedgerRow:
    """One payment transaction, for the append-only ledger."""

    order_id: str
    payment_id: str
    seq: int
    doc: dict[str, Any]


@dataclass(frozen=True)
class Append:
    order_id: str
    # checks that precede If-Match (the payment's 404)
    locate: Callable[[Order], object]
    # (order, meta, ctx) → (history details, the row); advances the ledger sums in ``meta``
    prepare: Callable[[Order, Meta, Context], tuple[dict[str, Any], LedgerRow]]
    respond: Callable[[int, LedgerRow], Outcome]
    record: bool = True  # False: the answer is not kept for the idempotency key


@dataclass(frozen=True)
class Remove:
    order_id: str
    outcome: Outcome


@dataclass(frozen=True)
class RetryEvent:
    event_id: str
    respond: Callable[[dict[str, Any]], Outcome]


@dataclass(frozen=True)
class Record:
    outcome: Outcome


Operation = NewOrder | Change[Any] | Append | Remove | RetryEvent | Record


async def execute(call: Call, operation: Operation) -> Outcome:
    """Run ``operation`` as one unit of work on behalf of ``call``; returns the answer."""
    if call.resolved is None and not isinstance(operation, Change | Append | Remove):
        await call.authenticate()  # only a locked order read can authenticate on the way
    match operation:
        case NewOrder():
            outcome, fired = await _create(call, operation)
        case Change():
            outcome, fired = await _change(call, operation)
        case Append():
            outcome = await _append_row(call, operation)
            fired = False
        case Remove():
            outcome = await call.app.db.write(lambda conn: _remove(conn, call, operation))
            fired = False
        case RetryEvent():
            outcome = await call.app.db.write(lambda conn: _retry(conn, call, operation))
            fired = True
        case Record():
            outcome, fired = operation.outcome, False
            if call.claim is not None:
                await call.app.db.write(lambda conn: _complete(conn, call, operation.outcome))
    if fired:
        call.app.delivery_wake.set()
    return outcome


# Shared steps ----------------------------------------------------------------------------------


def _now_ms() -> int:
    return int(time.time() * 1000)


def _write_time(previous: str | None) -> str:
    moment = timeutil.now_text()
    # T never decreases from one committed change of an order to the next
    return max(moment, previous) if previous else moment


def _actor(call: Call) -> Actor:
    return Actor(call.principal.key_name, call.principal.actor_adapter)


def _context(call: Call, previous: str | None) -> Context:
    return Context(
        now=_write_time(previous),
        actor=_actor(call),
        payment_state_enforcement=call.app.settings.payment_state_enforcement,
    )


def _history(call: Call, sequence: int, at: str, patch: list[dict[str, Any]], **extra: Any) -> str:
    return history.entry(
        sequence=sequence,
        at=at,
        actor=_actor(call),
        operation=call.operation,
        request_id=call.request_id,
        patch=patch,
        **extra,
    ).decode()


def _locked(conn: Connection, call: Call, order_id: str) -> repo.StoredOrder:
    """The order, read and locked for this write; a deferred authentication happens here, its
    key looked up in the same statement (``http.start(..., defer_auth=True)``)."""
    if call.resolved is None:
        headers = call.request.headers
        key_row, stored = repo.lock_with_key(
            conn, call.key_params(), headers.get("x-merchant"), headers.get("x-channel"), order_id
        )
        call.authenticate_with(key_row)
    else:
        principal = call.principal
        stored = repo.lock(conn, principal.merchant, principal.channel, order_id)
    if stored is None:
        raise OrderNotFound(order_id)
    return stored


def _complete(conn: Connection, call: Call, outcome: Outcome) -> None:
    idempotency.complete(conn, call.claim, outcome, call.app.settings.idempotency_retention)


def _with_etag(outcome: Outcome, version: int) -> Outcome:
    outcome.headers.setdefault("ETag", http.etag(version))
    return outcome


# NewOrder --------------------------------------------------------------------------------------


async def _create(call: Call, op: NewOrder) -> tuple[Outcome, bool]:
    # everything but the inserts is computed before the transaction: on SQLite the write job
    # runs on the one writer thread, whose time every other write waits for
    order = op.order
    meta: Meta = {"computed": op.computed}
    events = outbox.rows(None, order, meta, 1, _now_ms())
    patch = [{"op": "add", "path": "", "value": history.without_last_modified(order)}]
    entry = _history(call, 1, order["created"], patch)
    text, meta_text = jsonutil.dumps(order).decode(), orjson.dumps(meta).decode()
    outcome = _with_etag(op.respond(order["id"]), 1)
    db = call.app.db
    if not db.is_sqlite:  # one statement, as ``_commit``
        rows = repo.order_rows(order, text, meta_text)
        rows.append(repo.history_row(order["id"], 1, entry))
        rows.extend(Row("events", event) for event in events)
        await db.write_one(*insert_statement(rows, _completion(call, outcome)))
        return outcome, bool(events)

    def job(conn: Connection) -> Outcome:
        repo.insert_order(conn, order, text, meta_text)
        repo.insert_history(conn, order["id"], 1, entry)
        outbox.insert(conn, events)
        _complete(conn, call, outcome)
        return outcome

    return await db.write(job), bool(events)


# Change ----------------------------------------------------------------------------------------


class _CallsOut(Exception):
    """The write must call out: it leaves the row-lock path."""

    def __init__(self, attempt: _Attempt[Any]) -> None:
        super().__init__("calls out")
        self.attempt = attempt  # the proposal made under the lock: the first attempt's


@dataclass
class _Attempt(Generic[T]):
    """One attempt's proposal (semantics §4.1 steps 2.1-2.5)."""

    stored: repo.StoredOrder
    before: Order
    after: Order
    meta: Meta
    ctx: Context
    result: T


def _propose(call: Call, stored: repo.StoredOrder, apply: Apply[T]) -> _Attempt[T]:
    http.check_if_match(call, stored.version)
    before: Order = jsonutil.loads(stored.doc)
    after: Order = jsonutil.loads(stored.doc)
    meta: Meta = orjson.loads(stored.meta)
    ctx = _context(call, before.get("lastModified"))
    result = apply(after, meta, ctx)
    rules.compute_totals(after, meta.get("computed", ()))
    return _Attempt(stored, before, after, meta, ctx, result)


@dataclass
class _Prepared(Generic[T]):
    """What committing an attempt writes, all computed before the transaction: inside it only
    the statements run (on SQLite the write lock spans every process's writes)."""

    attempt: _Attempt[T]
    outcome: Outcome
    version: int  # the version it stores (the version read when nothing changed)
    text: str | None  # the new document; None: nothing changed
    meta: str
    history: str
    events: list[dict[str, Any]]
    change: repo.IndexChange  # index columns and payments it changes (none: nothing changed)

    def rows(self) -> list[Row]:
        """What is inserted with the new version: its history entry, then its events."""
        order_id = self.attempt.after["id"]
        history_row = repo.history_row(order_id, self.version, self.history)
        return [history_row, *(Row("events", event) for event in self.events)]


def _prepare(
    call: Call, op: Change[T], attempt: _Attempt[T], passed: Passed | None
) -> _Prepared[T]:
    stored, before, after, meta = attempt.stored, attempt.before, attempt.after, attempt.meta
    now = attempt.ctx.now
    patch = jsonutil.json_diff(
        history.without_last_modified(before), history.without_last_modified(after)
    )
    if not patch:
        outcome = _with_etag(op.respond(stored.version, before, attempt.result), stored.version)
        prepared = _Prepared(attempt, outcome, stored.version, None, "", "", [], repo.UNCHANGED)
    else:
        version = stored.version + 1
        after["lastModified"] = now
        events = outbox.rows(before, after, meta, version, _now_ms())
        hook_calls = passed.hook_calls if passed is not None else []
        entry = _history(call, version, now, patch, hookCalls=hook_calls)
        text, meta_text = jsonutil.dumps(after).decode(), orjson.dumps(meta).decode()
        outcome = _with_etag(op.respond(version, after, attempt.result), version)
        change = repo.index_change(before, after)
        prepared = _Prepared(attempt, outcome, version, text, meta_text, entry, events, change)
    if passed is not None:
        prepared.outcome.headers.update(http.warnings_headers(passed.warnings))
    return prepared


def _store(conn: Connection, call: Call, prepared: _Prepared[Any]) -> tuple[Outcome, bool] | None:
    """Store a prepared attempt if the order is still at the version it read.

    Returns ``None`` (and writes nothing) when another write committed meanwhile.
    """
    attempt = prepared.attempt
    fired = False
    if prepared.text is not None:
        stored_ok = repo.update_order(
            conn,
            attempt.after["id"],
            prepared.change,
            text=prepared.text,
            meta=prepared.meta,
            version=attempt.stored.version,
            rows=prepared.rows(),
        )
        if not stored_ok:
            return None
        fired = bool(prepared.events)
    _complete(conn, call, prepared.outcome)
    return prepared.outcome, fired


async def _change(call: Call, op: Change[T]) -> tuple[Outcome, bool]:
    """The order is read and the change prepared outside any transaction; the write then only
    stores it, if the order is still at the version read (``_commit``). When other writes came
    first ``OPTIMISTIC_TRIES`` times, the change is made with the order locked, which cannot
    conflict: a write without callbacks never fails for concurrency (semantics §10)."""
    suppressed = call.request.headers.get("x-adapterid")
    stored: repo.StoredOrder | None = None
    for _ in range(OPTIMISTIC_TRIES):
        stored = stored or await _current(call, op.order_id)
        attempt = _propose(call, stored, op.apply)
        if engine.calls_out(attempt.before, attempt.after, suppressed):
            return await _attempts(call, op, attempt, suppressed)
        engine.check(attempt.before, attempt.after)
        prepared = _prepare(call, op, attempt, None)
        if prepared.text is None and call.claim is None:
            return prepared.outcome, False  # nothing changed, nothing to record
        committed = await _commit(call, prepared)
        if not isinstance(committed, _Conflict):
            return committed
        WRITE_CONFLICTS.inc()
        stored = committed.current

    def locked(conn: Connection) -> tuple[Outcome, bool] | None:
        attempt = _propose(call, _locked(conn, call, op.order_id), op.apply)
        if engine.calls_out(attempt.before, attempt.after, suppressed):
            raise _CallsOut(attempt)
        engine.check(attempt.before, attempt.after)
        return _store(conn, call, _prepare(call, op, attempt, None))

    try:
        done = await call.app.db.write(locked)
    except _CallsOut as calls_out:
        return await _attempts(call, op, calls_out.attempt, suppressed)
    if done is None:  # the row lock makes this unreachable; keep the CAS honest
        raise RuntimeError("order row changed while locked")
    return done


def _completion(call: Call, outcome: Outcome) -> tuple[str, dict[str, Any]] | None:
    """The statement that completes the request's idempotency claim, if it has one."""
    if call.claim is None:
        return None
    return idempotency.completion(call.claim, outcome, call.app.settings.idempotency_retention)


async def _commit(call: Call, prepared: _Prepared[Any]) -> tuple[Outcome, bool] | _Conflict:
    """Store a prepared attempt (``_store``), unless another write came first. On PostgreSQL
    in one statement committed on its own, the idempotency claim's completion included: two
    round trips in all with the point read."""
    db = call.app.db
    if db.is_sqlite:
        stored = await db.write(functools.partial(_store, call=call, prepared=prepared))
        return _Conflict() if stored is None else stored
    completion = _completion(call, prepared.outcome)
    if prepared.text is None:  # nothing changed: only the answer is recorded
        if completion is not None:
            await db.write_one(*completion)
        return prepared.outcome, False
    attempt = prepared.attempt
    statement, params = repo.update_statement(
        attempt.after["id"],
        prepared.change,
        text=prepared.text,
        meta=prepared.meta,
        version=attempt.stored.version,
        rows=prepared.rows(),
        then=completion,
    )
    conflict = await _compare_and_set(call, statement, params, attempt.stored.version)
    return conflict or (prepared.outcome, bool(prepared.events))


async def _compare_and_set(
    call: Call, statement: str, params: dict[str, Any], version: int
) -> _Conflict | None:
    """Run a write's statement (``repo.update_statement``); None when it stored."""
    row = await call.app.db.write_row(statement, params)
    assert row is not None, "update_statement answers one row"
    if row[0]:
        return None
    return _Conflict(repo.found_instead(row, version))


async def _current(call: Call, order_id: str) -> repo.StoredOrder:
    """The order as committed now, in one point read; a deferred authentication happens here,
    its key looked up in the same statement (as ``_locked`` does)."""
    db = call.app.db
    if call.resolved is None:
        headers = call.request.headers
        key_row, stored = await repo.fetch_with_key(
            db, call.key_params(), headers.get("x-merchant"), headers.get("x-channel"), order_id
        )
        call.authenticate_with(key_row)
    else:
        principal = call.principal
        stored = await repo.fetch(db, principal.merchant, principal.channel, order_id)
    if stored is None:
        raise OrderNotFound(order_id)
    return stored


async def _attempts(
    call: Call, op: Change[T], first: _Attempt[T], suppressed: str | None
) -> tuple[Outcome, bool]:
    state = call.app
    attempt = first
    current: repo.StoredOrder | None = None
    for number in range(MAX_ATTEMPTS):
        if number:
            attempt = _propose(call, current or await _current(call, op.order_id), op.apply)
        passed = await engine.run(state, attempt.before, attempt.after, attempt.meta, suppressed)
        attempt.after = passed.proposal
        prepared = _prepare(call, op, attempt, passed)
        committed = await _commit(call, prepared)
        if not isinstance(committed, _Conflict):
            return committed
        WRITE_CONFLICTS.inc()
        current = committed.current
    raise ConcurrentModification()


# Append ----------------------------------------------------------------------------------------


async def _append_row(call: Call, op: Append) -> Outcome:
    """As ``_change``: prepared from a point read and stored if the order is still at that
    version; else made with the order locked."""
    stored: repo.StoredOrder | None = None
    for _ in range(OPTIMISTIC_TRIES):
        stored = stored or await _current(call, op.order_id)
        prepared = _prepare_append(call, op, stored)
        done = await _commit_append(call, prepared)
        if not isinstance(done, _Conflict):
            return done
        WRITE_CONFLICTS.inc()
        stored = done.current

    def locked(conn: Connection) -> Outcome:
        again = _prepare_append(call, op, _locked(conn, call, op.order_id))
        outcome = _store_append(conn, call, again)
        if outcome is None:  # the row lock makes this unreachable; keep the CAS honest
            raise RuntimeError("order row changed while locked")
        return outcome

    return await call.app.db.write(locked)


@dataclass(frozen=True)
class _PreparedRow:
    op: Append
    stored: repo.StoredOrder
    text: str
    meta: str
    rows: list[Row]
    outcome: Outcome


def _prepare_append(call: Call, op: Append, stored: repo.StoredOrder) -> _PreparedRow:
    order: Order = jsonutil.loads(stored.doc)
    op.locate(order)
    http.check_if_match(call, stored.version)
    meta: Meta = orjson.loads(stored.meta)
    previous = order["lastModified"]
    ctx = _context(call, previous)
    details, row = op.prepare(order, meta, ctx)
    version = stored.version + 1
    # only lastModified changes: rewrite it in the stored text instead of re-encoding the
    # order (it is the first such key; id, merchant, channel, reference and created precede)
    old, new = f'"lastModified":"{previous}"', f'"lastModified":"{ctx.now}"'
    text = stored.doc.replace(old, new, 1)
    if text == stored.doc and previous != ctx.now:
        order["lastModified"] = ctx.now
        text = jsonutil.dumps(order).decode()
    entry = _history(call, version, ctx.now, [], details=details)
    ledger_row = ledger.transaction_row(
        transaction_id=row.doc["id"],
        order_id=row.order_id,
        payment_id=row.payment_id,
        seq=row.seq,
        doc=jsonutil.dumps(row.doc).decode(),
    )
    rows = [ledger_row, repo.history_row(op.order_id, version, entry)]
    outcome = _with_etag(op.respond(version, row), version)
    return _PreparedRow(op, stored, text, orjson.dumps(meta).decode(), rows, outcome)


async def _commit_append(call: Call, prepared: _PreparedRow) -> Outcome | _Conflict:
    """Store a prepared row (``_store_append``), as ``_commit`` stores a change."""
    db = call.app.db
    if db.is_sqlite:
        done = await db.write(functools.partial(_store_append, call=call, prepared=prepared))
        return _Conflict() if done is None else done
    statement, params = repo.update_statement(
        prepared.op.order_id,
        repo.UNCHANGED,
        text=prepared.text,
        meta=prepared.meta,
        version=prepared.stored.version,
        rows=prepared.rows,
        then=_completion(call, prepared.outcome) if prepared.op.record else None,
    )
    conflict = await _compare_and_set(call, statement, params, prepared.stored.version)
    return conflict or prepared.outcome


def _store_append(conn: Connection, call: Call, prepared: _PreparedRow) -> Outcome | None:
    """``None`` (nothing written) when the order is no longer at the version read."""
    stored_ok = repo.update_order(
        conn,
        prepared.op.order_id,
        repo.UNCHANGED,
        text=prepared.text,
        meta=prepared.meta,
        version=prepared.stored.version,
        rows=prepared.rows,
    )
    if not stored_ok:
        return None
    if prepared.op.record:
        _complete(conn, call, prepared.outcome)
    return prepared.outcome


# Remove, RetryEvent ----------------------------------------------------------------------------


def _remove(conn: Connection, call: Call, op: Remove) -> Outcome:
    stored = _locked(conn, call, op.order_id)
    http.check_if_match(call, stored.version)
    if has_captures(orjson.loads(stored.meta)):
        raise OrderHasTransactions()
    ledger.delete_for_order(conn, op.order_id)
    repo.delete_order(conn, op.order_id)
    _complete(conn, call, op.outcome)
    return op.outcome


def _retry(conn: Connection, call: Call, op: RetryEvent) -> Outcome:
    principal = call.principal
    event = event_repository.schedule_manual(
        conn, op.event_id, principal.merchant, principal.key_channels, _now_ms()
    )
    if event is None:
        raise EventNotFound(op.event_id)
    outcome = op.respond(event)
    _complete(conn, call, outcome)
    return outcome
