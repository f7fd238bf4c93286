"""Helpers shared by the unit tests of ``kassa.orders.rules`` in tests/unit/orders."""

from __future__ import annotations

import re
from typing import Any

from kassa.orders.document import Price

CI_ID = re.compile(r"^ci_[A-Za-z]{26}$")


def price(incl: Any, excl: Any) -> Price:
    return {"includingVat": incl, "excludingVat": excl}
