"""How ``kassa serve`` runs uvicorn, and the metrics directory its processes share.

- **Metrics of several processes.** prometheus_client's multiprocess mode is chosen by the
  environment variable ``PROMETHEUS_MULTIPROC_DIR`` when a process first imports it, so the
  directory is set here, in the parent, before uvicorn starts (spawns) its workers. Without a
  configured directory, ``kassa serve --workers N`` (N > 1) makes a fresh temporary one and
  removes it on exit; a single process keeps its metrics in memory.
- **Dead workers.** uvicorn replaces a worker that dies; the supervisor below then tells
  prometheus_client, so the dead process's "live" gauges stop counting.
- **Shutdown.** SIGTERM stops accepting at once (with workers the parent closes its copy of the
  listening socket too, so new connections are refused rather than queued), lets the requests
  in flight finish (at most ``GRACEFUL_SHUTDOWN_S``), and the command exits 0.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors import Multiprocess

from kassa.config import Settings

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
GRACEFUL_SHUTDOWN_S = 30

log = logging.getLogger("kassa.serve")


@contextlib.contextmanager
def metrics_directory(configured: str | None, processes: int) -> Iterator[Path | None]:
    """The directory of multiprocess metrics for this process and the ones it starts.

    ``configured`` (``KASSA_METRICS_DIR``), else an inherited ``PROMETHEUS_MULTIPROC_DIR``, is
    used as it is and kept: other processes of the host (``kassa worker``) may write to it. Else
    several ``processes`` get a fresh temporary directory, removed when the block ends; one
    process gets none (metrics in memory).
    """
    chosen = configured or os.environ.get(MULTIPROC_ENV) or None
    if chosen is not None:
        path = Path(chosen)
        path.mkdir(parents=True, exist_ok=True)
        os.environ[MULTIPROC_ENV] = str(path)
        yield path
        return
    if processes <= 1:
        yield None
        return
    path = Path(tempfile.mkdtemp(prefix="kassa-metrics-"))
    os.environ[MULTIPROC_ENV] = str(path)
    try:
        yield path
    finally:
        del os.environ[MULTIPROC_ENV]
        shutil.rmtree(path, ignore_errors=True)


def mark_dead(pid: int, directory: Path) -> None:
    """Forget the live gauges of process ``pid`` (its counters and histograms stay summed)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid, str(directory))  # type: ignore[no-untyped-call]


class _Supervisor(Multiprocess):
    """uvicorn's worker supervisor, plus: a worker that is gone (died and replaced, or retired)
    is marked dead in the metrics directory, and the parent's listening socket is closed as
    soon as shutdown begins."""

    def __init__(self, config: uvicorn.Config, sockets: list[socket.socket], metrics: Path | None):
        super().__init__(config, sockets)
        self.metrics = metrics
        self.known: set[int] = set()

    def _forget_departed(self) -> None:
        current = {p.pid for p in self.processes if p.pid is not None}
        if self.metrics is not None:
            for pid in self.known - current:
                mark_dead(pid, self.metrics)
        self.known = current

    def init_processes(self) -> None:
        super().init_processes()
        self._forget_departed()

    def keep_subprocess_alive(self) -> None:
        super().keep_subprocess_alive()
        self._forget_departed()

    def handle_signals(self) -> None:
        super().handle_signals()  # SIGHUP replaces every worker, SIGTTOU retires one
        self._forget_departed()

    def terminate_all(self) -> None:
        for sock in self.sockets:
            sock.close()
        super().terminate_all()

    def join_all(self) -> None:
        super().join_all()
        self.processes.clear()
        self._forget_departed()


def _exit_cleanly(signum: int, frame: FrameType | None) -> None:
    # uvicorn re-raises the SIGTERM it handled once it has shut down; that ends here, as a
    # normal exit (the default action would report death by signal)
    raise SystemExit(0)


def serve(settings: Settings) -> None:
    """Run the API until SIGTERM/SIGINT: one uvicorn process, or a supervisor and workers."""
    config = uvicorn.Config(
        "kassa.app:create_app_from_env",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
        server_header=False,
    )
    with metrics_directory(settings.metrics_dir, settings.workers) as metrics:
        signal.signal(signal.SIGTERM, _exit_cleanly)
        if settings.workers > 1:
            _Supervisor(config, [config.bind_socket()], metrics).run()
            return
        server = uvicorn.Server(config)
        try:
            server.run()
        except KeyboardInterrupt:
            pass
        finally:
            if metrics is not None:
                mark_dead(os.getpid(), metrics)
        if not server.started:
            raise SystemExit(STARTUP_FAILURE)
