"""Work only one process may do at a time for a given database: a lock any process can test.

A Matrix account has one sync stream, which cannot be split: two processes syncing the same
account with the same database would both answer every question. `ProcessLocks` lets the
second one find that out at start and refuse with a clear message instead.

`take_turn` is the other use: turns spaced in time across processes (a Discord shard's
IDENTIFY, one per start bucket every 5 seconds).

With SQLite the lock is an `flock` on a small file beside the database: the kernel releases
it when its holder exits, however it exits (SIGKILL included), so a crash never leaves a
stale lock behind. The file holds the holder's process id, for the message. With
PostgreSQL it is a session advisory lock (`bot.core.postgres.PostgresLocks`).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import os
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Protocol


class AlreadyRunningError(Exception):
    """Another process holds the lock: the message names the work, the database and the pid
    (a start-up failure its operator fixes; `bot.errors` turns it into one line)."""


class ProcessLocks(Protocol):
    """Exclusive locks by name, shared by every process that uses the same database."""

    def hold(self, name: str, what: str) -> AbstractAsyncContextManager[None]:
        """Hold the lock `name` while the block runs, or raise `AlreadyRunningError`.

        `what` says in a few words what the lock protects ("Matrix account @bot:example.org").
        """
        ...

    async def take_turn(self, name: str, hold_for: float) -> None:
        """Wait until no process holds `name`, then hold it for `hold_for` seconds (released
        by itself): turns taken this way are at least `hold_for` apart across processes."""
        ...

    def close(self) -> None:
        """Release every turn still held: the process is stopping."""
        ...


def lock_file(database: Path, name: str) -> Path:
    """The lock file for `name` beside `database`: the name hashed, so any name fits."""
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:16]
    return database.with_name(f"{database.name}.{digest}.lock")


class FileLocks:
    """`ProcessLocks` for an SQLite database: `flock` on a file beside it."""

    def __init__(self, database: Path) -> None:
        self._database = database
        self._turns: set[int] = set()

    @contextlib.asynccontextmanager
    async def hold(self, name: str, what: str) -> AsyncIterator[None]:
        with self._held(name, what):
            yield

    async def take_turn(self, name: str, hold_for: float) -> None:
        path = lock_file(self._database, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            # flock blocks: in a thread, so the event loop never waits on another process.
            await asyncio.to_thread(fcntl.flock, fd, fcntl.LOCK_EX)
        except BaseException:
            os.close(fd)
            raise
        self._turns.add(fd)
        asyncio.get_running_loop().call_later(hold_for, self._end_turn, fd)

    def _end_turn(self, fd: int) -> None:
        if fd in self._turns:
            self._turns.discard(fd)
            os.close(fd)  # closing releases the lock

    def close(self) -> None:
        for fd in list(self._turns):
            self._end_turn(fd)

    @contextlib.contextmanager
    def _held(self, name: str, what: str) -> Iterator[None]:
        path = lock_file(self._database, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise already_running(what, str(self._database), _holder(fd)) from None
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            try:
                yield
            finally:
                # The file stays: removing it would let a third process lock a new file
                # while a second still waits on the old one.
                os.ftruncate(fd, 0)
        finally:
            os.close(fd)  # closing releases the lock


def _holder(fd: int) -> str | None:
    """The process id written by the lock's holder, if it wrote one."""
    text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    return text if text.isdigit() else None


def already_running(what: str, database: str, holder: str | None) -> AlreadyRunningError:
    who = (f"process {holder}" if holder.isdigit() else holder) if holder else "another process"
    return AlreadyRunningError(
        f"{what} is already served by {who} with the database {database}; one process "
        "serves it at a time (its event stream cannot be split): stop the other process, "
        "or give this one another account or database"
    )
