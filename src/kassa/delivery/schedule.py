"""What one delivery attempt means for its event (semantics §7.6, §7.8). Pure: no I/O, no clock.

``classify`` turns an outbound ``CallResult`` into the attempt's outcome and a verdict
(``succeeded``, ``retry`` or ``failed``); ``retry_delay_ms`` is the back-off after the n-th
failed attempt; ``decide`` combines both with the max-age and replay rules into the event's
state after the attempt.

A 2xx whose body is larger than the 64 KiB read cap counts as ``success``: the receiver has
accepted the event, and only the excerpt of what it said is cut (we keep what was read).
A larger body on any other status is classified by that status alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from kassa.delivery.results import CallResult

AttemptOutcome = Literal["success", "http-error", "timeout", "network-error", "url-not-allowed"]
Verdict = Literal["succeeded", "retry", "failed"]
EventStatus = Literal["pending", "succeeded", "failed"]

BASE_DELAY_MS = 60_000
MAX_DELAY_MS = 6 * 3600 * 1000
JITTER = 0.10
EXCERPT_CHARS = 2048
# a cut of the body large enough to hold EXCERPT_CHARS characters of UTF-8
_EXCERPT_BYTES = EXCERPT_CHARS * 4


@dataclass(frozen=True)
class Classified:
    outcome: AttemptOutcome
    verdict: Verdict
    status_code: int | None
    error: str | None
    excerpt: str
    retry_after_s: int | None


def _clean(text: str) -> str:
    # PostgreSQL text cannot hold NUL
    return text.replace("\x00", "\ufffd")


def excerpt(body: bytes) -> str:
    """The first 2,048 characters of a response body (invalid UTF-8 replaced)."""
    return _clean(body[:_EXCERPT_BYTES].decode("utf-8", "replace")[:EXCERPT_CHARS])


def retry_after_s(headers: Mapping[str, str] | None) -> int | None:
    """``Retry-After`` in seconds; an HTTP-date or anything else is ignored."""
    if headers is None:
        return None
    value = headers.get("retry-after")
    if value is None:
        return None
    value = value.strip()
    if not value.isascii() or not value.isdigit():
        return None
    return int(value)


def is_retryable_status(status: int) -> bool:
    return status >= 500 or status in (408, 429)


def classify(result: CallResult) -> Classified:
    status = result.status
    text = excerpt(result.body)
    error = _clean(result.error) if result.error is not None else None
    if result.reason == "url-not-allowed":
        return Classified("url-not-allowed", "failed", None, error, "", None)
    if result.reason == "timeout":
        return Classified("timeout", "retry", None, error, "", None)
    if result.reason == "network-error" or status is None:
        return Classified("network-error", "retry", None, error or "no response", "", None)
    if 200 <= status < 300:
        # too-large on a 2xx: accepted (see the module docstring), no error to report
        return Classified("success", "succeeded", status, None, text, None)
    after = retry_after_s(result.headers) if status in (429, 503) else None
    verdict: Verdict = "retry" if is_retryable_status(status) else "failed"
    return Classified("http-error", verdict, status, error or f"HTTP {status}", text, after)


def backoff_ms(failed_attempts: int) -> int:
    """``min(60 s * 2^(n-1), 6 h)`` after the n-th failed attempt (n ≥ 1), without jitter."""
    n = max(failed_attempts, 1)
    if n > 30:  # far beyond the cap; avoids huge integers
        return MAX_DELAY_MS
    delay: int = BASE_DELAY_MS << (n - 1)
    return min(delay, MAX_DELAY_MS)


def retry_delay_ms(failed_attempts: int, retry_after: int | None, rand: float) -> int:
    """The delay before the next attempt: back-off plus ``rand`` * 10 % jitter (``rand`` in
    [0, 1)); a ``Retry-After`` raises it to at least that many seconds, at most 6 h."""
    base = backoff_ms(failed_attempts)
    delay = base + int(base * JITTER * min(max(rand, 0.0), 1.0))
    if retry_after is not None:
        delay = max(delay, min(retry_after * 1000, MAX_DELAY_MS))
    return delay


@dataclass(frozen=True)
class Decision:
    status: EventStatus
    next_attempt_ms: int | None  # None unless pending


def decide(
    verdict: Verdict,
    *,
    attempt_number: int,
    replay: bool,
    first_attempt_ms: int,
    now_ms: int,
    max_age_ms: int,
    retry_after: int | None,
    rand: float,
) -> Decision:
    """The event's state after an attempt with ``verdict``.

    ``attempt_number`` counts this attempt (1 for the first); a replay makes exactly one
    attempt and never retries; a retryable failure at least ``max_age_ms`` after the first
    attempt fails the event.
    """
    if verdict == "succeeded":
        return Decision("succeeded", None)
    if verdict == "failed" or replay:
        return Decision("failed", None)
    if now_ms - first_attempt_ms >= max_age_ms:
        return Decision("failed", None)
    return Decision("pending", now_ms + retry_delay_ms(attempt_number, retry_after, rand))
