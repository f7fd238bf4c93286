"""Configuration schemas (adapters §7, §9 case 5): the base schema served without a key, the
four schemas valid JSON Schema 2020-12, and the registry other code uses."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from jsonschema import Draft202012Validator

from kassa.configuration import schemas
from tests.api.configuration.conftest import PREFIX, Key, config
from tests.conftest import client_for
from tests.support.http_asserts import assert_error, field_paths

URL = PREFIX + "/openapi/v1/schemas/configuration.json"
MINIMAL: dict[str, dict[str, Any]] = {
    "configuration": config("anything"),
    "nonpsp_adapter": config("nonpsp_adapter"),
    "kassa_sandbox_psp_adapter": config("kassa_sandbox_psp_adapter"),
    "kassa_sandbox_shipping_adapter": config(
        "kassa_sandbox_shipping_adapter",
        options=[{"id": "o", "name": "O", "price": 0, "vatRate": 0}],
    ),
}
BROKEN: dict[str, tuple[dict[str, Any], str]] = {
    "configuration": ({**config("anything"), "active": 1}, "/active"),
    "nonpsp_adapter": ({**config("nonpsp_adapter"), "methods": {}}, "/methods"),
    "kassa_sandbox_psp_adapter": (
        {**config("kassa_sandbox_psp_adapter"), "pendingOutcome": "later"},
        "/pendingOutcome",
    ),
    "kassa_sandbox_shipping_adapter": (
        config(
            "kassa_sandbox_shipping_adapter",
            options=[{"id": "o", "name": "O", "price": 0, "vatRate": 2}],
        ),
        "/options/0/vatRate",
    ),
}


async def test_base_schema_is_served_without_a_key(cfg_app: FastAPI) -> None:
    async with client_for(cfg_app) as anonymous:
        response = await anonymous.get(URL)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/schema+json"
        assert response.headers["cache-control"] == "public, max-age=3600"
        document = response.json()
        assert document == schemas.schema_for("configuration")
        assert document["$id"] == "urn:kassa:configuration:configuration:v1"
        assert document["required"] == ["$schema", "id"]
        Draft202012Validator.check_schema(document)
        assert_error(await anonymous.post(URL), 405, "method-not-allowed")
        other = await anonymous.get(PREFIX + "/openapi/v1/schemas/nonpsp.json")
        assert_error(other, 404, "route-not-found")


@pytest.mark.parametrize("schema_id", schemas.SCHEMA_IDS)
def test_the_four_schemas_are_valid_2020_12(schema_id: str) -> None:
    schema = schemas.schema_for(schema_id)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == f"urn:kassa:configuration:{schema_id}:v1"
    assert json.loads(schemas.schema_bytes(schema_id)) == schema
    assert "$ref" not in schemas.schema_bytes(schema_id).decode()  # self-contained
    schema["type"] = "changed"  # a copy: the registry is not changed through it
    assert schemas.schema_for(schema_id)["type"] == "object"


@pytest.mark.parametrize("schema_id", schemas.SCHEMA_IDS)
async def test_minimal_passes_and_a_broken_constraint_fails(
    cfg: httpx.AsyncClient, k1: Key, schema_id: str
) -> None:
    minimal = MINIMAL[schema_id]
    assert schemas.validate(minimal) == []
    response = await cfg.put(k1.url("se", minimal["id"]), json=minimal)
    assert response.status_code == 200, response.text
    assert response.json() == minimal
    broken, path = BROKEN[schema_id]
    assert [e["path"] for e in schemas.validate(broken)] == [path]
    response = await cfg.put(k1.url("se", broken["id"]), json=broken)
    assert field_paths(assert_error(response, 400, "invalid-configuration")) == [path]


def test_registry_names_the_schema_of_a_configuration() -> None:
    assert schemas.schema_id_of(config("nonpsp_adapter")) == "nonpsp_adapter"
    assert schemas.schema_id_of(config("my_own_adapter")) == schemas.BASE
    assert schemas.schema_id_of({"id": 3}) == schemas.BASE
    assert schemas.schema_id_of([]) == schemas.BASE
    with pytest.raises(KeyError):
        schemas.schema_for("unknown_adapter")
