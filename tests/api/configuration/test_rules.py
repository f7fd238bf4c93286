"""The write rules of configurations (adapters §3.1, §7, §9 case 3): each broken rule is a 400
``invalid-configuration`` whose FieldErrors point into the body; sizes and counts are
``limit-exceeded``."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.configuration.conftest import Key, config, nonpsp
from tests.support.http_asserts import assert_error, field_paths

PSP = "kassa_sandbox_psp_adapter"
SHIPPING = "kassa_sandbox_shipping_adapter"


def shipping(**extra: Any) -> dict[str, Any]:
    option = {"id": "home", "name": "Home delivery", "price": 49, "vatRate": 0.25}
    return {"$schema": "urn:x", "id": SHIPPING, "options": [option], **extra}


CASES: list[tuple[str, str, Any, list[str]]] = [
    ("id differs from the name", "other", config("nonpsp_adapter"), ["/id"]),
    ("no $schema", "a", {"id": "a"}, ["/$schema"]),
    ("empty $schema", "a", config("a", **{"$schema": ""}), ["/$schema"]),
    ("no id", "a", {"$schema": "urn:x"}, ["/id"]),
    ("id not a string", "a", config("a", id=7), ["/id"]),
    ("active not a boolean", "a", config("a", active="yes"), ["/active"]),
    (
        "adapter without publicUrl",
        "a",
        config("a", adapter={"internalUrl": "x"}),
        ["/adapter/publicUrl"],
    ),
    ("adapter not an object", "a", config("a", adapter="x"), ["/adapter"]),
    (
        "duplicate identifiers",
        "nonpsp_adapter",
        nonpsp(methods=[{"identifier": "x"}, {"identifier": "y"}, {"identifier": "x"}]),
        ["/methods/2/identifier"],
    ),
    (
        "two preSelected",
        "nonpsp_adapter",
        nonpsp(
            methods=[
                {"identifier": "x", "preSelected": True},
                {"identifier": "y", "preSelected": True},
            ]
        ),
        ["/methods/1/preSelected"],
    ),
    (
        "method without identifier",
        "nonpsp_adapter",
        nonpsp(methods=[{}]),
        ["/methods/0/identifier"],
    ),
    ("push.duplicates 9", PSP, config(PSP, push={"duplicates": 9}), ["/push/duplicates"]),
    ("push.delayMs not an integer", PSP, config(PSP, push={"delayMs": 1.5}), ["/push/delayMs"]),
    ("unknown push key", PSP, config(PSP, push={"later": 1}), ["/push"]),
    ("unknown scenario", PSP, config(PSP, defaultScenario="maybe"), ["/defaultScenario"]),
    ("no options", SHIPPING, config(SHIPPING), ["/options"]),
    (
        "duplicate option ids",
        SHIPPING,
        shipping(options=[shipping()["options"][0], shipping()["options"][0]]),
        ["/options/1/id"],
    ),
    (
        "defaultOption names no option",
        SHIPPING,
        shipping(defaultOption="pickup"),
        ["/defaultOption"],
    ),
    (
        "option id with a final newline",
        SHIPPING,
        shipping(options=[{"id": "a\n", "name": "A", "price": 1, "vatRate": 0}]),
        ["/options/0/id"],
    ),
    (
        "negative price",
        SHIPPING,
        shipping(options=[{"id": "a", "name": "A", "price": -1, "vatRate": 0}]),
        ["/options/0/price"],
    ),
]


@pytest.mark.parametrize(("why", "name", "body", "paths"), CASES, ids=[c[0] for c in CASES])
async def test_a_broken_rule_is_invalid_configuration(
    cfg: httpx.AsyncClient, k1: Key, why: str, name: str, body: Any, paths: list[str]
) -> None:
    response = await cfg.put(k1.url("se", name), json=body)
    error = assert_error(response, 400, "invalid-configuration")
    assert field_paths(error) == paths, error
    assert_error(await cfg.get(k1.url("se", name)), 404, "configuration-not-found")
    if why == "id differs from the name":
        return  # a bulk body has no name in the path
    # the same in a bulk body: pointers below the element's index, nothing stored
    bulk = await cfg.put(k1.url("se"), json=[config("fine"), body])
    error = assert_error(bulk, 400, "invalid-configuration")
    assert field_paths(error) == [f"/1{p}" for p in paths], error
    assert (await cfg.get(k1.url("se"))).json() == []


async def test_built_in_adapter_schema_applies_whatever_schema_says(
    cfg: httpx.AsyncClient, k1: Key
) -> None:
    body = config(PSP, push={"duplicates": 9})
    body["$schema"] = "https://elsewhere.example/any.json"
    assert_error(await cfg.put(k1.url("se", PSP), json=body), 400, "invalid-configuration")
    # another id only meets the base schema: the same keys are free there
    other = config("my_adapter", push={"duplicates": 9}, methods="anything")
    response = await cfg.put(k1.url("se", "my_adapter"), json=other)
    assert response.status_code == 200, response.text


async def test_valid_adapter_configurations_pass(cfg: httpx.AsyncClient, k1: Key) -> None:
    bodies = [
        nonpsp(redirectUrls={"checkoutUrl": "https://shop/checkout", "confirmationUrl": "c"}),
        config(PSP, defaultScenario="redirect", push={"delayMs": 2.0, "duplicates": 2}),
        shipping(defaultOption="home", options=[{**shipping()["options"][0], "countries": ["SE"]}]),
    ]
    response = await cfg.put(k1.url("se"), json=bodies)
    assert response.status_code == 200, response.text
    stored = response.json()
    assert stored[1]["push"] == {"delayMs": 2, "duplicates": 2}  # 2.0 written canonically


async def test_body_not_an_object_or_array(cfg: httpx.AsyncClient, k1: Key) -> None:
    bodies: list[Any] = [[config("a")], "a", 1, None]
    for body in bodies:
        error = assert_error(await cfg.put(k1.url("se", "a"), json=body), 400, "invalid-request")
        assert field_paths(error) == [""]
    assert_error(await cfg.put(k1.url("se", "a")), 400, "invalid-request")  # no body
    for body in (config("a"), "b"):
        error = assert_error(await cfg.put(k1.url("se"), json=body), 400, "invalid-request")
        assert field_paths(error) == [""]
    error = assert_error(
        await cfg.put(k1.url("se"), json=[config("a"), 3]), 400, "invalid-configuration"
    )
    assert field_paths(error) == ["/1"]


async def test_malformed_json_and_media_type(cfg: httpx.AsyncClient, k1: Key) -> None:
    json_type = {"Content-Type": "application/json"}
    bad = await cfg.put(k1.url("se", "a"), content=b'{"id": "a",', headers=json_type)
    assert_error(bad, 400, "invalid-request")
    deep = await cfg.put(k1.url("se", "a"), content=b"[" * 70 + b"]" * 70, headers=json_type)
    assert_error(deep, 400, "invalid-request")
    text = await cfg.put(k1.url("se", "a"), content=b"id=a", headers={"Content-Type": "text/plain"})
    assert_error(text, 415, "unsupported-media-type")


async def test_size_limits(cfg: httpx.AsyncClient, k1: Key) -> None:
    big = config("a", blob="x" * 262_144)
    error = assert_error(await cfg.put(k1.url("se", "a"), json=big), 400, "limit-exceeded")
    assert field_paths(error) == [""]
    error = assert_error(
        await cfg.put(k1.url("se"), json=[config("b"), big]), 400, "limit-exceeded"
    )
    assert field_paths(error) == ["/1"]
    just = config("a", blob="")
    just["blob"] = "x" * (
        262_144
        - len('{"$schema":"https://example.test/schemas/configuration.json","id":"a","blob":""}')
    )
    assert (await cfg.put(k1.url("se", "a"), json=just)).status_code == 200
    huge = config("a", blob="x" * (1024 * 1024))
    assert_error(await cfg.put(k1.url("se", "a"), json=huge), 413, "payload-too-large")


async def test_at_most_100_per_channel(cfg: httpx.AsyncClient, k1: Key) -> None:
    hundred = [config(f"c{i:03}") for i in range(100)]
    response = await cfg.put(k1.url("se"), json=hundred)
    assert response.status_code == 200, response.text
    assert_error(
        await cfg.put(k1.url("se", "one_more"), json=config("one_more")), 400, "limit-exceeded"
    )
    bulk = await cfg.put(k1.url("se"), json=[config("c000", v=2), config("one_more")])
    assert_error(bulk, 400, "limit-exceeded")
    assert (await cfg.get(k1.url("se", "c000"))).json() == config("c000")  # all or nothing
    replaced = await cfg.put(k1.url("se", "c001"), json=config("c001", v=2))
    assert replaced.status_code == 200, replaced.text  # replacing adds none
    error = assert_error(
        await cfg.put(k1.url("no"), json=[*hundred, config("x")]), 400, "limit-exceeded"
    )
    assert field_paths(error) == ["/100"]
    assert (await cfg.get(k1.channels())).json() == ["se"]
