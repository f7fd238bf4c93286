"""HTTP routes of the Configuration API (adapters §3.2, C1-C8). Thin: parse, call the
service, answer.

The tenant is the path's ``{merchant}`` and ``{channel}`` (adapters §2.1): ``x-merchant`` and
``x-channel`` are optional and ignored. ``schemas_router`` serves the base schema without a key.
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from kassa import http
from kassa.configuration import rules, schemas, service
from kassa.errors import ConfigurationNotFound
from kassa.http import Call, PathTenant
from kassa.idempotency import Outcome
from kassa.operations import route

router = APIRouter(prefix="/api/v1/configuration/merchants", tags=["Configuration"])
schemas_router = APIRouter(tags=["Configuration"])

CHANNEL = "/{merchant}/channels/{channel}/configurations"
ONE = CHANNEL + "/{configuration_name}"


def schema_response(schema_id: str) -> Response:
    """A schema of ``kassa.configuration.schemas`` as served (adapters §7): no key needed."""
    return Response(
        schemas.schema_bytes(schema_id),
        media_type=schemas.MEDIA_TYPE,
        headers={"Cache-Control": schemas.CACHE_CONTROL},
    )


@router.get("/{merchant}/channels", **route("GetConfigurationChannels"))
async def list_channels(merchant: str, request: Request) -> Response:
    tenant = PathTenant(merchant, None)
    call = await http.start_read(request, "GetConfigurationChannels", tenant=tenant)
    return http.json_response(await service.list_channels(call))


@router.get(CHANNEL, **route("GetConfigurations"))
async def list_configurations(merchant: str, channel: str, request: Request) -> Response:
    tenant = PathTenant(merchant, channel)
    call = await http.start_read(request, "GetConfigurations", tenant=tenant)
    return Response(await service.list_configurations(call), media_type="application/json")


@router.put(CHANNEL, **route("PutConfigurations"))
async def put_configurations(merchant: str, channel: str, request: Request) -> Response:
    tenant = PathTenant(merchant, channel)
    call = await http.start(request, "PutConfigurations", body=True, write=True, tenant=tenant)

    async def handler(call: Call) -> Outcome:
        return await service.put_many(call, rules.many(call.body))

    return await http.run(call, handler)


@router.delete(CHANNEL, **route("DeleteConfigurations"))
async def delete_configurations(merchant: str, channel: str, request: Request) -> Response:
    tenant = PathTenant(merchant, channel)
    call = await http.start(request, "DeleteConfigurations", write=True, tenant=tenant)
    return await http.run(call, service.delete_all)


@router.get(ONE, **route("GetConfiguration"))
async def get_configuration(
    merchant: str, channel: str, configuration_name: str, request: Request
) -> Response:
    tenant = PathTenant(merchant, channel)
    stored = await service.read_as_caller(request, tenant, configuration_name)
    return Response(
        stored.doc, media_type="application/json", headers={"ETag": http.etag(stored.version)}
    )


@router.put(ONE, **route("PutConfiguration"))
async def put_configuration(
    merchant: str, channel: str, configuration_name: str, request: Request
) -> Response:
    tenant = PathTenant(merchant, channel)
    call = await http.start(request, "PutConfiguration", body=True, write=True, tenant=tenant)

    async def handler(call: Call) -> Outcome:
        config = rules.one(call.body, configuration_name)
        if not rules.valid_name(configuration_name):
            raise ConfigurationNotFound(configuration_name)
        return await service.put_one(call, config)

    return await http.run(call, handler)


@router.delete(ONE, **route("DeleteConfiguration"))
async def delete_configuration(
    merchant: str, channel: str, configuration_name: str, request: Request
) -> Response:
    tenant = PathTenant(merchant, channel)
    call = await http.start(request, "DeleteConfiguration", write=True, tenant=tenant)

    async def handler(call: Call) -> Outcome:
        if not rules.valid_name(configuration_name):
            raise ConfigurationNotFound(configuration_name)
        return await service.delete_one(call, configuration_name)

    return await http.run(call, handler)


@schemas_router.get(f"/openapi/v1/schemas/{schemas.BASE}.json", **route("GetConfigurationSchema"))
async def base_schema(request: Request) -> Response:
    return schema_response(schemas.BASE)
