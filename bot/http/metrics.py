"""``GET /metrics``: Squall's registry (core.observe.metrics) in Prometheus' text format.

Protected like the rest of the API (an API key) unless ``metrics.public`` says a scraper on a
private network may read it without one. Gauges that need the store (queue depth, pending
approvals) are refreshed by ``sample_forever``, not per scrape, so a scrape never waits on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Mapping

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from bot.app import Engine
from bot.http.health import ENGINE
from core.models import ExecutionStatus
from core.models.approval import ApprovalStatus
from core.observe import metrics
from core.store.base import ExecutionQuery
from core.webhooks.apikey_check import require_api_key
from core.webhooks.apikeys import HEADER_NAMES
from core.webhooks.handler import WebhookError

logger = logging.getLogger(__name__)

API_KEY_HEADER = HEADER_NAMES[0]
QUEUED = (ExecutionStatus.REQUESTED, ExecutionStatus.SCHEDULED, ExecutionStatus.DELAYED)
# A count past this is reported as this: the gauge says "a lot" without a full scan.
PENDING_APPROVALS_CAP = 1000


async def serve_metrics(request: web.Request) -> web.Response:
    engine = request.app[ENGINE]
    if not engine.settings.metrics.public:
        try:
            await require_api_key(engine.store.api_keys, _key_headers(request), request.query)
        except WebhookError as refused:
            return web.json_response({"faultstring": refused.message}, status=refused.status)
    metrics.EXECUTIONS_RUNNING.set(engine.executions.running_count)
    body = generate_latest(metrics.REGISTRY)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def _key_headers(request: web.Request) -> Mapping[str, str]:
    """The request's headers, with ``Authorization: Bearer KEY`` (what Prometheus' scrape
    ``authorization`` sends) read as the API key."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return {**request.headers, API_KEY_HEADER: token.strip()}
    return request.headers


async def sample_once(engine: Engine) -> None:
    """Refresh the store-backed gauges."""
    for status in QUEUED:
        count = await engine.store.executions.count(ExecutionQuery(statuses=(status,)))
        metrics.EXECUTIONS_QUEUED.labels(str(status)).set(count)
    pending = await engine.store.approvals.list(ApprovalStatus.PENDING, PENDING_APPROVALS_CAP)
    metrics.APPROVALS_PENDING.set(len(pending))
    metrics.EXECUTIONS_RUNNING.set(engine.executions.running_count)


async def sample_forever(engine: Engine) -> None:
    while True:
        try:
            await sample_once(engine)
        except Exception as exc:  # the store is down: /readyz says so; keep the last values
            logger.warning("metrics sampling failed: %s", exc)
        await asyncio.sleep(engine.settings.metrics.sample_seconds)


async def metrics_sampler(app: web.Application) -> AsyncIterator[None]:
    """aiohttp cleanup context: sample while the listener runs."""
    task = asyncio.create_task(sample_forever(app[ENGINE]), name="metrics-sampler")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
