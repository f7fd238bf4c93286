"""The append-only ledger table of payment transactions. Rows are never updated or deleted,
except together with their order when no money was captured."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.engine import Connection

from kassa.db.engine import Database, Row, query_all
from kassa.db.tables import payment_transactions


def transaction_row(
    *, transaction_id: str, order_id: str, payment_id: str, seq: int, doc: str
) -> Row:
    """The ledger row of one transaction, written with the order's next version."""
    values = {
        "id": transaction_id,
        "order_id": order_id,
        "payment_id": payment_id,
        "seq": seq,
        "doc": doc,
    }
    return Row("payment_transactions", values)


_LIST = (
    "SELECT doc FROM payment_transactions WHERE order_id = :order_id"
    " AND payment_id = :payment_id ORDER BY seq"
)


async def transaction_docs(db: Database, order_id: str, payment_id: str) -> list[str]:
    """``list_transactions`` as a read of its own, in plain SQL (a payment holds at most
    1,000 transactions)."""
    rows = await db.fetch_few(_LIST, {"order_id": order_id, "payment_id": payment_id})
    return [row[0] for row in rows]


def list_transactions(conn: Connection, order_id: str, payment_id: str) -> list[str]:
    """A payment's transactions in ledger order, inside a transaction or scan of the caller."""
    rows = query_all(conn, _LIST, {"order_id": order_id, "payment_id": payment_id})
    return [row[0] for row in rows]


def delete_for_order(conn: Connection, order_id: str) -> None:
    conn.execute(delete(payment_transactions).where(payment_transactions.c.order_id == order_id))


def order_of_transaction(conn: Connection, transaction_id: str) -> str | None:
    """The order a transaction id belongs to (the console's search by transaction)."""
    row = conn.execute(
        select(payment_transactions.c.order_id).where(payment_transactions.c.id == transaction_id)
    ).first()
    return row.order_id if row is not None else None
