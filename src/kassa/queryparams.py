"""Query-string helpers shared by the list operations (orders and events).

A parameter may repeat (``status=a&status=b``, also ``status[]=``); the last value of a
single-valued parameter wins; every problem is a 400 ``invalid-request`` naming ``?<param>``.
"""

from __future__ import annotations

from starlette.datastructures import QueryParams

from kassa.errors import InvalidRequest, field_error

MAX_VALUES = 50
MAX_LIMIT = 100
MAX_INT = 2**53


def bad(name: str, message: str) -> InvalidRequest:
    return InvalidRequest(
        f"Query parameter {name}: {message}", errors=[field_error(f"?{name}", message)]
    )


def values(params: QueryParams, *names: str) -> list[str]:
    """Every value of the parameter under any of ``names`` (aliases), in order."""
    found = [v for name in names for v in (*params.getlist(name), *params.getlist(name + "[]"))]
    if len(found) > MAX_VALUES:
        raise bad(names[0], f"at most {MAX_VALUES} values")
    return found


def one(params: QueryParams, *names: str) -> str | None:
    found = values(params, *names)
    return found[-1] if found else None


def integer(
    params: QueryParams, name: str, default: int, minimum: int, *, served_at_most: int | None = None
) -> int:
    """An integer parameter; above ``served_at_most`` it is served as that value (``limit``)."""
    raw = one(params, name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise bad(name, "must be an integer") from None
    if value < minimum:
        raise bad(name, f"must be at least {minimum}")
    if served_at_most is not None:
        return min(value, served_at_most)
    if value > MAX_INT:
        raise bad(name, f"must be at most {MAX_INT}")
    return value
