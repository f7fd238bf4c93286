"""Wire schemas of payments, payment actions and transactions (api §3.10-3.11, §3.17-3.19)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import ConfigDict, Field

from kassa.schemas_common import (
    Attributes,
    Currency,
    DateTime,
    Money,
    PaymentEvent,
    PaymentState,
    PaymentType,
    Text,
    UpsellState,
    WireModel,
    ci_enum,
    null_means_absent,
)

PaymentStateField = Annotated[PaymentState, ci_enum(PaymentState)]
PaymentTypeField = Annotated[PaymentType, ci_enum(PaymentType)]
PaymentEventField = Annotated[PaymentEvent, ci_enum(PaymentEvent)]
UpsellStateField = Annotated[UpsellState, ci_enum(UpsellState)]

MAX_PROVIDER_PAYLOAD = 262_144
NonEmpty = Annotated[str, Field(min_length=1, max_length=4096)]
ActionUrl = Annotated[str, Field(min_length=1, max_length=2048)]


class PaymentActionIn(WireModel):
    """An action as registered: ``adapterId``, ``type`` and ``url`` required and non-empty."""

    id: str | None = None  # kept only when it is a current action id of the payment
    adapter_id: NonEmpty
    type: NonEmpty
    url: ActionUrl


class ActionSnapshot(WireModel):
    """``paymentAction`` inside a transaction: a stored snapshot, every field optional."""

    id: Text | None = None
    adapter_id: Text | None = None
    type: Text | None = None
    url: Text | None = None


class Recurring(WireModel):
    token: NonEmpty
    description: Text | None = None
    attributes: Attributes | None = None


class UpsellTransaction(WireModel):
    id: Text | None = None
    state: UpsellStateField | None = None
    item_ids: list[Text] | None = None
    attributes: Attributes | None = None


class Upsell(WireModel):
    eligible: bool | None = None
    expiration: DateTime | None = None
    transactions: list[UpsellTransaction] | None = None
    attributes: Attributes | None = None


class PaymentIn(WireModel):
    adapter_id: Text | None = None
    name: Text | None = None
    currency: Currency | None = None
    type: PaymentTypeField | None = None
    amount: Money | None = None
    upper_limit_amount: Money | None = None
    state: PaymentStateField | None = None
    reference: Text | None = None
    attributes: Attributes | None = None
    actions: list[PaymentActionIn] | None = None
    recurring: Recurring | None = None
    upsell: Upsell | None = None


# requestJson / responseJson: opaque provider text (JSON, XML, plain), stored verbatim
ProviderPayload = Annotated[str, Field(max_length=MAX_PROVIDER_PAYLOAD)]


def _amount_rule(schema: dict[str, Any]) -> None:
    """Document the rule checked by ``payments.service.add_transaction`` (api op 30)."""
    null_means_absent(schema)
    schema["if"] = {
        "properties": {
            "event": {"enum": [PaymentEvent.capture.value, PaymentEvent.refund.value]},
            "isSuccess": {"const": True},
        },
        "required": ["event", "isSuccess"],
    }
    schema["then"] = {"required": ["amount"], "properties": {"amount": {"type": "number"}}}
    schema["description"] = "amount is required when a capture or refund succeeds."


class TransactionIn(WireModel):
    model_config = ConfigDict(json_schema_extra=_amount_rule)

    event: PaymentEventField
    psp_event: Text | None = None
    amount: Money | None = None
    is_success: bool = False
    error_detail: Text | None = None
    psp_status: Text | None = None
    request_json: ProviderPayload | None = None
    response_json: ProviderPayload | None = None
    payment_action: ActionSnapshot | None = None
