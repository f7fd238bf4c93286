"""Every error kassa answers with, as one small class tree.

``KassaError`` carries a stable kebab-case ``code``, an HTTP ``status``, a human ``message`` and
optional extra body fields. One handler in ``kassa.app`` turns any of them into the wire body
``{"code", "message", "requestId", ...}``; nothing else builds error responses.
"""

from __future__ import annotations

from typing import Any


class KassaError(Exception):
    code = "internal-error"
    status = 500
    default_message = "Internal error."

    def __init__(
        self,
        message: str | None = None,
        *,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        self.message = message or self.default_message
        super().__init__(self.message)
        self.errors = errors
        self.headers = headers or {}
        self.extra = extra

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.errors is not None:
            body["errors"] = self.errors
        body.update(self.extra)
        return body


def field_error(path: str, message: str) -> dict[str, Any]:
    return {"path": path, "message": message}


class InvalidRequest(KassaError):
    code, status, default_message = "invalid-request", 400, "The request is invalid."


class MissingHeader(KassaError):
    code, status, default_message = "missing-header", 400, "A required header is missing."


class InvalidAmount(KassaError):
    code, status, default_message = "invalid-amount", 400, "An amount is invalid."


class LimitExceeded(KassaError):
    code, status, default_message = "limit-exceeded", 400, "A limit would be exceeded."


class InvalidConfiguration(KassaError):
    code, status, default_message = (
        "invalid-configuration",
        400,
        "The configuration is invalid.",
    )


class ValidationFailed(KassaError):
    code, status, default_message = "validation-failed", 400, "The order did not pass validation."


class Unauthorized(KassaError):
    code, status, default_message = "unauthorized", 401, "Missing, unknown or revoked API key."


class Forbidden(KassaError):
    code, status, default_message = (
        "forbidden",
        403,
        "The API key is not valid for this merchant or channel.",
    )


class NotFound(KassaError):
    status = 404


class OrderNotFound(NotFound):
    code = "order-not-found"

    def __init__(self, order_id: str) -> None:
        super().__init__(f"Order with id:{order_id} not found.")


class ConsentNotFound(NotFound):
    code = "consent-not-found"

    def __init__(self, consent_id: str) -> None:
        super().__init__(f"Consent with id:{consent_id} not found.")


class EventNotFound(NotFound):
    code = "event-not-found"

    def __init__(self, event_id: str) -> None:
        super().__init__(f"Event with id:{event_id} not found.")


class ConfigurationNotFound(NotFound):
    code = "configuration-not-found"

    def __init__(self, name: str) -> None:
        super().__init__(f"Configuration with name:{name} not found.")


class RouteNotFound(NotFound):
    code, default_message = "route-not-found", "No such route."


class MethodNotAllowed(KassaError):
    code, status, default_message = "method-not-allowed", 405, "Method not allowed on this route."


class InvalidStateTransition(KassaError):
    code, status = "invalid-state-transition", 409

    def __init__(self, from_state: str, to_state: str) -> None:
        extra: dict[str, Any] = {"from": from_state, "to": to_state}
        super().__init__(f"Transition from {from_state} to {to_state} is not allowed.", **extra)


class OrderNotEditable(KassaError):
    code, status = "order-not-editable", 409

    def __init__(self, state: str, what: str = "This operation") -> None:
        super().__init__(f"{what} is not allowed while the order is {state}.", state=state)


class ConsentAlreadyExists(KassaError):
    code, status = "consent-already-exists", 409

    def __init__(self, consent_id: str) -> None:
        super().__init__(f"Consent with id:{consent_id} already exists.")


class OrderHasTransactions(KassaError):
    code, status, default_message = (
        "order-has-transactions",
        409,
        "The order has captured payments and cannot be deleted.",
    )


class ConcurrentModification(KassaError):
    code, status, default_message = (
        "concurrent-modification",
        409,
        "The order changed concurrently; retry the request.",
    )


class IdempotencyKeyInFlight(KassaError):
    code, status, default_message = (
        "idempotency-key-in-flight",
        409,
        "A request with this Idempotency-Key is still being processed.",
    )


class IdempotencyKeyReuse(KassaError):
    code, status, default_message = (
        "idempotency-key-reuse",
        422,
        "This Idempotency-Key was used for a different request.",
    )


class PreconditionFailed(KassaError):
    code, status = "precondition-failed", 412

    def __init__(self, version: int | None, subject: str = "order") -> None:
        """``version`` ``None``: there is no current version (a configuration not yet
        created), so no ``currentETag``."""
        if version is None:
            super().__init__(f"If-Match is set but the {subject} does not exist.")
        else:
            super().__init__(
                f"If-Match does not match the current {subject} version.",
                currentETag=f'"{version}"',
            )


class PayloadTooLarge(KassaError):
    code, status, default_message = (
        "payload-too-large",
        413,
        "The request body is larger than 1 MiB.",
    )


class UnsupportedMediaType(KassaError):
    code, status, default_message = (
        "unsupported-media-type",
        415,
        "The request body must be JSON (Content-Type application/json).",
    )


class ServiceUnavailable(KassaError):
    code, status, default_message = "service-unavailable", 503, "The service is unavailable."
