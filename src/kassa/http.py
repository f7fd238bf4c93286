"""The request side of every route: body limits, auth, headers, JSON, idempotency, validation.

``start`` runs the checks of api §1.9 in their precedence order (413, 401, 400 missing-header,
403, 415 / malformed JSON / bad key, idempotency) and returns a ``Call``; ``validate`` maps
pydantic errors to ``invalid-request`` / ``invalid-amount`` with JSON-Pointer paths.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError
from starlette.requests import Request
from starlette.responses import Response

from kassa import idempotency, jsonutil
from kassa.auth import keys
from kassa.auth.keys import Principal, authenticate
from kassa.dispatch import mount_prefix
from kassa.errors import (
    InvalidAmount,
    InvalidRequest,
    KassaError,
    PayloadTooLarge,
    PreconditionFailed,
    UnsupportedMediaType,
    field_error,
)
from kassa.idempotency import ABSENT, Claim, Outcome
from kassa.metrics import IDEMPOTENT_REPLAYS
from kassa.state import AppState

MAX_BODY = 1024 * 1024
_ETAG = re.compile(r'\s*(?:W/)?"([^"]*)"\s*')
M = TypeVar("M", bound=BaseModel)


@dataclass
class Call:
    """One API request after the generic checks.

    ``resolved`` is the caller; it is ``None`` while authentication waits for the write's
    locked read (``start(..., defer_auth=True)``), which looks the key up in the same statement.
    """

    request: Request
    app: AppState
    resolved: Principal | None
    body: Any  # parsed JSON, or ABSENT
    claim: Claim | None
    operation: str

    @property
    def request_id(self) -> str:
        return str(self.request.scope["state"]["request_id"])

    @property
    def principal(self) -> Principal:
        if self.resolved is None:
            raise RuntimeError("the caller is not authenticated yet")
        return self.resolved

    def key_params(self) -> dict[str, str]:
        return keys.lookup_params(self.request.headers.get("authorization"))

    def authenticate_with(self, row: Sequence[Any] | None) -> Principal:
        """Check the key row (``keys.LOOKUP``'s columns) read with the order; 401/400/403."""
        headers = self.request.headers
        self.resolved = keys.principal_of(
            row,
            merchant=headers.get("x-merchant"),
            channel=headers.get("x-channel"),
            adapter=headers.get("x-adapterid"),
        )
        return self.resolved

    async def authenticate(self) -> Principal:
        """The caller, looked up on its own if authentication was deferred."""
        if self.resolved is None:
            self.resolved = await _authenticate(self.request, self.app, channel_required=True)
        return self.resolved


def app_state(request: Request) -> AppState:
    state: AppState = request.app.state.kassa
    return state


async def _read_body(request: Request) -> bytes:
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > MAX_BODY:
        raise PayloadTooLarge()
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise PayloadTooLarge()
        chunks.append(chunk)
    return b"".join(chunks)


def _is_json(content_type: str | None) -> bool:
    if content_type is None:
        return True
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


@dataclass(frozen=True)
class PathTenant:
    """The tenant a route names in its path (adapters §2.1), instead of the headers';
    ``channel`` ``None``: the merchant's channel list (C1)."""

    merchant: str
    channel: str | None


async def _authenticate(
    request: Request, state: AppState, *, channel_required: bool, tenant: PathTenant | None = None
) -> Principal:
    headers = request.headers
    if tenant is not None:
        return await keys.authenticate_path(
            state.db,
            authorization=headers.get("authorization"),
            merchant=tenant.merchant,
            channel=tenant.channel,
            adapter=headers.get("x-adapterid"),
        )
    return await authenticate(
        state.db,
        authorization=headers.get("authorization"),
        merchant=headers.get("x-merchant"),
        channel=headers.get("x-channel"),
        adapter=headers.get("x-adapterid"),
        channel_required=channel_required,
    )


def _parse(request: Request, raw: bytes) -> Any:
    if not raw.strip():
        return ABSENT
    if not _is_json(request.headers.get("content-type")):
        raise UnsupportedMediaType()
    try:
        return jsonutil.parse_body(raw)
    except jsonutil.JSONError as exc:
        raise InvalidRequest(f"The body is not valid JSON: {exc}") from exc


async def start(
    request: Request,
    operation: str,
    *,
    body: bool = False,
    write: bool = False,
    channel_required: bool = True,
    defer_auth: bool = False,
    tenant: PathTenant | None = None,
) -> Call | Response:
    """Run the generic checks; return a ``Call``, or the replayed ``Response`` of a known key.

    ``defer_auth``: a write whose unit of work reads the order first (``Change``, ``Append``)
    may leave the key lookup to that read, one query (on PostgreSQL one round trip) fewer,
    without an Idempotency-Key (whose claim needs the merchant first). Any error raised before
    that read is preceded by the lookup (``run``), so 401/400/403 keep their precedence.

    ``tenant``: the route names merchant and channel in its path; the headers are ignored.
    """
    state = app_state(request)
    raw = await _read_body(request) if (body or write) else b""
    headers = request.headers
    if (
        defer_auth
        and headers.get("idempotency-key") is None
        and channel_required
        and tenant is None
    ):
        call = Call(request, state, None, ABSENT, None, operation)
        call.key_params()  # no key at all: 401 at once
        try:
            call.body = _parse(request, raw) if body else ABSENT
        except KassaError:
            await call.authenticate()
            raise
        return call
    principal = await _authenticate(
        request, state, channel_required=channel_required, tenant=tenant
    )
    parsed: Any = _parse(request, raw) if body else ABSENT
    claim: Claim | None = None
    key = headers.get("idempotency-key") if write else None
    if key is not None:
        idempotency.check_key(key)
        prefix = mount_prefix(request.scope, state.settings.path_prefix)
        path = request.url.path[len(prefix) :]
        fp = idempotency.fingerprint(
            request.method, path, principal.channel, principal.adapter_header, parsed
        )
        result = await idempotency.claim(state.db, principal.merchant, key, fp)
        if isinstance(result, Outcome):
            IDEMPOTENT_REPLAYS.inc()
            headers_out = {**result.headers, "Idempotent-Replayed": "true"}
            return Response(result.body, status_code=result.status, headers=headers_out)
        claim = result
    return Call(request, state, principal, parsed, claim, operation)


async def start_read(
    request: Request,
    operation: str,
    *,
    channel_required: bool = True,
    tenant: PathTenant | None = None,
) -> Call:
    """``start`` for a read: no body, no idempotency, so always a ``Call``."""
    call = await start(request, operation, channel_required=channel_required, tenant=tenant)
    assert isinstance(call, Call)  # only writes can be replayed
    return call


def read_call(request: Request, operation: str, principal: Principal) -> Call:
    """The ``Call`` of a read whose caller was resolved some other way (see
    ``orders.service.read_as_caller``)."""
    return Call(request, app_state(request), principal, ABSENT, None, operation)


async def run(call: Call | Response, handler: Callable[[Call], Awaitable[Outcome]]) -> Response:
    """Run a write handler; a failure releases the idempotency key so a retry runs afresh."""
    if isinstance(call, Response):
        return call
    try:
        try:
            outcome = await handler(call)
        except KassaError:
            if call.resolved is None:  # not authenticated yet: 401/400/403 come first
                await call.authenticate()
            raise
    except BaseException as exc:
        await idempotency.release(call.app.db, call.claim, exc)
        raise
    return Response(outcome.body, status_code=outcome.status, headers=outcome.headers)


def _pointer(loc: tuple[int | str, ...], base: str) -> str:
    parts = [str(p).replace("~", "~0").replace("/", "~1") for p in loc]
    # pydantic names union/function branches in loc; drop the noise it adds
    parts = [p for p in parts if not p.startswith("function-") and p not in {"[key]"}]
    return base + "".join("/" + p for p in parts)


def _errors(exc: ValidationError, base: str) -> tuple[bool, list[dict[str, Any]]]:
    errors = []
    amounts_only = True
    for err in exc.errors(include_url=False, include_input=False):
        if err["type"] != "invalid_amount":
            amounts_only = False
        message = err["msg"]
        if err["type"] == "missing":
            message = "Field required"
        errors.append(field_error(_pointer(tuple(err["loc"]), base), message))
    return amounts_only, errors


def validation_error(exc: ValidationError, base: str = "") -> KassaError:
    amounts_only, errors = _errors(exc, base)
    first = errors[0]
    text = f"{first['path'] or '/'}: {first['message']}"
    if amounts_only:
        return InvalidAmount(f"Invalid amount at {text}", errors=errors)
    return InvalidRequest(f"Invalid request body at {text}", errors=errors)


def validate(model: type[M], data: Any) -> M:
    if data is ABSENT:
        raise InvalidRequest(
            "A JSON body is required.", errors=[field_error("", "body is required")]
        )
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc) from exc


