"""PostgreSQL unavailable: 503 ``service-unavailable`` with ``Retry-After``, never a 500 or a
hang, and recovery without restarting kassa (PostgreSQL only).

The outage test runs its own PostgreSQL cluster (``scripts/pg.sh``) and a real ``kassa serve``,
stops the cluster under concurrent writes and starts it again on the same port.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

import kassa
from kassa.app import create_app
from kassa.config import Settings
from kassa.db import migrate
from kassa.db.engine import Database
from kassa.errors import ServiceUnavailable
from tests.conftest import ORDERS, Tenant, client_for, create_order, get_order, make_tenant

pytestmark = pytest.mark.skipif(
    not os.environ.get("KASSA_TEST_DATABASE_URL", "").startswith("postgresql"),
    reason="PostgreSQL only",
)

PG_SH = Path(__file__).resolve().parents[2] / "scripts" / "pg.sh"
NO_HANG_S = 10  # an answer slower than this would be a hang; not a timing assertion
WRITERS = 4


def assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "1"
    body = response.json()
    assert body["code"] == "service-unavailable"
    assert isinstance(body["message"], str) and body["message"]
    assert set(body) == {"code", "message", "requestId"}


# --- a request that gets no connection in time --------------------------------------------------


@pytest.fixture
async def one_connection(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url, pool_size=1, pool_timeout=0.2)
    yield database
    await database.dispose()


async def test_no_free_connection_in_time_is_503_with_retry_after(
    database_url: str, db: Database, one_connection: Database
) -> None:
    tenant = await make_tenant(db)
    app = create_app(Settings(database_url=database_url, access_log=False), db=one_connection)
    held = asyncio.Event()

    def hold(conn: Any) -> Any:
        held.set()
        return conn.execute(text("SELECT pg_sleep(1)")).scalar()

    async with client_for(app, tenant.headers) as client:
        order_id = await create_order(client)
        await get_order(client, order_id)  # the point-read pool has its one connection open
        # hold the only connection of both pools: the engine's and the point reads'
        engine_holder = asyncio.create_task(one_connection.read(hold))
        await held.wait()
        point_holder = asyncio.create_task(one_connection.fetch_one("SELECT pg_sleep(1)", {}))
        await asyncio.sleep(0.1)  # let it take the idle connection (no I/O involved)
        read = await client.get(f"{ORDERS}/{order_id}")
        listed = await client.get(ORDERS)
        write = await client.post(ORDERS, json={}, headers={"Idempotency-Key": "pool-1"})
        await engine_holder
        await point_holder
        assert_unavailable(read)
        assert_unavailable(listed)
        assert_unavailable(write)
        # the connections are free again: the same requests succeed, the key runs afresh
        assert (await get_order(client, order_id))["id"] == order_id
        retried = await client.post(ORDERS, json={}, headers={"Idempotency-Key": "pool-1"})
        assert retried.status_code == 201, retried.text
        assert "idempotent-replayed" not in retried.headers
        assert set(retried.json()) == {"id"}


# --- statement_timeout --------------------------------------------------------------------------


async def test_statement_timeout_is_set_and_answers_503(database_url: str) -> None:
    database = Database(database_url, pool_size=1, statement_timeout=0.2)
    try:
        setting = await database.read(lambda c: c.execute(text("SHOW statement_timeout")).scalar())
        with pytest.raises(ServiceUnavailable) as raised:
            await database.write(lambda c: c.execute(text("SELECT pg_sleep(2)")).scalar())
        after = await database.read(lambda c: c.execute(text("SELECT 1")).scalar())
    finally:
        await database.dispose()
    assert setting == "200ms"
    assert raised.value.status == 503
    assert raised.value.body() == {
        "code": "service-unavailable",
        "message": "The database did not answer in time.",
    }
    assert raised.value.headers == {"Retry-After": "1"}
    assert after == 1  # the connection stays usable


async def test_statement_timeout_zero_leaves_the_server_setting(database_url: str) -> None:
    database = Database(database_url, pool_size=1, statement_timeout=0)
    try:
        setting = await database.read(lambda c: c.execute(text("SHOW statement_timeout")).scalar())
    finally:
        await database.dispose()
    assert setting == "0"


# --- connections lost under the single-statement pool ---------------------------------------------


async def test_a_one_statement_write_on_a_lost_connection_is_503_once(database_url: str) -> None:
    """The server ends every connection of the asyncpg pool (as a restart would): a one-statement
    write on one of them answers 503 (its outcome unknown, so it is not run again), and the
    pool's other connections are replaced, so the next read and write succeed at once."""
    database = Database(database_url, pool_size=3)
    admin = Database(database_url, pool_size=1)
    probe = "SELECT pg_backend_pid() FROM pg_sleep(0.05)"
    slow_write = "UPDATE alembic_version SET version_num = version_num FROM pg_sleep(0.05)"
    try:
        pids = await asyncio.gather(*(database.fetch_one(probe, {}) for _ in range(3)))
        ended = await admin.fetch_all(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = ANY(:pids)",
            {"pids": [row[0] for row in pids if row is not None]},
        )
        with pytest.raises(ServiceUnavailable) as raised:
            await database.write_one("UPDATE alembic_version SET version_num = version_num", {})
        # at once, so that each takes another of the pool's connections
        changed = await asyncio.gather(*(database.write_one(slow_write, {}) for _ in range(3)))
        read = await asyncio.gather(*(database.fetch_one(probe, {}) for _ in range(3)))
    finally:
        await database.dispose()
        await admin.dispose()
    assert len(ended) == 3 and all(row[0] is True for row in ended)
    assert raised.value.status == 503
    assert raised.value.body() == {
        "code": "service-unavailable",
        "message": "The connection to the database was lost.",
    }
    assert changed == [1, 1, 1]
    assert len({row[0] for row in read if row is not None}) == 3  # three new connections


