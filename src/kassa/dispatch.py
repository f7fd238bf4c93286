"""API requests dispatched straight to their endpoint, past the framework's router.

Every kassa endpoint has the same shape — its path parameters as strings and the ``Request``,
returning a ``Response`` — and does its own checks (``kassa.http``). The framework's routing,
dependency solving and exception layers around it cost more than many a request itself (see
docs/performance.md). ``Dispatch`` sits inside ``KassaMiddleware`` (request id, metrics, access
log and the last-resort 500 still apply): it matches the path against the same routes in the same
order, calls the endpoint, and turns a ``KassaError`` into the same error response the
application's handler gives. A path no route serves, or a method none of its routes accepts,
goes on to the application, which answers 404 / 405 as before; so do ``/docs``,
``/openapi.json`` and the ops routes.

The routes come as ``Mount`` groups: routers served below one path prefix each (the Order API
below ``path_prefix``, the events and configuration APIs below their own; adapters add theirs).
The application includes the same mounts (``kassa.app``), so both agree on every path.

A route may name a path parameter differently from the endpoint argument it fills (``renames``):
the v1 order routes (``kassa.v1``) share the v0 endpoints but have camelCase names. The endpoint
gets its own names, as arguments and in ``request.path_params``.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from fastapi import APIRouter
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import compile_path
from starlette.types import ASGIApp, Receive, Scope, Send

from kassa.error_responses import kassa_error_response
from kassa.errors import KassaError
from kassa.middleware import request_id_of

Endpoint = Callable[..., Awaitable[Response]]


@dataclass(frozen=True)
class Mount:
    """Routers served below one path prefix (``""``: at the root)."""

    prefix: str
    routers: tuple[APIRouter, ...]

    def routes(self) -> Iterator[APIRoute]:
        for router in self.routers:
            for route in router.routes:
                if isinstance(route, APIRoute):
                    yield route


@dataclass(frozen=True)
class RouteTemplate:
    """What ``scope["route"]`` offers the metrics and the access log: the route's template;
    and the endpoint its mount's prefix (idempotency fingerprints leave it out, api §1.10)."""

    path: str
    prefix: str = ""


def mount_prefix(scope: Scope, default: str) -> str:
    """The prefix of the mount that serves this request (``default`` outside ``Dispatch``)."""
    route = scope.get("route")
    return route.prefix if isinstance(route, RouteTemplate) else default


@dataclass(frozen=True)
class _Route:
    pattern: re.Pattern[str]
    methods: frozenset[str]
    endpoint: Endpoint
    arguments: frozenset[str]  # the path parameters the endpoint takes as arguments
    template: RouteTemplate
    renames: dict[str, str] | None  # template name -> endpoint name, where they differ


class Dispatch:
    def __init__(
        self,
        app: ASGIApp,
        *,
        mounts: Sequence[Mount],
        renames: Mapping[str, str] | None = None,
    ) -> None:
        """``mounts``: the API routes in the order the application matches them. ``renames``:
        a path parameter name of a template -> the endpoint argument it fills, where they
        differ."""
        self.app = app
        self.routes: list[_Route] = []
        bases: set[str] = set()
        for mount in mounts:
            for route in mount.routes():
                path = mount.prefix + route.path
                pattern, _, _ = compile_path(path)
                parameters = frozenset(inspect.signature(route.endpoint).parameters)
                if "request" not in parameters:
                    continue  # not of the shape dispatched here: left to the application
                arguments = parameters - {"request"}
                names = {name: (renames or {}).get(name, name) for name in pattern.groupindex}
                if missing := arguments - set(names.values()):
                    raise ValueError(f"{route.path}: no path parameter for {sorted(missing)}")
                methods = frozenset(route.methods or ())
                template = RouteTemplate(path, mount.prefix)
                renamed = {k: v for k, v in names.items() if k != v} or None
                self.routes.append(
                    _Route(pattern, methods, route.endpoint, arguments, template, renamed)
                )
                bases.add(path.split("{", 1)[0])
        # the literal beginnings of the paths: one C-level test turns every other request away
        self.bases = tuple(b for b in bases if not any(b != o and b.startswith(o) for o in bases))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            if path.startswith(self.bases):
                method = scope["method"]
                for route in self.routes:
                    if method not in route.methods:
                        continue
                    match = route.pattern.match(path)
                    if match is None:
                        continue
                    scope["route"] = route.template
                    params = match.groupdict()
                    if route.renames is not None:
                        params = {route.renames.get(k, k): v for k, v in params.items()}
                    scope["path_params"] = params
                    arguments = {k: v for k, v in params.items() if k in route.arguments}
                    response = await _call(route.endpoint, arguments, scope, receive)
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)


async def _call(
    endpoint: Endpoint, params: dict[str, str], scope: Scope, receive: Receive
) -> Response:
    try:
        return await endpoint(**params, request=Request(scope, receive))
    except KassaError as exc:
        return kassa_error_response(exc, request_id_of(scope))
