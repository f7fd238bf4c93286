"""The ``kassa`` command: serve, demo, migrate, worker, backup, apikey, operator."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer

from kassa.config import Settings
from kassa.db.engine import Database
from kassa.errors import KassaError

T = TypeVar("T")

app = typer.Typer(help="kassa: checkout order management.", no_args_is_help=True)
apikey_app = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)
app.add_typer(apikey_app, name="apikey")
operator_app = typer.Typer(
    help="Operator accounts of the console (/console): create, list, disable, reset-password.",
    no_args_is_help=True,
)
app.add_typer(operator_app, name="operator")
adapter_app = typer.Typer(help="Run a built-in adapter on its own.", no_args_is_help=True)
app.add_typer(adapter_app, name="adapter")

DatabaseOpt = Annotated[
    str | None,
    typer.Option("--database", help="Database URL (overrides KASSA_DATABASE_URL)."),
]


def _settings(database: str | None) -> Settings:
    return Settings.from_env(database_url=database)


def _run(database: str | None, work: Callable[[Database], Awaitable[T]]) -> T:
    async def main() -> T:
        settings = _settings(database)
        db = Database(settings.database_url, pool_size=1, pgbouncer=settings.database_pgbouncer)
        try:
            return await work(db)
        finally:
            await db.dispose()

    try:
        return asyncio.run(main())
    except KassaError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from None


@app.command()
def migrate(database: DatabaseOpt = None) -> None:
    """Bring the database schema to the latest revision (idempotent)."""
    from kassa.db import migrate as migrations

    _run(database, migrations.upgrade)
    typer.echo("database is at the latest revision")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind.")] = None,
    port: Annotated[int | None, typer.Option(help="TCP port.")] = None,
    database: DatabaseOpt = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes.")] = None,
) -> None:
    """Serve the API. SQLite databases are created and migrated on start. SIGTERM stops
    accepting, lets the requests in flight finish, and exits 0."""
    from kassa import logs, serving

    settings = Settings.from_env(database_url=database, host=host, port=port, workers=workers)
    _refuse_bad_adapters(settings)
    # worker processes read their settings from the environment
    os.environ["KASSA_DATABASE_URL"] = settings.database_url
    logs.setup(settings.log_level)
    if settings.is_sqlite:
        from kassa.db import migrate as migrations

        _run(settings.database_url, migrations.upgrade)
    serving.serve(settings)


@app.command()
def demo(
    host: Annotated[str | None, typer.Option(help="Interface to bind.")] = None,
    port: Annotated[int | None, typer.Option(help="TCP port.")] = None,
    database: Annotated[
        str | None,
        typer.Option(
            "--database",
            help="Database URL (default ./kassa-demo.db; not KASSA_DATABASE_URL, so that a "
            "demo never touches a real database).",
        ),
    ] = None,
    keep: Annotated[
        bool, typer.Option("--keep", help="Keep the demo database of an earlier run.")
    ] = False,
) -> None:
    """A sandbox checkout in one command: a fresh demo database, merchant demo / channel demo,
    an API key, the console's admin, the Non-PSP and sandbox PSP and shipping adapters
    configured and mounted, the storefront at /demo. Prints the URLs and logins, then serves
    until SIGTERM/SIGINT."""
    from kassa import demo_command, logs, serving

    settings, prepared = demo_command.run(database, host, port, keep)
    _refuse_bad_adapters(settings)
    logs.setup(settings.log_level)
    typer.echo(demo_command.banner(settings, prepared))
    serving.serve(settings)


@app.command()
def worker(database: DatabaseOpt = None) -> None:
    """Run notification delivery only, until SIGTERM/SIGINT (PostgreSQL deployments; on SQLite
    it becomes the one delivery loop of the database while no other holds the lease)."""
    from kassa import logs, serving

    settings = Settings.from_env(database_url=database)
    _refuse_bad_adapters(settings)
    logs.setup(settings.log_level)
    # with a metrics directory shared with `kassa serve`, its /metrics include this worker's
    with serving.metrics_directory(settings.metrics_dir, processes=1) as metrics:
        try:
            code = asyncio.run(_worker(settings))
        finally:
            if metrics is not None:
                serving.mark_dead(os.getpid(), metrics)
    if code != 0:
        raise typer.Exit(1)


async def _worker(settings: Settings) -> int:
    import logging
    import signal

    from kassa.app import create_app
    from kassa.db import migrate as migrations
    from kassa.delivery.loop import DeliveryLoop
    from kassa.state import AppState

    log = logging.getLogger("kassa.worker")
    db = Database(
        settings.database_url,
        pool_size=4,
        pgbouncer=settings.database_pgbouncer,
        pool_timeout=settings.database_pool_timeout,
        connect_timeout=settings.database_connect_timeout,
        statement_timeout=settings.database_statement_timeout,
    )
    # the application object (never served here) receives the notifications addressed to the
    # adapters mounted in this process (adapters.md §1.2)
    state: AppState = create_app(settings, db=db).state.kassa
    try:
        if settings.is_sqlite:
            await migrations.upgrade(db)
        elif not await migrations.is_current(db):
            typer.echo("error: the database is not migrated; run `kassa migrate` first", err=True)
            return 1
        state.migrated = True
        loop = DeliveryLoop(state)
        running = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            running.add_signal_handler(signum, loop.stop)
        log.info("delivering notifications", extra={"holder": loop.holder})
        await loop.run()
        log.info("stopped: current attempts finished, leases released")
        return 0
    finally:
        if state.outbound is not None:
            await state.outbound.aclose()
        await db.dispose()


def _refuse_bad_adapters(settings: Settings) -> None:
    from kassa.adapters.registry import problems

    found = problems(settings)
    if found:
        for problem in found:
            typer.echo(f"error: {problem}", err=True)
        raise typer.Exit(1)


@adapter_app.command("serve")
def adapter_serve(
    name: Annotated[str, typer.Argument(help="The adapter id, e.g. nonpsp_adapter.")],
    host: Annotated[str | None, typer.Option(help="Interface to bind.")] = None,
    port: Annotated[int | None, typer.Option(help="TCP port.")] = None,
) -> None:
    """Run one built-in adapter alone, talking to kassa over the network (it needs
    KASSA_ADAPTER_ORDER_API_URL, KASSA_ADAPTER_CONFIGURATION_API_URL, KASSA_ADAPTER_API_KEY,
    KASSA_ADAPTER_CALLBACK_BASE_URL and KASSA_WEBHOOK_SECRET(S)). Its database
    (KASSA_DATABASE_URL) keeps its idempotency records."""
    import uvicorn

    from kassa import adapter_serve as alone
    from kassa import logs

    settings = Settings.from_env(host=host, port=port)
    found = alone.standalone_problems(settings, name)
    if found:
        for problem in found:
            typer.echo(f"error: {problem}", err=True)
        raise typer.Exit(1)
    logs.setup(settings.log_level)
    db = Database(
        settings.database_url,
        pool_size=4,
        pgbouncer=settings.database_pgbouncer,
        pool_timeout=settings.database_pool_timeout,
        connect_timeout=settings.database_connect_timeout,
        statement_timeout=settings.database_statement_timeout,
    )
    config = uvicorn.Config(
        alone.standalone_app(settings, name, db),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        lifespan="on",
        server_header=False,
    )
    server = uvicorn.Server(config)
    server.run()
    if not server.started:
        raise typer.Exit(1)


@app.command()
def backup(
    path: Annotated[Path, typer.Argument(help="The backup file to write.")],
    force: Annotated[bool, typer.Option("--force", help="Overwrite PATH if it exists.")] = False,
    database: DatabaseOpt = None,
) -> None:
    """Copy an SQLite database to PATH while the service runs. For PostgreSQL, print the
    pg_dump command to use instead."""
    from kassa.db import backup as backups

    settings = _settings(database)
    if not settings.is_sqlite:
        typer.echo(
            "error: kassa backup copies SQLite databases; back up PostgreSQL with pg_dump "
            "(restore with pg_restore). The password is left out: pg_dump reads it from "
            "PGPASSWORD or ~/.pgpass. Run:",
            err=True,
        )
        typer.echo(backups.pg_dump_command(settings.database_url, path))
        raise typer.Exit(1)
    try:
        made = backups.backup_sqlite(settings.database_url, path, force=force)
    except backups.BackupError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(
        f"wrote {made.target}: a copy of {made.source} ({made.size} bytes, {made.orders} "
        f"orders, schema revision {made.revision or 'none'})"
    )


@apikey_app.command("create")
def apikey_create(
    merchant: Annotated[str | None, typer.Option(help="Merchant the key acts for.")] = None,
    channel: Annotated[
        list[str] | None, typer.Option(help="Channel (repeatable); all channels when omitted.")
    ] = None,
    name: Annotated[str | None, typer.Option(help="Unique key name.")] = None,
    adapter_id: Annotated[str | None, typer.Option(help="Adapter id recorded as actor.")] = None,
    all_merchants: Annotated[
        bool,
        typer.Option(
            "--all-merchants",
            help="A service key of an adapter: every merchant and channel (needs --adapter-id).",
        ),
    ] = False,
    database: DatabaseOpt = None,
) -> None:
    """Create an API key; the key is printed alone on the last line, once."""
    from kassa.auth import keys

    if all_merchants and (merchant or channel or not adapter_id):
        typer.echo(
            "error: --all-merchants needs --adapter-id and takes no --merchant or --channel",
            err=True,
        )
        raise typer.Exit(2)
    if not all_merchants and not merchant:
        typer.echo("error: --merchant is required (or --all-merchants)", err=True)
        raise typer.Exit(2)

    async def work(db: Database) -> tuple[str, keys.ApiKey]:
        return await keys.create_key(
            db,
            merchant=merchant or "",
            channels=channel or None,
            name=name,
            adapter_id=adapter_id,
            all_merchants=all_merchants,
        )

    key, info = _run(database, work)
    channels = ",".join(info.channels) if info.channels else "*"
    merchants = "all merchants" if info.merchant == keys.ALL_MERCHANTS else repr(info.merchant)
    who = f"merchant {merchants}" if info.merchant else merchants
    adapter = f", adapter {info.adapter_id!r}" if info.adapter_id else ""
    typer.echo(f"created key {info.name!r} for {who}, channels {channels}{adapter}")
    typer.echo(key)


@apikey_app.command("list")
def apikey_list(database: DatabaseOpt = None) -> None:
    """List keys (never the key itself)."""
    from kassa.auth import keys

    found = _run(database, keys.list_keys)
    typer.echo("name\tmerchant\tchannels\tadapterId\tcreated\trevoked")
    for key in found:
        channels = ",".join(key.channels) if key.channels else "*"
        typer.echo(
            f"{key.name}\t{key.merchant or '*'}\t{channels}\t{key.adapter_id or '-'}\t"
            f"{key.created}\t{key.revoked or '-'}"
        )


@apikey_app.command("revoke")
def apikey_revoke(name: str, database: DatabaseOpt = None) -> None:
    """Revoke the key called NAME; it stops working on the next request."""
    from kassa.auth import keys

    async def work(db: Database) -> bool:
        return await keys.revoke_key(db, name)

    if not _run(database, work):
        typer.echo(f"no active key named {name!r}", err=True)
        raise typer.Exit(1)
    typer.echo(f"revoked {name!r}")


@apikey_app.command("ensure-dev")
def apikey_ensure_dev(
    key_file: Annotated[Path, typer.Option(help="Where the development key is kept.")] = Path(
        ".kassa-dev-key"
    ),
    database: DatabaseOpt = None,
) -> None:
    """Print a working development key for merchant demo / channel demo, creating it if needed."""
    from kassa.auth import keys

    async def work(db: Database) -> str:
        if key_file.exists():
            existing = key_file.read_text().strip()
            if existing and await keys.key_is_valid(db, existing):
                return existing
        key, _ = await keys.create_key(
            db,
            merchant="demo",
            channels=["demo"],
            name=f"dev-{os.urandom(3).hex()}",
        )
        key_file.write_text(key + "\n")
        key_file.chmod(0o600)
        return key

    key = _run(database, work)
    typer.echo("development API key for merchant 'demo', channel 'demo':")
    typer.echo(
        "  curl -H 'Authorization: Bearer KEY' -H 'x-merchant: demo' -H 'x-channel: demo' "
        "http://127.0.0.1:8000/api/v0/checkout/orders"
    )
    typer.echo(str(key))


@operator_app.command("create")
def operator_create(
    name: str,
    merchant: Annotated[str, typer.Option(help="Merchant the operator works for.")],
    role: Annotated[str, typer.Option(help="viewer, operator or admin.")] = "viewer",
    channel: Annotated[
        list[str] | None, typer.Option(help="Channel (repeatable); all channels when omitted.")
    ] = None,
    database: DatabaseOpt = None,
) -> None:
    """Create an operator; its password is printed alone on the last line, once."""
    from kassa.console import accounts

    if role not in accounts.Role.__members__:
        typer.echo("error: --role must be viewer, operator or admin", err=True)
        raise typer.Exit(2)

    async def work(db: Database) -> tuple[accounts.Operator, str]:
        return await accounts.create_operator(
            db, name, merchant=merchant, role=accounts.Role(role), channels=channel or None
        )

    operator, password = _run(database, work)
    channels = ",".join(operator.channels) if operator.channels else "*"
    typer.echo(
        f"created operator {operator.name!r} ({operator.role}) for merchant "
        f"{operator.merchant!r}, channels {channels}; password:"
    )
    typer.echo(password)


@operator_app.command("list")
def operator_list(database: DatabaseOpt = None) -> None:
    """List operators (never their passwords)."""
    from kassa.console import accounts

    found = _run(database, accounts.list_operators)
    typer.echo("name\tmerchant\trole\tchannels\tcreated\tdisabled")
    for op in found:
        channels = ",".join(op.channels) if op.channels else "*"
        typer.echo(
            f"{op.name}\t{op.merchant}\t{op.role}\t{channels}\t{op.created}\t{op.disabled or '-'}"
        )


@operator_app.command("disable")
def operator_disable(name: str, database: DatabaseOpt = None) -> None:
    """Disable the operator NAME; its sessions end at once."""
    from kassa.console import accounts

    async def work(db: Database) -> bool:
        return await accounts.disable_operator(db, name)

    if not _run(database, work):
        typer.echo(f"no enabled operator named {name!r}", err=True)
        raise typer.Exit(1)
    typer.echo(f"disabled {name!r}")


@operator_app.command("reset-password")
def operator_reset_password(name: str, database: DatabaseOpt = None) -> None:
    """Give NAME a new password (printed alone on the last line); its sessions end."""
    from kassa.console import accounts

    async def work(db: Database) -> str | None:
        return await accounts.reset_password(db, name)

    password = _run(database, work)
    if password is None:
        typer.echo(f"no operator named {name!r}", err=True)
        raise typer.Exit(1)
    typer.echo(f"new password for {name!r}:")
    typer.echo(password)


@operator_app.command("ensure-dev")
def operator_ensure_dev(database: DatabaseOpt = None) -> None:
    """Create the development admin ``admin`` of merchant demo unless it exists; its password
    is printed once, when it is created."""
    from kassa.console import accounts

    async def work(db: Database) -> str | None:
        if await accounts.get_operator(db, "admin") is not None:
            return None
        _, password = await accounts.create_operator(
            db, "admin", merchant="demo", role=accounts.Role.admin
        )
        return password

    password = _run(database, work)
    host, port = os.environ.get("KASSA_HOST", "127.0.0.1"), os.environ.get("KASSA_PORT", "8000")
    if password is None:
        typer.echo(
            f"console: http://{host}:{port}/console, operator 'admin' exists "
            "(new password: kassa operator reset-password admin)"
        )
        return
    typer.echo(
        f"console: http://{host}:{port}/console, operator 'admin' (merchant demo), password "
        "(shown once):"
    )
    typer.echo(password)


def main() -> None:
    app()
