"""Reading an order document as an adapter sees it: its status, the payment or shipping an
adapter owns, and the hooks an adapter registers for one of them. Pure functions of the JSON."""

from __future__ import annotations

from typing import Any


def status_of(order: dict[str, Any]) -> str:
    return str((order.get("state") or {}).get("currentStatus", ""))


def owned(
    order: dict[str, Any], part: str, adapter_id: str, element_id: str
) -> tuple[int, dict[str, Any]] | None:
    """The element ``element_id`` of ``order[part]`` (payments, shippings) and its index, if
    ``adapter_id`` owns it."""
    for i, element in enumerate(order.get(part) or []):
        if element.get("id") == element_id and element.get("adapterId") == adapter_id:
            return i, element
    return None


def current(order: dict[str, Any], part: str, adapter_id: str) -> dict[str, Any] | None:
    """A copy of the first element of ``order[part]`` that ``adapter_id`` owns and that is not
    removed (adapters.md §2.4: reuse before creating)."""
    for element in order.get(part) or []:
        if element.get("adapterId") == adapter_id and element.get("state") != "removed":
            return dict(element)
    return None


def hooks(
    adapter_id: str, target: str, base: str, element_id: str, rows: tuple[tuple[str, str, str], ...]
) -> list[dict[str, Any]]:
    """v1 hooks of ``adapter_id`` for one element: one per (scope, callback, name) row, invoking
    ``base/<callback>``, referenced ``<adapterId>/<element id>/<name>``."""
    return [
        {
            "adapterId": adapter_id,
            "version": "v1",
            "scope": scope,
            "target": target,
            "invoke": f"{base}/{callback}",
            "reference": f"{adapter_id}/{element_id}/{name}",
        }
        for scope, callback, name in rows
    ]
