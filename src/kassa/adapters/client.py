"""An adapter's HTTP client to kassa's Order API and Configuration API (adapters.md §1.2, §2).

Every request carries ``Authorization: Bearer <the adapter's own key>``, the caller's
``x-merchant``/``x-channel``, ``x-adapterid`` and the adapter request's ``x-request-id``, and is
bounded by ``adapter_request_timeout``. The client (``HttpClient``) either reaches the kassa
application object in-process (loopback dispatch: one ASGI call, no socket) or kassa over the
network; nothing else differs.

Errors (§2.4): an answer whose ``code`` the route lists passes through (``Passed``); any other
non-2xx, a timeout or a network error becomes 502 ``order-api-error``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from kassa import jsonutil
from kassa.adapters.errors import OrderApiError, Passed
from kassa.errors import KassaError
from kassa.loopback import HttpClient

ORDERS = "/api/v0/checkout/orders"
CONFIGURATIONS = "/api/v1/configuration/merchants"

KeySource = Callable[[], Awaitable[str]]


@dataclass(frozen=True)
class Caller:
    """Whom an adapter request acts for: the tenant of the request it serves."""

    merchant: str
    channel: str
    request_id: str
    authorization: str | None = None  # the caller's own credentials, to authenticate it


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any  # parsed JSON (numbers as Decimal); None without a JSON body
    etag: str | None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def code(self) -> str | None:
        code = self.body.get("code") if isinstance(self.body, dict) else None
        return code if isinstance(code, str) else None

    def error(self, listed: Collection[str] = ()) -> KassaError:
        """The error to answer with for this (non-2xx) reply."""
        if self.code is not None and self.code in listed:
            return Passed(self.status, self.body)
        return OrderApiError(self.status, self.code)


def segment(value: str) -> str:
    return quote(value, safe="")


class Upstream:
    """kassa as one adapter sees it."""

    def __init__(
        self,
        *,
        adapter_id: str,
        key: KeySource,
        client: HttpClient,
        order_base: str,
        configuration_base: str,
        timeout: float,
    ) -> None:
        self.adapter_id = adapter_id
        self.key = key
        self.client = client
        self.order_base = order_base.rstrip("/")
        self.configuration_base = configuration_base.rstrip("/")
        self.timeout = timeout

    async def aclose(self) -> None:
        await self.client.aclose()

    def order_url(self, order_id: str, rest: str = "") -> str:
        return f"{self.order_base}{ORDERS}/{segment(order_id)}{rest}"

    async def send(
        self,
        caller: Caller,
        method: str,
        url: str,
        *,
        body: Any = None,
        has_body: bool = False,
        headers: Mapping[str, str] | None = None,
        as_caller: bool = False,
    ) -> Reply:
        """One request. ``as_caller``: with the caller's credentials and without
        ``x-adapterid`` (to let kassa authenticate the caller)."""
        send_headers = {
            "x-merchant": caller.merchant,
            "x-channel": caller.channel,
            "x-request-id": caller.request_id,
            **(headers or {}),
        }
        if as_caller:
            if caller.authorization is not None:
                send_headers["Authorization"] = caller.authorization
        else:
            send_headers["Authorization"] = f"Bearer {await self.key()}"
            send_headers["x-adapterid"] = self.adapter_id
        content = None
        if has_body:
            content = jsonutil.dumps(body)
            send_headers["Content-Type"] = "application/json"
        try:
            response = await self.client.request(
                method, url, content=content, headers=send_headers, timeout=self.timeout
            )
        except httpx.HTTPError as exc:
            raise OrderApiError(None, None, f"The Order API could not be reached: {exc}") from exc
        parsed: Any = None
        if response.content:
            try:
                parsed = jsonutil.loads(response.content)
            except ValueError:
                parsed = None
        return Reply(response.status_code, parsed, response.headers.get("etag"))

    async def configuration(self, caller: Caller, name: str) -> dict[str, Any] | None:
        """The configuration ``name`` of the caller's channel; ``None`` when there is none."""
        url = (
            f"{self.configuration_base}{CONFIGURATIONS}/{segment(caller.merchant)}"
            f"/channels/{segment(caller.channel)}/configurations/{segment(name)}"
        )
        reply = await self.send(caller, "GET", url)
        if reply.status == 404 and reply.code == "configuration-not-found":
            return None
        if not reply.ok or not isinstance(reply.body, dict):
            raise reply.error()
        return reply.body
