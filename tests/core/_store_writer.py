"""Change settings forever, in SQLite or PostgreSQL, printing one line per committed change,
until killed.

The durability test runs this as a child process and SIGKILLs it mid-stream: every line it
printed is a promise that the change is on disk. Line format: `<i> <place> <value>`, made by
user `writer-<i>`.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from bot.core.database import Database, open_database
from bot.core.postgres import open_postgres
from bot.core.store import SettingsStore

PLACES = ("discord:1", "discord:2", "matrix:!room:example.org")


async def write_forever(store: SettingsStore) -> None:
    i = 0
    while True:
        place = PLACES[i % len(PLACES)]
        value = i % 3601
        await store.set(place, "cooldown_seconds", value, f"writer-{i}")
        print(i, place, value, flush=True)
        i += 1


async def main(target: str) -> None:
    """`target` is an SQLite file, or a postgresql:// URL."""
    if target.startswith("postgresql://"):
        async with open_postgres(target) as shared:
            await write_forever(SettingsStore(shared))
        return
    async with open_database(Path(target)) as db:
        await write_forever(SettingsStore(Database(db)))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
