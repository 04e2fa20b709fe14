"""`samizdat run matrix`: connect, answer until told to stop, and leave things tidy.

The core and the adapter state (event claims, sync token, outbox) are opened by the caller
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
from bot.matrix_bot.commands import CommandHandler
from bot.matrix_bot.files import RoomFiles
from bot.matrix_bot.sync import PLATFORM, AdapterState, MatrixConnection

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


async def run_matrix(
    config: MatrixConfig,
    data_dir: Path,
    core: Core,
    state: AdapterState,
    *,
    stop: asyncio.Event | None = None,
) -> None:
    """Run the Matrix adapter until `stop` is set, SIGINT/SIGTERM arrive, or it is cancelled.

    Pass one shared `stop` to every adapter when several run in one process (`samizdat run
    all`): signal handlers are per process, so with a `stop` given this installs none.
    """
    connection = MatrixConnection(config, data_dir, state)
    handler = CommandHandler(
        core=core,
        sender=connection,
        bot_admins=config.bot_admins,
        authority_of=connection.authority_of,
        identity_of=connection.identity_of,
        handled=lambda event_id: state.was_handled(PLATFORM, event_id),
        claim=lambda event_id: state.mark_handled(PLATFORM, event_id),
        files=RoomFiles(connection.client),
    )
    own_signals = stop is None
    stop_event = stop if stop is not None else asyncio.Event()

    async def serve() -> None:
        await connection.login()
        await connection.run(handler.handle)

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
                # Stop syncing, but not halfway through a batch: a reply the homeserver has
                # taken but the bot has not yet recorded would otherwise be sent again later.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(connection.wait_idle(), STOP_GRACE_SECONDS)
            finally:
                for task in (serving, stopping):
                    task.cancel()
                await asyncio.gather(serving, stopping, return_exceptions=True)
        log.info("Matrix adapter stopped")
    finally:
        await connection.close()
