"""The hosted confirm page of the sandbox PSP (adapters.md §5.4): small server-rendered HTML,
every element a test or a script needs marked with a stable ``data-testid``."""

from __future__ import annotations

import html
from typing import Any
from urllib.parse import quote

from starlette.responses import HTMLResponse


def redirect_target(config: dict[str, Any] | None, approved: bool, claims: dict[str, str]) -> str:
    urls = (config or {}).get("redirectUrls") or {}
    template = urls.get("confirmationUrl" if approved else "checkoutUrl")
    if not isinstance(template, str) or not template:
        return ""
    for name, key in (("orderId", "o"), ("merchant", "m"), ("channel", "c")):
        template = template.replace("{" + name + "}", quote(claims[key], safe=""))
    return template


def page(title: str, body: str, status: int = 200) -> HTMLResponse:
    text = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title>"
        "<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;"
        "padding:0 1rem}button{font-size:1rem;padding:.5rem 1rem;margin-right:.5rem}</style>"
        f"</head><body data-testid='sandbox-challenge'>{body}</body></html>"
    )
    return HTMLResponse(text, status_code=status)


def not_found_page() -> HTMLResponse:
    return page(
        "Not found",
        "<h1 data-testid='challenge-not-found'>This confirmation link is not valid</h1>"
        "<p>It may have expired. Return to the shop and try again.</p>",
        404,
    )


def challenge(order_id: str, payment: dict[str, Any], action: str) -> HTMLResponse:
    """The page itself: the order, the amount, approve and decline."""
    amount = html.escape(f"{payment.get('amount', 0)} {payment.get('currency') or ''}".strip())
    body = (
        "<h1>Sandbox card confirmation</h1>"
        "<p>This page stands in for a card issuer's 3-D Secure challenge. No money moves.</p>"
        f"<p>Order <code data-testid='challenge-order-id'>{html.escape(order_id)}</code></p>"
        f"<p>Amount <strong data-testid='challenge-amount'>{amount}</strong></p>"
        f"<form method='post' action='{html.escape(action)}'>"
        "<button type='submit' name='outcome' value='approve' "
        "data-testid='challenge-approve'>Approve</button>"
        "<button type='submit' name='outcome' value='decline' "
        "data-testid='challenge-decline'>Decline</button></form>"
    )
    return page("Sandbox card confirmation", body)


def result(order_id: str, approved: bool) -> HTMLResponse:
    """What a submission shows when the configuration names no URL to go back to."""
    word = "approved" if approved else "declined"
    return page(
        f"Payment {word}",
        f"<h1 data-testid='challenge-result'>Payment {word}</h1>"
        f"<p>Order <code>{html.escape(order_id)}</code></p>",
    )


def bad_request() -> HTMLResponse:
    return page(
        "Bad request",
        "<h1 data-testid='challenge-bad-request'>Choose approve or decline</h1>",
        400,
    )
