"""``GET /metrics``: every metric in the Prometheus text format, as ``lfctl metrics`` prints."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from localforge.http.relay import services
from localforge.http.schemas import LlamaServerError, errors
from localforge.serving.metrics import CONTENT_TYPE

router = APIRouter(tags=["Prometheus"])


@router.get(
    "/metrics",
    response_model=None,
    responses={
        200: {
            "description": "the Prometheus text exposition format",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        },
        **errors(LlamaServerError),
    },
)
async def metrics(request: Request) -> Response:
    """Requests, routing decisions, loads, queue depth, tokens/s, latencies, memory."""
    return Response(await services(request).metrics.render(), media_type=CONTENT_TYPE)
