"""Running the real ``kassa`` console script: its path, a clean environment, the SQLite file a
command works on, free ports, and ``kassa serve`` as a subprocess that is always stopped."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

import kassa as kassa_package

TIMEOUT = 60  # generous upper bound per command; not a timing assertion
READY_S = 30  # generous bound for a server to answer /health/ready


def kassa_executable() -> str:
    beside = Path(sys.executable).parent / "kassa"
    if beside.exists():
        return str(beside)
    found = shutil.which("kassa")
    assert found, "the kassa console script is not installed"
    return found


KASSA = kassa_executable()


def source_path() -> str:
    """PYTHONPATH for a subprocess that must run the code under test: the directory this
    process imported ``kassa`` from comes first (a relative ``PYTHONPATH=src`` would name
    another directory, or nothing, from the subprocess's working directory)."""
    own = str(Path(kassa_package.__file__).resolve().parent.parent)
    inherited = [
        os.path.abspath(p) for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p
    ]
    return os.pathsep.join([own, *(p for p in inherited if p != own)])


def clean_env(**extra: str) -> dict[str, str]:
    """The current environment without any KASSA_* setting, plus ``extra``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("KASSA_") and k != "PROMETHEUS_MULTIPROC_DIR"
    }
    env["PYTHONPATH"] = source_path()
    env["TYPER_STANDARD_TRACEBACK"] = "1"  # plain tracebacks: rich rendering is slow
    env.update(extra)
    return env


@dataclass
class Sqlite:
    path: Path

    @property
    def url(self) -> str:
        return f"sqlite+aiosqlite:///{self.path}"

    def rows(self, sql: str, *params: object) -> list[tuple[object, ...]]:
        conn = sqlite3.connect(self.path)
        try:
            return list(conn.execute(sql, params))
        finally:
            conn.close()


def kassa(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [KASSA, *args],
        cwd=cwd,
        env=env if env is not None else clean_env(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def last_line(out: str) -> str:
    lines = out.rstrip("\n").split("\n")
    return lines[-1]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    base: str
    port: int
    db: Sqlite
    proc: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text()

    def refuses_connections(self) -> bool:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.settimeout(2)
            try:
                sock.connect(("127.0.0.1", self.port))
            except ConnectionRefusedError:
                return True
            return False


@contextlib.contextmanager
def kassa_serve(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None, name: str = "serve"
) -> Iterator[Server]:
    """``kassa serve`` on a fresh SQLite file and a free port, in a process group of its own:
    whatever happens, the server and any worker processes it started are killed at the end."""
    db = Sqlite(tmp_path / f"{name}.db")
    port = free_port()
    log = tmp_path / f"{name}.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [KASSA, "serve", "--port", str(port), "--database", db.url, *args],
            cwd=tmp_path,
            env=env if env is not None else clean_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield Server(f"http://127.0.0.1:{port}", port, db, proc, log)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def wait_ready(server: Server) -> None:
    deadline = time.monotonic() + READY_S
    while time.monotonic() < deadline and server.proc.poll() is None:
        try:
            if httpx.get(server.base + "/health/ready", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError("kassa serve did not become ready:\n" + server.output())


async def wait_ready_async(server: Server) -> None:
    deadline = time.monotonic() + READY_S
    async with httpx.AsyncClient(timeout=1) as client:
        while time.monotonic() < deadline and server.proc.poll() is None:
            try:
                if (await client.get(server.base + "/health/ready")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError("kassa serve did not become ready:\n" + server.output())


async def exit_code(server: Server) -> int:
    """Wait (bounded) for the server process to exit."""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        code = server.proc.poll()
        if code is not None:
            return code
        await asyncio.sleep(0.05)
    raise AssertionError("kassa serve did not exit:\n" + server.output())