def validate_as(adapter: TypeAdapter[Any], data: Any) -> Any:
    if data is ABSENT:
        raise InvalidRequest(
            "A JSON body is required.", errors=[field_error("", "body is required")]
        )
    try:
        return adapter.validate_python(data)
    except ValidationError as exc:
        raise validation_error(exc) from exc


def warnings_headers(tokens: Sequence[str]) -> dict[str, str]:
    """``Kassa-Warnings`` for a response, when there are tokens: comma-separated (api §1.3)."""
    return {"Kassa-Warnings": ",".join(tokens)} if tokens else {}


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        jsonutil.dumps(body), status_code=status, headers=headers, media_type="application/json"
    )


def etag(version: int) -> str:
    return f'"{version}"'


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
    """412 unless the request's ``If-Match`` (if any) names the order's current version."""
    header = call.request.headers.get("if-match")
    if header is None:
        return
    tags = parse_if_match(header)
    if tags is not None and str(version) not in tags:
        raise PreconditionFailed(version)


def orders_collection(call: Call) -> str:
    """The orders collection the request was sent to, with the deployment prefix:
    ``<prefix>/api/v0/checkout/orders`` or ``<prefix>/api/v1/checkout/orders``. A ``Location``
    names the new resource on the path the client used (v1.md §1.2)."""
    prefix = call.app.settings.path_prefix
    path: str = call.request.scope["path"]
    version = path[len(prefix) :].split("/", 3)[2]  # "/api/v1/checkout/orders/..." -> "v1"
    return f"{prefix}/api/{version}/checkout/orders"


def json_outcome(body: Any, version: int, status: int = 200) -> Outcome:
    """A JSON answer carrying the order's ETag."""
    headers = {"Content-Type": "application/json", "ETag": etag(version)}
    return Outcome(status, jsonutil.dumps(body), headers)
