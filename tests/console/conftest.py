"""Fixtures of the console tests: a client without API headers (cookies only)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import client_for


@pytest.fixture
async def browser(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A cookie-keeping client of the console (an HTTP-level stand-in for a browser)."""
    async with client_for(app) as c:
        yield c
