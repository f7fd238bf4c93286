"""HTTP routes of the events API (api ops 36-38). Only the merchant is checked against the key;
every answer is limited to the key's channels, and ``x-channel`` is ignored (api §1.4)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response

from kassa import http, jsonutil, unit_of_work
from kassa import queryparams as qp
from kassa.events import service
from kassa.events.service import EventFilter
from kassa.http import Call
from kassa.idempotency import Outcome
from kassa.operations import route
from kassa.unit_of_work import RetryEvent

router = APIRouter(prefix="/api/v1/events", tags=["Events"])

STATUSES = ("pending", "succeeded", "failed")
JSON = {"Content-Type": "application/json"}


def parse_filter(params: QueryParams, merchant: str, key_channels: Any) -> EventFilter:
    statuses: tuple[str, ...] | None = None
    if raw_statuses := qp.values(params, "status"):
        found = []
        for raw in raw_statuses:
            status = raw.lower()
            if status not in STATUSES:
                raise qp.bad("status", f"unknown event status {raw!r}")
            found.append(status)
        statuses = tuple(found)
    return EventFilter(
        merchant=merchant,
        key_channels=key_channels,
        offset=qp.integer(params, "offset", 0, 0),
        limit=qp.integer(params, "limit", 10, 1, served_at_most=qp.MAX_LIMIT),
        order_id=qp.one(params, "order_id", "orderId"),
        adapter_id=qp.one(params, "adapter_id", "adapterId"),
        reference=qp.one(params, "reference"),
        channel=qp.one(params, "channel"),
        statuses=statuses,
    )


@router.get("", **route("GetEvents"))
async def list_events(request: Request) -> Response:
    call = await http.start_read(request, "GetEvents", channel_required=False)
    principal = call.principal
    f = parse_filter(request.query_params, principal.merchant, principal.key_channels)
    data, total = await service.list_events(call, f)
    pagination = {"offset": f.offset, "limit": f.limit, "size": len(data), "totalSize": total}
    return http.json_response({"data": data, "pagination": pagination})


@router.get("/{event_id}", **route("GetEvent"))
async def get_event(event_id: str, request: Request) -> Response:
    call = await http.start_read(request, "GetEvent", channel_required=False)
    return Response(await service.get_event(call, event_id), media_type="application/json")


@router.post("/{event_id}/retry", **route("RetryEvent"))
async def retry_event(event_id: str, request: Request) -> Response:
    call = await http.start(request, "RetryEvent", write=True, channel_required=False)

    async def handler(call: Call) -> Outcome:
        def respond(event: dict[str, Any]) -> Outcome:
            return Outcome(202, jsonutil.dumps(event), dict(JSON))

        return await unit_of_work.execute(call, RetryEvent(event_id, respond))

    return await http.run(call, handler)
