"""Settings read from ``KASSA_*`` variables: the extension-engine settings (semantics §15)."""

from __future__ import annotations

import json
from pathlib import Path

import pydantic
import pytest

from kassa.config import Settings, channel_notifications

NOTE = {"scope": "/state/currentStatus", "schema": {"const": "completed"}, "invoke": "https://e/x"}


def test_channel_notifications_object_form() -> None:
    parsed = channel_notifications(json.dumps({"acme/web": [NOTE], "acme/app": []}))
    assert parsed == {("acme", "web"): [{**NOTE, "version": "v0"}], ("acme", "app"): []}


def test_channel_notifications_list_form_and_file(tmp_path: Path) -> None:
    path = tmp_path / "channels.json"
    entries = [
        {"merchant": "acme", "channel": "web", "notifications": [NOTE]},
        {"merchant": "acme", "channel": "web", "notifications": [{**NOTE, "reference": "two"}]},
    ]
    path.write_text(json.dumps(entries))
    parsed = channel_notifications("@" + str(path))
    assert [n.get("reference") for n in parsed[("acme", "web")]] == [None, "two"]


@pytest.mark.parametrize(
    "value",
    [
        '{"no-slash": []}',
        '{"acme/web": {"scope": "/x"}}',
        '"just a string"',
        "[1]",
    ],
)
def test_channel_notifications_bad_shape(value: str) -> None:
    with pytest.raises(ValueError, match="channel_notifications"):
        channel_notifications(value)


def test_channel_notifications_bad_notification() -> None:
    bad = json.dumps({"acme/web": [{"scope": "/payments/0/amount", "invoke": "https://e"}]})
    with pytest.raises(pydantic.ValidationError):
        channel_notifications(bad)


def test_engine_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KASSA_HOOK_FAILURE_POLICY", "Closed")
    monkeypatch.setenv("KASSA_HOOK_TIMEOUT", "1.5s")
    monkeypatch.setenv("KASSA_VALIDATION_TIMEOUT", "2")
    monkeypatch.setenv("KASSA_DELIVERY_MAX_AGE", "48h")
    monkeypatch.setenv("KASSA_CHANNEL_NOTIFICATIONS", json.dumps({"m/c": [NOTE]}))
    settings = Settings.from_env()
    assert settings.hook_failure_policy == "closed"
    assert settings.validation_failure_policy == "open"
    assert settings.hook_timeout == 1.5
    assert settings.validation_timeout == 2.0
    assert settings.delivery_max_age == 48 * 3600
    assert list(settings.channel_notifications) == [("m", "c")]


def test_unknown_policy_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KASSA_VALIDATION_FAILURE_POLICY", "sometimes")
    with pytest.raises(ValueError, match="KASSA_VALIDATION_FAILURE_POLICY"):
        Settings.from_env()


def test_delivery_in_api_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings(database_url="sqlite+aiosqlite:///x.db").delivery_in_api is True
    assert Settings(database_url="postgresql+asyncpg://u@h/d").delivery_in_api is False
    forced = Settings(database_url="postgresql+asyncpg://u@h/d", run_delivery_in_api=True)
    assert forced.delivery_in_api is True


def test_database_pool_sizes_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    defaults = Settings.from_env()
    assert (defaults.database_pool_size, defaults.database_transaction_pool_size) == (32, 8)
    monkeypatch.setenv("KASSA_DATABASE_POOL_SIZE", "5")
    monkeypatch.setenv("KASSA_DATABASE_TRANSACTION_POOL_SIZE", "3")
    settings = Settings.from_env()
    assert (settings.database_pool_size, settings.database_transaction_pool_size) == (5, 3)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, False), ("", False), ("off", False), ("0", False), ("1", True), ("On", True)],
)
def test_database_pgbouncer_from_environment(
    monkeypatch: pytest.MonkeyPatch, value: str | None, expected: bool
) -> None:
    # make test sets it for its run through PgBouncer
    monkeypatch.delenv("KASSA_DATABASE_PGBOUNCER", raising=False)
    if value is not None:
        monkeypatch.setenv("KASSA_DATABASE_PGBOUNCER", value)
    assert Settings.from_env().database_pgbouncer is expected


