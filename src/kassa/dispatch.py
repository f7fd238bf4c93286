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
    order: int  # position in the mounts: the first route that matches serves
    pattern: re.Pattern[str]
    methods: frozenset[str]
    endpoint: Endpoint
    arguments: frozenset[str]  # the path parameters the endpoint takes as arguments
    template: RouteTemplate
    renames: dict[str, str] | None  # template name -> endpoint name, where they differ


class _Node:
    """One path segment of the route tree: routes ending here, literal children, and the child
    for a path parameter (one non-empty segment, as ``{name}`` matches)."""

    __slots__ = ("literal", "param", "routes")

    def __init__(self) -> None:
        self.routes: list[_Route] = []
        self.literal: dict[str, _Node] = {}
        self.param: _Node | None = None

    def add(self, segments: list[str], route: _Route) -> None:
        node = self
        for segment in segments:
            if segment.startswith("{") and segment.endswith("}"):
                node.param = node.param or _Node()
                node = node.param
            else:
                node = node.literal.setdefault(segment, _Node())
        node.routes.append(route)

    def candidates(self, segments: list[str], at: int, found: list[_Route]) -> None:
        """Every route whose template has the shape of ``segments[at:]``."""
        if at == len(segments):
            found.extend(self.routes)
            return
        segment = segments[at]
        child = self.literal.get(segment)
        if child is not None:
            child.candidates(segments, at + 1, found)
        if self.param is not None and segment:
            self.param.candidates(segments, at + 1, found)


_PARAMETER = re.compile(r"\{\w+\}")


def _plain(path: str) -> bool:
    """Whether every parameter of ``path`` is a whole segment ``{name}`` (no convertor), so that
    the route tree finds it; any other route is matched by its pattern alone."""
    return all(
        _PARAMETER.fullmatch(part) or ("{" not in part and "}" not in part)
        for part in path.split("/")
    )


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
        self.tree = _Node()
        self.others: list[_Route] = []  # routes the tree cannot hold
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
                entry = _Route(
                    len(self.routes), pattern, methods, route.endpoint, arguments, template, renamed
                )
                self.routes.append(entry)
                if _plain(path):
                    self.tree.add(path.split("/"), entry)
                else:
                    self.others.append(entry)
                bases.add(path.split("{", 1)[0])
        # the literal beginnings of the paths: one C-level test turns every other request away
        self.bases = tuple(b for b in bases if not any(b != o and b.startswith(o) for o in bases))

    def _match(self, path: str, method: str) -> tuple[_Route, re.Match[str]] | None:
        """The first route (in mount order) whose pattern matches ``path`` and which accepts
        ``method``: the routes of the path's shape, from the tree, then checked by pattern."""
        found: list[_Route] = []
        self.tree.candidates(path.split("/"), 0, found)
        found.extend(self.others)
        if len(found) > 1:
            found.sort(key=lambda route: route.order)
        for route in found:
            if method not in route.methods:
                continue
            match = route.pattern.match(path)
            if match is not None:
                return route, match
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            if path.startswith(self.bases):
                found = self._match(path, scope["method"])
                if found is not None:
                    route, match = found
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
