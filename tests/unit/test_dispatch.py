"""The fast dispatch's route tree (``kassa.dispatch``) picks the same route as trying every
route's pattern in mount order, for the paths of every API route and for near misses."""

from __future__ import annotations

import re

import pytest
from fastapi import APIRouter
from starlette.types import Receive, Scope, Send

from kassa.app import api_mounts
from kassa.config import Settings
from kassa.dispatch import Dispatch, Mount
from kassa.v1 import ENDPOINT_NAMES

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
FILLS = ("o_abc", "x.y", "%2F", "-", "ä")


async def unused(scope: Scope, receive: Receive, send: Send) -> None:
    raise AssertionError("not called")


def dispatch_for(settings: Settings) -> Dispatch:
    extra = APIRouter()

    @extra.get("/api/v0/checkout/orders/search/{term}")
    async def literal_after_parameter(term: str, request: object) -> None: ...

    return Dispatch(
        unused, mounts=[*api_mounts(settings), Mount("", (extra,))], renames=ENDPOINT_NAMES
    )


def brute_force(dispatch: Dispatch, path: str, method: str) -> int | None:
    for route in dispatch.routes:
        if method in route.methods and route.pattern.match(path):
            return route.order
    return None


def paths_of(dispatch: Dispatch) -> list[str]:
    paths: set[str] = set()
    for route in dispatch.routes:
        template = route.template.path
        for fill in FILLS:
            path = re.sub(r"\{\w+\}", fill, template)
            paths |= {
                path,
                path + "/",
                path + "/x",
                path.rsplit("/", 1)[0],
                path.replace("/", "//", 1),
            }
        paths.add(re.sub(r"\{\w+\}", "", template))  # an empty segment matches no parameter
    return sorted(paths)


@pytest.mark.parametrize("norce_layout", [False, True])
def test_tree_matches_like_every_pattern_in_order(norce_layout: bool) -> None:
    settings = Settings.from_env(database_url="sqlite://", norce_layout=norce_layout)
    dispatch = dispatch_for(settings)
    paths = paths_of(dispatch)
    assert len(paths) > 500
    matched = 0
    for path in paths:
        for method in METHODS:
            found = dispatch._match(path, method)
            expected = brute_force(dispatch, path, method)
            assert (found[0].order if found else None) == expected, (method, path)
            matched += found is not None
    assert matched > 200