# --- an outage under concurrent writes ----------------------------------------------------------


def pg(action: str, directory: str) -> str:
    result = subprocess.run(
        ["bash", str(PG_SH), action, directory],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.fixture
def own_postgres() -> Iterator[tuple[str, str]]:
    """A cluster of this test's own, in a directory the postgres user can reach."""
    directory = tempfile.mkdtemp(prefix="kassa-outage-")
    try:
        yield pg("start", directory), directory
    finally:
        pg("stop", directory)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Served:
    base: str
    proc: subprocess.Popen[bytes]
    log: Path


@pytest.fixture
def served(own_postgres: tuple[str, str], tmp_path: Path) -> Iterator[Served]:
    url = own_postgres[0]
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("KASSA_")}
    env.update(
        # this checkout's source, whatever the console script was installed from
        PYTHONPATH=str(Path(kassa.__file__).resolve().parents[1]),
        KASSA_DATABASE_POOL_SIZE="4",
        KASSA_DATABASE_CONNECT_TIMEOUT="2",
        KASSA_ACCESS_LOG="false",
    )
    executable = shutil.which("kassa", path=str(Path(sys.executable).parent)) or "kassa"
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [executable, "serve", "--port", str(port), "--database", url],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # stopped by the fixture only, not by a Ctrl-C of the run
        )
    try:
        yield Served(f"http://127.0.0.1:{port}", proc, log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@dataclass
class Sent:
    method: str
    path: str
    body: dict[str, Any]
    key: str
    started: float
    ended: float
    response: httpx.Response


@dataclass
class Writer:
    """Creates orders and patches attributes, every write with an Idempotency-Key."""

    number: int
    client: httpx.AsyncClient
    sent: list[Sent] = field(default_factory=list)
    order_id: str | None = None
    # acknowledged: order id -> attributes it must have
    acked: dict[str, dict[str, Any]] = field(default_factory=dict)

    async def send(self, method: str, path: str, body: dict[str, Any], key: str) -> Sent:
        started = time.monotonic()
        response = await self.client.request(
            method, path, json=body, headers={"Idempotency-Key": key}
        )
        sent = Sent(method, path, body, key, started, time.monotonic(), response)
        self.sent.append(sent)
        return sent

    def ack(self, sent: Sent) -> None:
        status = sent.response.status_code
        if sent.method == "POST":
            assert status == 201, sent.response.text
            order_id = sent.response.json()["id"]
            self.acked.setdefault(order_id, {}).update(sent.body["attributes"])
            self.order_id = order_id
        else:
            assert status == 200 and sent.response.content == b"", sent.response.text
            self.acked[sent.path.split("/")[-2]].update(sent.body)

    async def run(self, stop: asyncio.Event) -> None:
        seq = 0
        while not stop.is_set():
            seq += 1
            name = f"w{self.number}-{seq}"
            if self.order_id is None or seq % 4 == 0:
                sent = await self.send("POST", ORDERS, {"attributes": {name: seq}}, name)
            else:
                path = f"{ORDERS}/{self.order_id}/attributes"
                sent = await self.send("PATCH", path, {name: seq}, name)
            if sent.response.status_code < 300:
                self.ack(sent)
            await asyncio.sleep(0.02)

    async def settle(self, sent: Sent) -> None:
        """Retry a write that answered 503 with its key until it is acknowledged."""
        deadline = time.monotonic() + 15
        while True:
            response = await self.client.request(
                sent.method, sent.path, json=sent.body, headers={"Idempotency-Key": sent.key}
            )
            if response.status_code != 409 or time.monotonic() > deadline:
                break
            assert response.json()["code"] == "idempotency-key-in-flight", response.text
            await asyncio.sleep(0.2)
        self.ack(Sent(sent.method, sent.path, sent.body, sent.key, 0, 0, response))


async def wait_until_ready(client: httpx.AsyncClient, served: Served) -> httpx.Response:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and served.proc.poll() is None:
        try:
            response = await client.get("/health/ready")
            if response.status_code == 200:
                return response
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.1)
    pytest.fail("kassa serve did not become ready:\n" + served.log.read_text())


