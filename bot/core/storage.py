"""What the stores need from a database, whichever it is: SQLite (the default) or PostgreSQL.

The stores (settings, activity, flood limits) are written once against `Storage`: statements
with `?` placeholders in the SQL both engines share, run inside `write()` (one transaction,
alone among this process's transactions and, across processes, ordered by the database) or
`read()`. `notify` tells other processes that something changed, in the same transaction as
the change; only PostgreSQL can (`notifies`). A SQLite file has one bot process (the
Matrix lock and the README say so), so what a store caches there only its own changes evict.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any, Protocol

# Every channel a change can be announced on. A backend that announces listens to all of
# them from its start, so a store made later misses nothing.
CHANNELS = ("settings",)

Row = tuple[Any, ...]
Listener = Callable[[str], None]


class Storage(Protocol):
    """An open database the stores share; its machine failures come out as `StorageError`."""

    clock: Callable[[], datetime]

    @property
    def notifies(self) -> bool:
        """Whether other processes' changes are announced (so what is read may be cached)."""
        ...

    def write(self) -> AbstractAsyncContextManager[datetime]:
        """One write transaction; yields the time to stamp rows with."""
        ...

    def read(self) -> AbstractAsyncContextManager[None]:
        """Reads that see no other task's unfinished transaction."""
        ...

    async def run(self, sql: str, params: Iterable[Any] = ()) -> int:
        """Execute one statement; return how many rows it changed."""
        ...

    async def fetchone(self, sql: str, params: Iterable[Any] = ()) -> Row | None: ...

    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[Row]: ...

    async def prune(self, table: str, place: str, keep: int) -> None:
        """Keep only the place's newest `keep` rows of `table` (one of our own tables)."""
        ...

    async def notify(self, channel: str, payload: str) -> None:
        """Announce a change to other processes when this transaction commits."""
        ...

    def listen(self, channel: str, listener: Listener) -> None:
        """Call `listener(payload)` for every change announced on `channel`, and with "" when
        announcements may have been missed (the connection was lost): drop every cache."""
        ...

    async def reachable(self) -> bool:
        """Whether a trivial query answers now (for /readyz); never raises."""
        ...
