"""A mypy plugin for kassa: ``.get()`` on a TypedDict must name one of its keys.

mypy refuses an unknown key in ``order["curency"]`` (and in ``setdefault``, ``pop`` and ``del``),
but types ``order.get("curency")`` as ``object`` without a word. kassa reads most optional fields
of the order document (``kassa.orders.document``) with ``.get``, so this plugin reports an unknown
literal key there as well, with mypy's own message and error code (``typeddict-item``). The type
of the call is still mypy's own (its default ``.get`` hook runs after the check).

Enabled by ``plugins`` in pyproject ``[tool.mypy]``.
"""

from __future__ import annotations

from collections.abc import Callable

from mypy.plugin import MethodContext, Plugin
from mypy.plugins.default import typed_dict_get_callback
from mypy.typeops import try_getting_str_literals
from mypy.types import Type, TypedDictType, get_proper_type

# the method mypy resolves ``.get`` of any TypedDict to (its default plugin hooks the same name)
_GET = "typing.Mapping.get"


def _checked_get(ctx: MethodContext) -> Type:
    typed_dict = get_proper_type(ctx.type)
    if isinstance(typed_dict, TypedDictType) and ctx.args and len(ctx.args[0]) == 1:
        key = ctx.args[0][0]
        names = try_getting_str_literals(key, ctx.arg_types[0][0])
        for name in names or ():
            if name not in typed_dict.items:
                ctx.api.msg.typeddict_key_not_found(typed_dict, name, key)
    return typed_dict_get_callback(ctx)


class KassaPlugin(Plugin):
    def get_method_hook(self, fullname: str) -> Callable[[MethodContext], Type] | None:
        return _checked_get if fullname == _GET else None


def plugin(version: str) -> type[Plugin]:
    return KassaPlugin
