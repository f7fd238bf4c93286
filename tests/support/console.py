"""Helpers of the console tests: operators, signing in through the form, reading forms."""

from __future__ import annotations

import html
import re
import secrets
from dataclasses import dataclass

import httpx

from kassa.console import accounts
from kassa.console.accounts import Role
from kassa.db.engine import Database

CONSOLE = "/console"
PASSWORD = "correct horse battery staple"


@dataclass
class Login:
    name: str
    merchant: str
    password: str


async def make_operator(
    db: Database, merchant: str, role: Role = Role.operator, channels: list[str] | None = None
) -> Login:
    name = f"op-{secrets.token_hex(5)}"
    await accounts.create_operator(
        db, name, merchant=merchant, role=role, channels=channels, password=PASSWORD
    )
    return Login(name, merchant, PASSWORD)


def hidden(page: str, name: str) -> str:
    """The value of the first hidden input called ``name``."""
    match = re.search(rf'<input type="hidden" name="{name}" value="([^"]*)"', page)
    assert match, f"no hidden input {name!r}"
    return html.unescape(match.group(1))


def form_fields(page: str, testid: str) -> dict[str, str]:
    """The hidden fields of the form carrying ``data-testid=testid``."""
    match = re.search(rf'<form[^>]*data-testid="{re.escape(testid)}"[^>]*>(.*?)</form>', page, re.S)
    assert match, f"no form {testid!r}"
    fields = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', match.group(1))
    return {name: html.unescape(value) for name, value in fields}


def form_action(page: str, testid: str) -> str:
    match = re.search(rf'<form method="post" action="([^"]+)"[^>]*data-testid="{testid}"', page)
    assert match, f"no form {testid!r}"
    return html.unescape(match.group(1))


async def login_response(
    client: httpx.AsyncClient, login: Login, password: str | None = None
) -> httpx.Response:
    page = await client.get(f"{CONSOLE}/login")
    assert page.status_code == 200, page.text
    data = {"csrf": hidden(page.text, "csrf"), "name": login.name}
    data["password"] = password if password is not None else login.password
    return await client.post(f"{CONSOLE}/login", data=data)


async def sign_in(client: httpx.AsyncClient, login: Login) -> None:
    response = await login_response(client, login)
    assert response.status_code == 303, response.text
    assert response.headers["location"] == f"{CONSOLE}/orders"
