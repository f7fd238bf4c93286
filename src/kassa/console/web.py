"""The console's web plumbing: templates (autoescaped), security headers, the session cookie,
CSRF and role checks of a POST, form parsing, and the error page."""

from __future__ import annotations

import secrets
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote

import orjson
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from kassa import jsonutil
from kassa.console import accounts
from kassa.console.accounts import Role, Session
from kassa.errors import KassaError, PreconditionFailed
from kassa.http import app_state

PREFIX = "/console"
COOKIE = "kassa_console"
LOGIN_CSRF_COOKIE = "kassa_console_login"
HERE = Path(__file__).parent
MAX_FORM = 256 * 1024

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

templates = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


def _pretty_json(value: Any, **_: Any) -> str:
    """``tojson`` of the templates: exact decimals (as the API writes them), indented."""
    return orjson.dumps(value, default=_decimal, option=orjson.OPT_INDENT_2).decode()


def _decimal(value: Any) -> Any:
    if isinstance(value, Decimal):
        return orjson.Fragment(jsonutil.canonical_decimal(value))
    raise TypeError(type(value).__name__)


templates.policies["json.dumps_function"] = _pretty_json


def render(
    request: Request,
    template: str,
    session: Session | None,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    body = templates.get_template(template).render(
        prefix=PREFIX,
        session=session,
        operator=session.operator if session else None,
        Role=Role,
        new_key=new_key,
        request=request,
        **context,
    )
    return HTMLResponse(body, status_code=status, headers=SECURITY_HEADERS)


def new_key() -> str:
    """A fresh Idempotency-Key for one form: a double submit carries the same key."""
    return "console-" + secrets.token_urlsafe(18)


def secure(request: Request) -> bool:
    return app_state(request).settings.console_secure_cookie


def set_cookie(request: Request, response: Response, name: str, value: str) -> None:
    response.set_cookie(
        name,
        value,
        httponly=True,
        samesite="lax",
        secure=secure(request),
        path=PREFIX,
    )


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303, headers=SECURITY_HEADERS)


async def session_of(request: Request) -> Session | None:
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    state = app_state(request)
    return await accounts.resume_session(state.db, token, state.settings.console_session_idle)


async def form(request: Request) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body (the console's forms), first values."""
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_FORM:
            break
    parsed = parse_qs(raw[:MAX_FORM].decode("utf-8", "replace"), keep_blank_values=True)
    return {name: values[0] for name, values in parsed.items()}


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


class _StaticFiles(StaticFiles):
    """The package's assets, with the console's security headers."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers.update({k: v for k, v in SECURITY_HEADERS.items() if k != "Cache-Control"})
        return response


def static_files() -> StaticFiles:
    return _StaticFiles(directory=HERE / "static")


DONE = {
    "capture": "Capture recorded.",
    "refund": "Refund recorded.",
    "action": "Action executed.",
    "retry": "Delivery retry scheduled.",
    "replayed": "That form was already submitted; it was executed once.",
    "saved": "Saved.",
    "revoked": "Revoked.",
    "disabled": "Operator disabled.",
}


class Denied(KassaError):
    code, status = "forbidden", 403


class BadCsrf(KassaError):
    code, status = "csrf-failed", 403


def login_redirect(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return redirect(f"{PREFIX}/login?next={quote(target, safe='')}")


async def posted(request: Request, role: Role) -> tuple[Session, dict[str, str]]:
    """The session and form of a POST: CSRF token first, then the role."""
    session = await session_of(request)
    fields = await form(request)
    if session is None or not accounts.same_token(session.csrf, fields.get("csrf")):
        raise BadCsrf("The form is missing its CSRF token or has expired; reload the page.")
    if not session.operator.role.at_least(role):
        raise Denied(f"Your role ({session.operator.role}) may not do this.")
    return session, fields


def error_page(request: Request, session: Session | None, exc: KassaError) -> Response:
    message = exc.message
    if isinstance(exc, PreconditionFailed):
        message = (
            "The order changed since this page was loaded (412): nothing was executed. "
            "Reload the order and try again."
        )
    return render(request, "error.html", session, status=exc.status, message=message, code=exc.code)


def text(fields: dict[str, str] | Any, name: str) -> str | None:
    value = fields.get(name)
    return value.strip() or None if isinstance(value, str) else None
