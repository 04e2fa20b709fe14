"""`samizdat run matrix`: connect, answer until told to stop, and leave things tidy.

The core and the adapter state (event claims, outbox, sync token) are opened by the caller
and outlive this function, so the database is closed by whoever opened it, after the sync
token has been saved here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bot.config import MatrixConfig
from bot.core.commands import Core
from bot.core.exclusive import ProcessLocks
from bot.matrix_bot.commands import CommandHandler
from bot.matrix_bot.files import RoomFiles
from bot.matrix_bot.observe import outbox_depth, sync_connected, watch_syncs
from bot.matrix_bot.sync import AdapterState, MatrixConnection
from bot.observability.health import Readiness

log = logging.getLogger(__name__)

# How long a stop waits for the batch in hand (replies sent, sync token saved); a reply held
# up longer stays in the outbox and goes out after the next start. Docker kills after 10 s.
STOP_GRACE_SECONDS = 5.0


@contextlib.contextmanager
def _stop_on_signals(stop: asyncio.Event) -> Iterator[None]:
    loop = asyncio.get_running_loop()
    # Handlers that were there before (asyncio.run's own SIGINT one) come back afterwards.
    previous: dict[signal.Signals, Any] = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            handler = signal.getsignal(sig)
            loop.add_signal_handler(sig, stop.set)
            previous[sig] = handler
    try:
        yield
    finally:
        for sig, handler in previous.items():
            loop.remove_signal_handler(sig)
            signal.signal(sig, handler)


async def _settled(connection: MatrixConnection) -> None:
    """The batch in hand handled, and the replies it queued sent."""
    await connection.wait_idle()
    await connection.wait_delivered()


async def run_matrix(
    config: MatrixConfig,
    data_dir: Path,
    core: Core,
    state: AdapterState,
    *,
    stop: asyncio.Event | None = None,
    readiness: Readiness | None = None,
    locks: ProcessLocks | None = None,
) -> None:
    """Run the Matrix adapter until `stop` is set, SIGINT/SIGTERM arrive, or it is cancelled.

    Pass one shared `stop` to every adapter when several run in one process (`samizdat run
    all`): signal handlers are per process, so with a `stop` given this installs none. The
    sync is reported to `readiness` (as "matrix") and to the core's metrics.

    With `locks` (the CLI always passes the app's), the account is locked for this process
    first: a second process for the same account and database refuses to start.
    """
    if locks is None:
        await _run_matrix(config, data_dir, core, state, stop=stop, readiness=readiness)
        return
    where = f"matrix:{config.user_id}"
    async with locks.hold(where, f"the Matrix account {config.user_id}"):
        await _run_matrix(config, data_dir, core, state, stop=stop, readiness=readiness)


async def _run_matrix(
    config: MatrixConfig,
    data_dir: Path,
    core: Core,
    state: AdapterState,
    *,
    stop: asyncio.Event | None,
    readiness: Readiness | None,
) -> None:
    connection = MatrixConnection(config, data_dir, state)
    handler = CommandHandler(
        core=core,
        outlet=connection,
        bot_admins=config.bot_admins,
        authority_of=connection.authority_of,
        identity_of=connection.identity_of,
        files=RoomFiles(connection.client),
    )
    own_signals = stop is None
    stop_event = stop if stop is not None else asyncio.Event()

    metrics = core.metrics
    # The connection's own outbox, read at scrape time for its depth.
    depth = outbox_depth(state, connection.client.user_id, metrics)
    metrics.add_refresher(depth)
    if readiness is not None:
        readiness.add("matrix", sync_connected(connection.client, metrics))

    async def serve() -> None:
        await connection.login()
        watcher = asyncio.create_task(watch_syncs(connection.client, metrics))
        try:
            await connection.run(handler.handle)
        finally:
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)

    try:
        with _stop_on_signals(stop_event) if own_signals else contextlib.nullcontext():
            serving = asyncio.create_task(serve(), name="matrix-sync")
            stopping = asyncio.create_task(stop_event.wait(), name="matrix-stop")
            try:
                done, _ = await asyncio.wait(
                    {serving, stopping}, return_when=asyncio.FIRST_COMPLETED
                )
                if serving in done:
                    serving.result()  # the loop only ends by raising; surface it
                # Stop syncing, but not halfway through a batch, and let the replies queued
                # go out: what is left waits in the outbox for the next start.
                connection.stop()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(_settled(connection), STOP_GRACE_SECONDS)
            finally:
                for task in (serving, stopping):
                    task.cancel()
                await asyncio.gather(serving, stopping, return_exceptions=True)
        log.info("Matrix adapter stopped")
    finally:
        metrics.remove_refresher(depth)
        if readiness is not None:
            readiness.remove("matrix")
        await connection.close()
