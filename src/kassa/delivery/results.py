"""What one outbound call came to, as plain data (no HTTP library needed to read it)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

Reason = Literal["http-error", "timeout", "network-error", "url-not-allowed", "too-large"]


@dataclass
class CallResult:
    status: int | None
    body: bytes
    error: str | None
    reason: Reason | None
    duration_ms: int
    headers: Mapping[str, str] | None = None

    @property
    def ok(self) -> bool:
        return self.reason is None and self.status is not None and 200 <= self.status < 300
