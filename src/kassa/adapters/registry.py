"""The built-in adapters by name, and the settings that mount them (adapters.md §1.1, §1.4)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kassa.adapters import nonpsp, sandbox_psp
from kassa.adapters.calls import AdapterContext
from kassa.config import Settings


@dataclass(frozen=True)
class BuiltinAdapter:
    adapter_id: str
    prefix_setting: str  # the Settings field holding its path prefix
    mount: Callable[[AdapterContext], Any] | None  # None: not available in this version
    needs_database: bool = False  # when run alone (the sandbox PSP's simulated store)


BUILTIN: dict[str, BuiltinAdapter] = {
    a.adapter_id: a
    for a in (
        BuiltinAdapter(nonpsp.ADAPTER_ID, "nonpsp_adapter_path_prefix", nonpsp.mount),
        BuiltinAdapter(sandbox_psp.ADAPTER_ID, "sandbox_psp_path_prefix", sandbox_psp.mount, True),
        BuiltinAdapter("kassa_sandbox_shipping_adapter", "sandbox_shipping_path_prefix", None),
    )
}


def prefix_of(settings: Settings, name: str) -> str:
    return str(getattr(settings, BUILTIN[name].prefix_setting))


def problems(settings: Settings, names: tuple[str, ...] | None = None) -> list[str]:
    """Why these adapter settings cannot be served (empty: they can)."""
    found: list[str] = []
    prefixes: dict[str, str] = {}
    for adapter in BUILTIN.values():
        prefix = str(getattr(settings, adapter.prefix_setting))
        setting = "KASSA_" + adapter.prefix_setting.upper()
        if not prefix:
            found.append(f"{setting} must not be empty")
        elif prefix in prefixes:
            found.append(f"{setting} must differ from {prefixes[prefix]} ({prefix})")
        else:
            prefixes[prefix] = setting
    for name in settings.builtin_adapters if names is None else names:
        named = BUILTIN.get(name)
        if named is None:
            known = ", ".join(BUILTIN)
            found.append(f"unknown adapter {name!r} (built-in adapters: {known})")
        elif named.mount is None:
            found.append(f"adapter {name!r} is not available in this version")
    return found
