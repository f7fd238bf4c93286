"""The storefront's HTTP client: the Order API, the Configuration API and the adapters' routes,
called with the storefront key for one merchant and channel, as any shop's backend would.

Every call answers a ``Reply`` (status and parsed JSON, numbers exact); the pages decide what a
non-2xx means for the buyer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from kassa import jsonutil
from kassa.loopback import HttpClient

KeySource = Callable[[], Awaitable[str]]

ORDERS = "/api/v0/checkout/orders"
ADAPTER_ORDERS = "/api/checkout/v1/orders"
CONFIGURATIONS = "/api/v1/configuration/merchants"


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any  # parsed JSON, or None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def code(self) -> str | None:
        code = self.body.get("code") if isinstance(self.body, dict) else None
        return code if isinstance(code, str) else None

    @property
    def message(self) -> str:
        message = self.body.get("message") if isinstance(self.body, dict) else None
        return str(message) if message else f"HTTP {self.status}"


@dataclass(frozen=True)
class Endpoints:
    """Where the storefront finds each service (absolute URLs, no trailing slash)."""

    orders: str  # <origin><path_prefix>
    configuration: str  # <origin><configuration_path_prefix>
    nonpsp: str  # <origin><nonpsp_adapter_path_prefix>
    psp: str  # <origin><sandbox_psp_path_prefix>
    shipping: str  # <origin><sandbox_shipping_path_prefix>


def _seg(value: str) -> str:
    return quote(value, safe="")


class Shop:
    """kassa as the demo storefront sees it."""

    def __init__(
        self,
        client: HttpClient,
        key: KeySource,
        endpoints: Endpoints,
        merchant: str,
        channel: str,
        timeout: float = 15.0,
    ) -> None:
        self.client, self.key, self.at = client, key, endpoints
        self.merchant, self.channel, self.timeout = merchant, channel, timeout

    async def call(
        self, method: str, url: str, body: Any = None, *, has_body: bool = False
    ) -> Reply:
        headers = {
            "Authorization": f"Bearer {await self.key()}",
            "x-merchant": self.merchant,
            "x-channel": self.channel,
        }
        content = None
        if has_body or body is not None:
            content = jsonutil.dumps(body)
            headers["Content-Type"] = "application/json"
        response = await self.client.request(
            method, url, content=content, headers=headers, timeout=self.timeout
        )
        parsed: Any = None
        if response.content:
            try:
                parsed = jsonutil.loads(response.content)
            except ValueError:
                parsed = None
        return Reply(response.status_code, parsed)

    # the Order API --------------------------------------------------------------------------

    def order_url(self, order_id: str, rest: str = "") -> str:
        return f"{self.at.orders}{ORDERS}/{_seg(order_id)}{rest}"

    async def order(self, order_id: str) -> dict[str, Any] | None:
        reply = await self.call("GET", self.order_url(order_id))
        return reply.body if reply.ok and isinstance(reply.body, dict) else None

    async def create_order(self, body: dict[str, Any]) -> Reply:
        return await self.call("POST", f"{self.at.orders}{ORDERS}", body)

    async def put_cart(self, order_id: str, items: list[dict[str, Any]]) -> Reply:
        return await self.call("PUT", self.order_url(order_id, "/cart"), {"items": items})

    async def put_address(self, order_id: str, part: str, address: dict[str, Any]) -> Reply:
        return await self.call("PUT", self.order_url(order_id, f"/customer/{part}"), address)

    async def transactions(self, order_id: str, payment_id: str) -> list[dict[str, Any]]:
        reply = await self.call(
            "GET", self.order_url(order_id, f"/payments/{payment_id}/transactions")
        )
        return reply.body if reply.ok and isinstance(reply.body, list) else []

    # the Configuration API ------------------------------------------------------------------

    def configurations_url(self) -> str:
        return (
            f"{self.at.configuration}{CONFIGURATIONS}/{_seg(self.merchant)}"
            f"/channels/{_seg(self.channel)}/configurations"
        )

    async def configurations(self) -> Reply:
        return await self.call("GET", self.configurations_url())

    async def put_configurations(self, configurations: list[dict[str, Any]]) -> Reply:
        return await self.call("PUT", self.configurations_url(), configurations)

    # the adapters -----------------------------------------------------------------------------

    @staticmethod
    def _adapter(base: str, order_id: str, kind: str, rest: str = "") -> str:
        return f"{base}{ADAPTER_ORDERS}/{_seg(order_id)}/{kind}{rest}"

    async def shipping(self, method: str, order_id: str, rest: str = "", body: Any = None) -> Reply:
        url = self._adapter(self.at.shipping, order_id, "shippings", rest)
        return await self.call(method, url, body)

    async def psp(self, method: str, order_id: str, rest: str = "", body: Any = None) -> Reply:
        url = self._adapter(self.at.psp, order_id, "payments", rest)
        return await self.call(method, url, body)

    async def nonpsp(self, method: str, order_id: str, rest: str = "", body: Any = None) -> Reply:
        url = self._adapter(self.at.nonpsp, order_id, "payments", rest)
        return await self.call(method, url, body)
