"""The pure delivery rules (semantics §7.6, §7.8): attempt classification, the back-off with
jitter and Retry-After, max age and replay."""

from __future__ import annotations

import httpx
from hypothesis import given
from hypothesis import strategies as st

from kassa.delivery.results import CallResult
from kassa.delivery.schedule import (
    MAX_DELAY_MS,
    Decision,
    backoff_ms,
    classify,
    decide,
    excerpt,
    retry_after_s,
    retry_delay_ms,
)

MINUTE = 60_000
DAY = 24 * 3600 * 1000


def http(status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> CallResult:
    if 200 <= status < 300:
        return CallResult(status, body, None, None, 5, httpx.Headers(headers or {}))
    error = f"HTTP {status}"
    return CallResult(status, body, error, "http-error", 5, httpx.Headers(headers or {}))


def test_classification_table() -> None:
    assert classify(http(200, b"ok")).outcome == "success"
    assert classify(http(204)).verdict == "succeeded"
    for status in (500, 502, 503, 504, 408, 429):
        got = classify(http(status))
        assert (got.outcome, got.verdict, got.status_code) == ("http-error", "retry", status)
    for status in (100, 101, 301, 302, 304, 400, 401, 403, 404, 409, 410, 422):
        got = classify(http(status))
        assert (got.outcome, got.verdict, got.status_code) == ("http-error", "failed", status)
    timeout = classify(CallResult(None, b"", "timeout after 10 s", "timeout", 10_000))
    assert (timeout.outcome, timeout.verdict, timeout.error) == (
        "timeout",
        "retry",
        "timeout after 10 s",
    )
    network = classify(CallResult(None, b"", "connection refused", "network-error", 1))
    assert (network.outcome, network.verdict) == ("network-error", "retry")
    refused = classify(CallResult(None, b"", "url-not-allowed: x", "url-not-allowed", 0))
    assert (refused.outcome, refused.verdict, refused.status_code) == (
        "url-not-allowed",
        "failed",
        None,
    )


def test_too_large_answers() -> None:
    # a 2xx whose body passed the cap was still accepted by the receiver
    accepted = classify(CallResult(200, b"x" * 100, "response larger", "too-large", 3))
    assert (accepted.outcome, accepted.verdict, accepted.error) == ("success", "succeeded", None)
    assert accepted.excerpt == "x" * 100
    refused = classify(CallResult(500, b"y", "response larger", "too-large", 3))
    assert (refused.outcome, refused.verdict, refused.status_code) == ("http-error", "retry", 500)
    bad = classify(CallResult(404, b"y", "response larger", "too-large", 3))
    assert bad.verdict == "failed"


def test_excerpt_is_2048_characters_and_text_safe() -> None:
    assert excerpt(b"a" * 5000) == "a" * 2048
    assert excerpt("é".encode() * 3000) == "é" * 2048
    assert excerpt(b"\xff\x00ok") == "\ufffd\ufffdok"
    assert excerpt(b"") == ""


def test_retry_after_parsing() -> None:
    assert retry_after_s(httpx.Headers({"Retry-After": "120"})) == 120
    assert retry_after_s(httpx.Headers({"Retry-After": " 7 "})) == 7
    assert retry_after_s(httpx.Headers({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})) is None
    assert retry_after_s(httpx.Headers({"Retry-After": "-1"})) is None
    assert retry_after_s(httpx.Headers({})) is None
    assert retry_after_s(None) is None
    # only 429 and 503 carry a Retry-After that counts
    assert classify(http(429, headers={"Retry-After": "30"})).retry_after_s == 30
    assert classify(http(503, headers={"Retry-After": "30"})).retry_after_s == 30
    assert classify(http(500, headers={"Retry-After": "30"})).retry_after_s is None


def test_backoff_doubles_from_a_minute_to_six_hours() -> None:
    assert [backoff_ms(n) // MINUTE for n in range(1, 12)] == [
        1, 2, 4, 8, 16, 32, 64, 128, 256, 360, 360,
    ]  # fmt: skip
    assert backoff_ms(10_000) == MAX_DELAY_MS


def test_the_schedule_of_semantics_7_6() -> None:
    """Without jitter: attempts at 0, 1, 3, 7, 15, 31, 63, 127, 255, 511, 871, 1231 and 1591
    minutes, 13 in all; the 13th fails the event (26.5 h after the first)."""
    now, first, starts = 0, 0, []
    for number in range(1, 100):
        starts.append(now // MINUTE)
        decision = decide(
            "retry",
            attempt_number=number,
            replay=False,
            first_attempt_ms=first,
            now_ms=now,
            max_age_ms=DAY,
            retry_after=None,
            rand=0.0,
        )
        if decision.status == "failed":
            break
        assert decision.status == "pending" and decision.next_attempt_ms is not None
        now = decision.next_attempt_ms
    assert starts == [0, 1, 3, 7, 15, 31, 63, 127, 255, 511, 871, 1231, 1591]


def test_decide_terminal_cases() -> None:
    common = {
        "attempt_number": 1,
        "first_attempt_ms": 0,
        "now_ms": 1000,
        "max_age_ms": DAY,
        "retry_after": None,
        "rand": 0.5,
    }
    assert decide("succeeded", replay=False, **common).status == "succeeded"  # type: ignore[arg-type]
    assert decide("failed", replay=False, **common).status == "failed"  # type: ignore[arg-type]
    # a replay makes exactly one attempt
    assert decide("retry", replay=True, **common).status == "failed"  # type: ignore[arg-type]
    assert decide("succeeded", replay=True, **common).status == "succeeded"  # type: ignore[arg-type]
    pending = decide("retry", replay=False, **common)  # type: ignore[arg-type]
    assert pending.status == "pending"
    assert pending.next_attempt_ms == 1000 + MINUTE + MINUTE // 20


@given(
    n=st.integers(min_value=1, max_value=200),
    rand=st.floats(min_value=0, max_value=1, exclude_max=True),
    after=st.none() | st.integers(min_value=0, max_value=10**9),
)
def test_retry_delay_bounds(n: int, rand: float, after: int | None) -> None:
    base = min(MINUTE * 2 ** min(n - 1, 40), MAX_DELAY_MS)
    delay = retry_delay_ms(n, after, rand)
    assert delay >= base
    assert delay >= min(after * 1000, MAX_DELAY_MS) if after is not None else True
    assert delay <= max(base + base // 10, MAX_DELAY_MS)
    if after is None:
        assert delay <= base + base // 10


@given(
    n=st.integers(min_value=1, max_value=50),
    rand=st.floats(min_value=0, max_value=1, exclude_max=True),
)
def test_backoff_never_shrinks(n: int, rand: float) -> None:
    assert backoff_ms(n + 1) >= backoff_ms(n)
    assert retry_delay_ms(n, None, rand) <= retry_delay_ms(n + 1, None, 0.0) * 1.1 + 1


@given(
    status=st.integers(min_value=100, max_value=599),
    body=st.binary(max_size=64),
)
def test_every_status_has_one_verdict(status: int, body: bytes) -> None:
    got = classify(http(status, body))
    if 200 <= status < 300:
        assert (got.outcome, got.verdict) == ("success", "succeeded")
    elif status >= 500 or status in (408, 429):
        assert (got.outcome, got.verdict) == ("http-error", "retry")
    else:
        assert (got.outcome, got.verdict) == ("http-error", "failed")
    assert got.status_code == status
    assert "\x00" not in got.excerpt


@given(
    age_ms=st.integers(min_value=0, max_value=3 * DAY),
    max_age_ms=st.integers(min_value=0, max_value=2 * DAY),
    number=st.integers(min_value=1, max_value=20),
)
def test_max_age_rule(age_ms: int, max_age_ms: int, number: int) -> None:
    decision = decide(
        "retry",
        attempt_number=number,
        replay=False,
        first_attempt_ms=1_000,
        now_ms=1_000 + age_ms,
        max_age_ms=max_age_ms,
        retry_after=None,
        rand=0.0,
    )
    if age_ms >= max_age_ms:
        assert decision == Decision("failed", None)
    else:
        assert decision.status == "pending"
        assert decision.next_attempt_ms == 1_000 + age_ms + backoff_ms(number)
