"""The storefront's pages: catalogue, cart, checkout (address, delivery, payment), order page.

Server-rendered Jinja2 (autoescape on), forms posted as ``application/x-www-form-urlencoded``
and answered with 303 (post/redirect/get). The cart is the order itself; a cookie signed with
a key derived from ``adapter_key_secret`` names it (HttpOnly, SameSite=Lax). Every element a
test or a script needs carries a ``data-testid`` (docs/demo.md lists them).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Awaitable, Callable
from decimal import Decimal
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, quote

from fastapi import APIRouter
from jinja2 import Environment, PackageLoader
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from kassa.demo import catalog, checkout
from kassa.demo.checkout import StepFailed
from kassa.demo.setup import NONPSP, PSP, SHIPPING, provision
from kassa.demo.shop import Shop

PATH = "/demo"
COOKIE = "kassa_demo_cart"
MAX_FORM = 16 * 1024
_CSS = resources.files(__package__).joinpath("static/demo.css").read_bytes()

SecretSource = Callable[[], Awaitable[str]]


def money(value: Any, currency: str = catalog.CURRENCY) -> str:
    amount = value if isinstance(value, Decimal) else Decimal(str(value or 0))
    return f"{amount.quantize(Decimal('0.01')):,.2f} {currency}".replace(",", " ")


_env = Environment(
    loader=PackageLoader("kassa.demo", "templates"), autoescape=True, auto_reload=False
)
_env.filters["money"] = money


def render(name: str, http_status: int = 200, **context: Any) -> HTMLResponse:
    context.setdefault("base", PATH)
    context.setdefault("cards", checkout.CARDS)
    return HTMLResponse(_env.get_template(name).render(**context), status_code=http_status)


def router(shop: Shop, cookie_secret: SecretSource) -> APIRouter:
    """The storefront's routes below ``/demo``, for the demo tenant of ``shop``."""
    pages = APIRouter(prefix=PATH, include_in_schema=False)
    provisioned = False

    async def ready() -> None:
        nonlocal provisioned
        if not provisioned:
            await provision(shop, PATH)
            provisioned = True

    async def sign(order_id: str) -> str:
        key = hashlib.sha256(b"demo-cart:" + (await cookie_secret()).encode()).digest()
        mac = hmac.new(key, order_id.encode(), hashlib.sha256).digest()[:18]
        return base64.urlsafe_b64encode(mac).decode()

    async def cart_order(request: Request) -> dict[str, Any] | None:
        """The order the cart cookie names, if the signature holds and the order exists."""
        value = request.cookies.get(COOKIE, "")
        order_id, _, mac = value.partition(".")
        if not order_id or not hmac.compare_digest(mac, await sign(order_id)):
            return None
        return await shop.order(order_id)

    async def with_cookie(response: Response, order_id: str) -> Response:
        response.set_cookie(
            COOKIE,
            f"{order_id}.{await sign(order_id)}",
            httponly=True,
            samesite="lax",
            path=PATH,
        )
        return response

    async def form(request: Request) -> dict[str, str]:
        raw = await request.body()
        if len(raw) > MAX_FORM:
            return {}
        parsed = parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True)
        return {k: v[0].strip() for k, v in parsed.items() if v}

    def see(where: str, error: str | None = None, notice: str | None = None) -> Response:
        query = ""
        if error:
            query = "?error=" + quote(error)
        elif notice:
            query = "?notice=" + quote(notice)
        return RedirectResponse(f"{PATH}{where}{query}", status_code=303)

    def cart_count(order: dict[str, Any] | None) -> int:
        if order is None or checkout.status_of(order) != "checkout":
            return 0
        return sum(int(i.get("quantity") or 0) for i in order.get("cart", {}).get("items", []))

    @pages.get("")
    async def home(request: Request) -> Response:
        await ready()
        order = await cart_order(request)
        return render(
            "catalog.html",
            products=catalog.PRODUCTS,
            count=cart_count(order),
            error=request.query_params.get("error"),
        )

    @pages.get("/static/demo.css")
    async def css() -> Response:
        return Response(_CSS, media_type="text/css", headers={"Cache-Control": "max-age=3600"})

    @pages.post("/cart/add")
    async def add(request: Request) -> Response:
        await ready()
        data = await form(request)
        try:
            quantity = max(1, min(int(data.get("quantity") or 1), catalog.MAX_QUANTITY))
            order_id = await checkout.add_to_cart(
                shop, await cart_order(request), data.get("sku", ""), quantity
            )
        except (StepFailed, ValueError) as exc:
            return see("", error=getattr(exc, "message", "Not a quantity."))
        return await with_cookie(see("/cart"), order_id)

    @pages.get("/cart")
    async def cart(request: Request) -> Response:
        order = await cart_order(request)
        if order is not None and checkout.status_of(order) != "checkout":
            order = None
        return render(
            "cart.html",
            order=order,
            count=cart_count(order),
            error=request.query_params.get("error"),
        )

    @pages.post("/cart/update")
    async def update(request: Request) -> Response:
        data = await form(request)
        order = await cart_order(request)
        if order is None or checkout.status_of(order) != "checkout":
            return see("/cart")
        try:
            await checkout.set_quantity(shop, order, data.get("sku", ""), int(data["quantity"]))
        except (StepFailed, ValueError, KeyError) as exc:
            return see("/cart", error=getattr(exc, "message", "Not a quantity."))
        return see("/cart")

    @pages.get("/checkout")
    async def checkout_page(request: Request) -> Response:
        order = await cart_order(request)
        if order is None or not order.get("cart", {}).get("items"):
            return see("/cart")
        if checkout.status_of(order) != "checkout":
            return see(f"/orders/{quote(order['id'])}")
        address = (order.get("customer") or {}).get("shipping") or {}
        payment = checkout.own(order, "payments", PSP)
        error = request.query_params.get("error")
        if error is None and payment is not None and payment.get("state") == "declined":
            error = "Your card was declined. Try another card."
        return render(
            "checkout.html",
            order=order,
            count=cart_count(order),
            address=address,
            countries=checkout.COUNTRIES,
            delivery=await checkout.delivery_session(shop, order),
            error=error,
            notice=request.query_params.get("notice"),
        )

    async def step(request: Request) -> tuple[dict[str, Any] | None, dict[str, str]]:
        data = await form(request)
        order = await cart_order(request)
        return order, data

    @pages.post("/checkout/address")
    async def address(request: Request) -> Response:
        order, data = await step(request)
        if order is None:
            return see("/cart")
        fields = {k: data[k] for k in checkout.ADDRESS_FIELDS if data.get(k)}
        if data.get("email"):
            fields["email"] = data["email"]
        if "country" not in fields:
            return see("/checkout", error="Choose a country.")
        try:
            notice = await checkout.set_address(shop, order, fields)
        except StepFailed as exc:
            return see("/checkout", error=exc.message)
        return see("/checkout", notice=notice)

    @pages.post("/checkout/delivery")
    async def delivery(request: Request) -> Response:
        order, data = await step(request)
        if order is None:
            return see("/cart")
        try:
            await checkout.choose_delivery(shop, order, data.get("option", ""))
        except StepFailed as exc:
            return see("/checkout", error=exc.message)
        return see("/checkout")

    @pages.post("/checkout/pay")
    async def pay(request: Request) -> Response:
        order, data = await step(request)
        if order is None:
            return see("/cart")
        try:
            paid = await checkout.pay(shop, order, data.get("method", ""), data.get("card", ""))
        except StepFailed as exc:
            return see("/checkout", error=exc.message)
        location = paid.location
        if location.startswith("orders/"):
            location = f"{PATH}/{location}"
        return RedirectResponse(location, status_code=303)

    @pages.get("/orders/{order_id}")
    async def order_page(order_id: str, request: Request) -> Response:
        order = await shop.order(order_id)
        if order is None:
            return render("missing.html", http_status=404, count=0)
        status = checkout.status_of(order)
        payment = checkout.own(order, "payments", PSP) or checkout.own(order, "payments", NONPSP)
        response = render(
            "order.html",
            order=order,
            status=status,
            payment=payment,
            shipping=checkout.own(order, "shippings", SHIPPING),
            waiting=status == "processing",
            count=0,
        )
        if status != "checkout":
            response.delete_cookie(COOKIE, path=PATH)
        return response

    return pages
