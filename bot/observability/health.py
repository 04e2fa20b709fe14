"""The optional HTTP endpoint: /healthz, /readyz and /metrics, for Docker and Prometheus.

Off by default and bound to 127.0.0.1 unless configured otherwise (`[health]`), because the
metrics name the platforms the bot serves and nobody outside the host needs them. /healthz
says the process answers at all; /readyz says whether it can do its job now: every check
registered by the parts that run (index loaded, database reachable, Discord gateway or Matrix
sync connected) passes. Each check is given a short time, so a hung database makes the
process unready rather than the probe hang.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from aiohttp import web

from bot.config import HealthConfig
from bot.observability.metrics import CONTENT_TYPE_LATEST, Metrics
from bot.startup import StartupError

log = logging.getLogger(__name__)

Check = Callable[[], Awaitable[bool]]

# A check slower than this counts as failed: a probe must answer within Docker's timeout.
CHECK_TIMEOUT_SECONDS = 2.0


class Readiness:
    """Named checks that must all pass for the process to be ready."""

    def __init__(self, timeout: float = CHECK_TIMEOUT_SECONDS) -> None:
        self._checks: dict[str, Check] = {}
        self._timeout = timeout

    def add(self, name: str, check: Check) -> None:
        self._checks[name] = check

    def remove(self, name: str) -> None:
        self._checks.pop(name, None)

    async def report(self) -> dict[str, bool]:
        """Every check's result; one that raises or hangs is a failure, never an error."""
        names = list(self._checks)
        results = await asyncio.gather(*(self._run(self._checks[n]) for n in names))
        return dict(zip(names, results, strict=True))

    async def _run(self, check: Check) -> bool:
        try:
            return bool(await asyncio.wait_for(check(), self._timeout))
        except Exception:
            return False


@dataclass(frozen=True)
class HealthServer:
    """The running endpoint; `url` is where it listens (the port is real even if 0 was asked)."""

    url: str


def _application(readiness: Readiness, metrics: Metrics) -> web.Application:
    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(request: web.Request) -> web.Response:
        checks = await readiness.report()
        ready = bool(checks) and all(checks.values())
        body = {"status": "ready" if ready else "unready", "checks": checks}
        return web.json_response(body, status=200 if ready else 503)

    async def metrics_page(request: web.Request) -> web.Response:
        body = await metrics.exposition()
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_page)
    return app


@asynccontextmanager
async def serve_health(
    config: HealthConfig, readiness: Readiness, metrics: Metrics
) -> AsyncIterator[HealthServer | None]:
    """Serve the endpoint while the block runs, if enabled; yields None when it is off."""
    if not config.enabled:
        yield None
        return
    runner = web.AppRunner(_application(readiness, metrics), access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, config.host, config.port)
        try:
            await site.start()
        except OSError as error:
            raise StartupError(
                f"cannot serve health checks on {config.host}:{config.port}: {error.strerror}; "
                "choose another health.port (SAMIZDAT_HEALTH__PORT)"
            ) from None
        host, port = runner.addresses[0][:2]
        url = f"http://{'[' + host + ']' if ':' in host else host}:{port}"
        log.info("health checks and metrics at %s/readyz and %s/metrics", url, url)
        yield HealthServer(url=url)
    finally:
        await runner.cleanup()