@pytest.mark.parametrize("value", ["0", "-3", "many", "2.5"])
@pytest.mark.parametrize("name", ["POOL_SIZE", "TRANSACTION_POOL_SIZE"])
def test_database_pool_size_must_be_a_positive_whole_number(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(f"KASSA_DATABASE_{name}", value)
    with pytest.raises(ValueError, match=f"KASSA_DATABASE_{name} must be a whole number"):
        Settings.from_env()


def test_database_timeouts_default() -> None:
    settings = Settings.from_env()
    assert settings.database_pool_timeout == 5
    assert settings.database_connect_timeout == 5
    assert settings.database_statement_timeout == 30


def test_database_timeouts_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KASSA_DATABASE_POOL_TIMEOUT", "0.5")
    monkeypatch.setenv("KASSA_DATABASE_CONNECT_TIMEOUT", "2s")
    monkeypatch.setenv("KASSA_DATABASE_STATEMENT_TIMEOUT", "2m")
    settings = Settings.from_env()
    assert settings.database_pool_timeout == 0.5
    assert settings.database_connect_timeout == 2
    assert settings.database_statement_timeout == 120


def test_database_statement_timeout_zero_is_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KASSA_DATABASE_STATEMENT_TIMEOUT", "0")
    assert Settings.from_env().database_statement_timeout == 0


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DATABASE_POOL_TIMEOUT", "0"),
        ("DATABASE_POOL_TIMEOUT", "-1"),
        ("DATABASE_POOL_TIMEOUT", "soon"),
        ("DATABASE_CONNECT_TIMEOUT", "0s"),
        ("DATABASE_CONNECT_TIMEOUT", "inf"),
        ("DATABASE_STATEMENT_TIMEOUT", "-5"),
        ("DATABASE_STATEMENT_TIMEOUT", "nan"),
    ],
)
def test_database_timeouts_refuse_bad_values(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv("KASSA_" + name, value)
    with pytest.raises(ValueError, match=f"KASSA_{name} must be a number of seconds"):
        Settings.from_env()


# Mount points (adapters §1.1, §1.4) ------------------------------------------------------------

_PREFIXES = ("PATH_PREFIX", "CONFIGURATION_PATH_PREFIX", "EVENTS_PATH_PREFIX", "NORCE_LAYOUT")


def _mounts(settings: Settings) -> tuple[str, str, str]:
    return (
        settings.path_prefix,
        settings.configuration_path_prefix,
        settings.events_path_prefix,
    )


def test_mount_points_follow_path_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _PREFIXES:
        monkeypatch.delenv("KASSA_" + name, raising=False)
    assert _mounts(Settings.from_env()) == ("", "", "")
    monkeypatch.setenv("KASSA_PATH_PREFIX", "shop/")
    assert _mounts(Settings.from_env()) == ("/shop", "/shop", "/shop")
    monkeypatch.setenv("KASSA_EVENTS_PATH_PREFIX", "/events/")
    assert _mounts(Settings.from_env()) == ("/shop", "/shop", "/events")
    assert _mounts(Settings.from_env(path_prefix="/other")) == ("/other", "/other", "/events")
    assert _mounts(Settings(path_prefix="/p")) == ("/p", "/p", "/p")
    assert _mounts(Settings(path_prefix="/p", configuration_path_prefix="")) == ("/p", "", "/p")


def test_norce_layout(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _PREFIXES:
        monkeypatch.delenv("KASSA_" + name, raising=False)
    monkeypatch.setenv("KASSA_NORCE_LAYOUT", "true")
    norce = ("/checkout/order", "/checkout/configuration", "/checkout/notification")
    assert _mounts(Settings.from_env()) == norce
    assert Settings.from_env().norce_layout is True
    # each explicit setting wins, an empty one too
    monkeypatch.setenv("KASSA_PATH_PREFIX", "")
    monkeypatch.setenv("KASSA_EVENTS_PATH_PREFIX", "/n")
    assert _mounts(Settings.from_env()) == ("", "/checkout/configuration", "/n")
    # constructed directly, the unset mount points take Norce's; path_prefix is as given
    assert _mounts(Settings(norce_layout=True, path_prefix="/checkout/order")) == norce