async def wait_for(condition: Any, what: str, served: Served) -> None:
    deadline = time.monotonic() + 20
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}:\n" + served.log.read_text())
        await asyncio.sleep(0.05)


async def test_outage_answers_503_and_kassa_recovers_without_restart(
    own_postgres: tuple[str, str], served: Served
) -> None:
    url, directory = own_postgres
    database = Database(url, pool_size=1)
    try:
        await migrate.upgrade(database)
        tenant: Tenant = await make_tenant(database)
    finally:
        await database.dispose()
    timeout = httpx.Timeout(NO_HANG_S + 5)
    async with contextlib.AsyncExitStack() as stack:
        anonymous = await stack.enter_async_context(
            httpx.AsyncClient(base_url=served.base, timeout=timeout)
        )
        await wait_until_ready(anonymous, served)
        clients = [
            await stack.enter_async_context(
                httpx.AsyncClient(base_url=served.base, headers=tenant.headers, timeout=timeout)
            )
            for _ in range(WRITERS)
        ]
        writers = [Writer(n, c) for n, c in enumerate(clients)]
        stop = asyncio.Event()
        tasks = [asyncio.create_task(w.run(stop)) for w in writers]
        try:
            await wait_for(lambda: all(len(w.sent) >= 5 for w in writers), "writes", served)

            await asyncio.to_thread(pg, "pause", directory)
            down = time.monotonic()
            await wait_for(
                lambda: all(sum(s.started > down for s in w.sent) >= 3 for w in writers),
                "requests during the outage",
                served,
            )
            ready_down = await anonymous.get("/health/ready")
            up = time.monotonic()
            await asyncio.to_thread(pg, "resume", directory)

            ready_up = await wait_until_ready(anonymous, served)
            recovered = time.monotonic()
            await wait_for(
                lambda: all(
                    any(s.started > recovered and s.response.status_code < 300 for s in w.sent)
                    for w in writers
                ),
                "writes after recovery",
                served,
            )
        finally:
            stop.set()
            await asyncio.gather(*tasks)

        assert served.proc.poll() is None, "kassa serve must not have been restarted"
        assert ready_down.status_code == 503, ready_down.text
        assert ready_down.json() == {
            "status": "unavailable",
            "checks": {"database": "failed", "migrations": "failed"},
            "code": "service-unavailable",
            "message": "database or migrations not ready",
        }
        assert ready_up.json() == {
            "status": "ok",
            "checks": {"database": "ok", "migrations": "ok"},
        }
        sent = [s for w in writers for s in w.sent]
        assert all(s.ended - s.started < NO_HANG_S for s in sent)
        during = [s for s in sent if down < s.started and s.ended < up]
        assert during, "no request was answered while PostgreSQL was down"
        for s in during:
            assert_unavailable(s.response)
        for s in sent:
            if s.response.status_code >= 300:  # around the outage: 503, never anything else
                assert_unavailable(s.response)

        # every write answered 503 is retried with its key: it runs afresh or is replayed
        for writer in writers:
            for s in list(writer.sent):
                if s.response.status_code == 503:
                    await writer.settle(s)

        # every acknowledged write is stored, and no order exists twice
        acked = {k: v for w in writers for k, v in w.acked.items()}
        listed = await clients[0].get(ORDERS, params={"limit": 100})
        assert listed.status_code == 200, listed.text
        assert listed.json()["pagination"]["totalSize"] == len(acked)
        for order_id, attributes in acked.items():
            order = await clients[0].get(f"{ORDERS}/{order_id}")
            assert order.status_code == 200, order.text
            stored = order.json()["attributes"]
            assert {k: stored.get(k) for k in attributes} == attributes
