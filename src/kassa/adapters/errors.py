"""The errors adapters add (adapters.md §8), and upstream errors passed through (§2.4)."""

from __future__ import annotations

from typing import Any

from kassa.errors import KassaError, NotFound


class AdapterInactive(KassaError):
    code, status, default_message = (
        "adapter-inactive",
        409,
        "The adapter is not active for this channel.",
    )

    def __init__(self, adapter_id: str, message: str | None = None) -> None:
        super().__init__(message, adapterId=adapter_id)


class PaymentMethodRequired(KassaError):
    code, status, default_message = (
        "payment-method-required",
        400,
        "No payment method is selected or pre-selected.",
    )


class OrderApiError(KassaError):
    code, status, default_message = (
        "order-api-error",
        502,
        "The Order API gave the adapter an unexpected answer.",
    )

    def __init__(
        self, upstream_status: int | None, upstream_code: str | None, message: str | None = None
    ) -> None:
        super().__init__(message, upstreamStatus=upstream_status, upstreamCode=upstream_code)


class Passed(KassaError):
    """An error of kassa's answer, passed on as it came (status, code, message, extra fields);
    the request id becomes the adapter request's."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        extra = {k: v for k, v in body.items() if k not in {"code", "message", "requestId"}}
        errors = extra.pop("errors", None)
        super().__init__(
            str(body.get("message") or "Error."),
            errors=errors if isinstance(errors, list) else None,
            **extra,
        )
        self.status = status
        self.code = str(body["code"])


class PaymentNotFound(NotFound):
    code = "payment-not-found"

    def __init__(self, payment_id: str) -> None:
        super().__init__(f"Payment with id:{payment_id} not found.")
