"""The adapter settings (adapters.md §1.4) as read from the environment."""

from __future__ import annotations

import pytest

from kassa.adapters.registry import problems
from kassa.config import Settings


def test_defaults() -> None:
    settings = Settings.from_env()
    assert settings.builtin_adapters == ("nonpsp_adapter",)
    assert settings.nonpsp_adapter_path_prefix == "/checkout/nonpsp-adapter"
    assert settings.sandbox_psp_path_prefix == "/checkout/sandbox-psp-adapter"
    assert settings.sandbox_shipping_path_prefix == "/checkout/sandbox-shipping-adapter"
    assert settings.adapter_callback_base_url == "http://kassa.internal"
    assert (settings.adapter_order_api_url, settings.adapter_configuration_api_url) == ("", "")
    assert settings.adapter_api_key is None and settings.adapter_key_secret is None
    assert settings.adapter_request_timeout == 10
    assert settings.public_base_url is None
    assert settings.sandbox_push_max_attempts == 5
    assert problems(settings) == []


def test_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KASSA_BUILTIN_ADAPTERS", " nonpsp_adapter , nonpsp_adapter,")
    monkeypatch.setenv("KASSA_NONPSP_ADAPTER_PATH_PREFIX", "pay/invoice/")
    monkeypatch.setenv("KASSA_ADAPTER_CALLBACK_BASE_URL", "http://adapters.internal:8100/")
    monkeypatch.setenv("KASSA_ADAPTER_ORDER_API_URL", "https://kassa.example/checkout/order/")
    monkeypatch.setenv("KASSA_ADAPTER_REQUEST_TIMEOUT", "2s")
    monkeypatch.setenv("KASSA_PUBLIC_BASE_URL", "https://shop.example/")
    settings = Settings.from_env()
    assert settings.builtin_adapters == ("nonpsp_adapter",)
    assert settings.nonpsp_adapter_path_prefix == "/pay/invoice"
    assert settings.adapter_callback_base_url == "http://adapters.internal:8100"
    assert settings.adapter_order_api_url == "https://kassa.example/checkout/order"
    assert settings.adapter_request_timeout == 2
    assert settings.public_base_url == "https://shop.example"


def test_none_mounted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KASSA_BUILTIN_ADAPTERS", "")
    assert Settings.from_env().builtin_adapters == ()


def test_bad_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KASSA_ADAPTER_REQUEST_TIMEOUT", "0")
    with pytest.raises(ValueError, match="KASSA_ADAPTER_REQUEST_TIMEOUT"):
        Settings.from_env()
    monkeypatch.delenv("KASSA_ADAPTER_REQUEST_TIMEOUT")
    monkeypatch.setenv("KASSA_SANDBOX_SHIPPING_PATH_PREFIX", "/checkout/sandbox-psp-adapter")
    monkeypatch.setenv("KASSA_BUILTIN_ADAPTERS", "kassa_sandbox_shipping_adapter")
    assert problems(Settings.from_env()) == [
        "KASSA_SANDBOX_SHIPPING_PATH_PREFIX must differ from KASSA_SANDBOX_PSP_PATH_PREFIX "
        "(/checkout/sandbox-psp-adapter)",
        "adapter 'kassa_sandbox_shipping_adapter' is not available in this version",
    ]
