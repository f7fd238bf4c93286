"""The console's configuration pages (role admin): the merchant's API keys (create — shown
once —, revoke), its operators (create, disable, new password) and the adapter configurations
of its channels (the Configuration API), edited as JSON and checked against their schema."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from kassa.auth import keys
from kassa.console import accounts
from kassa.console import service as console
from kassa.console.accounts import Role, Session
from kassa.console.web import (
    DONE,
    PREFIX,
    Denied,
    error_page,
    login_redirect,
    posted,
    redirect,
    render,
    session_of,
    text,
)
from kassa.errors import KassaError
from kassa.http import app_state

router = APIRouter(include_in_schema=False)  # included by kassa.console.routes, below /console


@router.get("/configuration")
async def configuration_page(request: Request) -> Response:
    session = await session_of(request)
    if session is None:
        return login_redirect(request)
    if not session.operator.role.at_least(Role.admin):
        return error_page(request, session, Denied("Configuration is for admins."))
    state = app_state(request)
    operator = session.operator
    api_keys = [k for k in await keys.list_keys(state.db) if k.merchant == operator.merchant]
    operators = await accounts.list_operators(state.db, operator.merchant)
    channels = await console.channels(request, operator)
    channel = text(request.query_params, "channel") or (channels[0] if channels else "")
    configs = await console.configurations_of(request, operator, channel) if channel else []
    return render(
        request,
        "configuration.html",
        session,
        api_keys=api_keys,
        operators=operators,
        channels=channels,
        channel=channel,
        configs=configs,
        created_key=None,
        created_password=None,
        done=DONE.get(request.query_params.get("done", "")),
        roles=list(Role),
    )


@router.post("/configuration/keys")
async def create_key(request: Request) -> Response:
    session: Session | None = None
    try:
        session, fields = await posted(request, Role.admin)
        channel = text(fields, "channel")
        key, info = await keys.create_key(
            app_state(request).db,
            merchant=session.operator.merchant,
            channels=[channel] if channel else None,
            name=text(fields, "name"),
        )
    except KassaError as exc:
        return error_page(request, session, exc)
    return render(request, "created.html", session, what=f"API key {info.name}", secret=key)


@router.post("/configuration/keys/{name}/revoke")
async def revoke_key(name: str, request: Request) -> Response:
    session: Session | None = None
    try:
        session, _ = await posted(request, Role.admin)
        db = app_state(request).db
        mine = {k.name for k in await keys.list_keys(db) if k.merchant == session.operator.merchant}
        if name not in mine or not await keys.revoke_key(db, name):
            raise Denied("No active key of your merchant has that name.")
    except KassaError as exc:
        return error_page(request, session, exc)
    return redirect(f"{PREFIX}/configuration?done=revoked")


@router.post("/configuration/operators")
async def create_operator(request: Request) -> Response:
    session: Session | None = None
    try:
        session, fields = await posted(request, Role.admin)
        role = fields.get("role", "viewer")
        channel = text(fields, "channel")
        operator, password = await accounts.create_operator(
            app_state(request).db,
            fields.get("name", "").strip(),
            merchant=session.operator.merchant,
            role=Role(role) if role in Role.__members__ else Role.viewer,
            channels=[channel] if channel else None,
        )
    except KassaError as exc:
        return error_page(request, session, exc)
    return render(
        request, "created.html", session, what=f"operator {operator.name}", secret=password
    )


@router.post("/configuration/operators/{name}/disable")
async def disable_operator(name: str, request: Request) -> Response:
    session: Session | None = None
    try:
        session, _ = await posted(request, Role.admin)
        db = app_state(request).db
        if not await accounts.disable_operator(db, name, session.operator.merchant):
            raise Denied("No enabled operator of your merchant has that name.")
    except KassaError as exc:
        return error_page(request, session, exc)
    return redirect(f"{PREFIX}/configuration?done=disabled")


@router.post("/configuration/operators/{name}/reset-password")
async def reset_operator_password(name: str, request: Request) -> Response:
    session: Session | None = None
    try:
        session, _ = await posted(request, Role.admin)
        db = app_state(request).db
        mine = {o.name for o in await accounts.list_operators(db, session.operator.merchant)}
        password = await accounts.reset_password(db, name) if name in mine else None
        if password is None:
            raise Denied("No operator of your merchant has that name.")
    except KassaError as exc:
        return error_page(request, session, exc)
    return render(
        request, "created.html", session, what=f"a new password for {name}", secret=password
    )


@router.post("/configuration/configurations")
async def save_configuration(request: Request) -> Response:
    session: Session | None = None
    try:
        session, fields = await posted(request, Role.admin)
        channel = fields.get("channel", "")
        await console.save_configuration(
            request,
            session.operator,
            channel,
            fields.get("json", ""),
            key=fields.get("idempotency_key", ""),
        )
    except KassaError as exc:
        return error_page(request, session, exc)
    return redirect(f"{PREFIX}/configuration?channel={quote(channel)}&done=saved")
