"""What sharing the database costs a fleet: announcements, cached settings, shared limits.

Run by hand, never from the test suite (the tests check behaviour, not speed):

    python3 benchmarks/bench_fleet.py --url postgresql://postgres@127.0.0.1:5432/bench

With no `--url` it starts a throwaway PostgreSQL on 127.0.0.1 the way the tests do
(tests/postgres_harness.py). It reports, in milliseconds (p50 / p99 over `--repeat` runs):

- how long a setting changed through one connection takes to reach another process's
  settings store (the NOTIFY evicting its cached copy);
- a settings read: cached (PostgreSQL), uncached from PostgreSQL, and from SQLite;
- a flood-limit check: in memory (one process) and in PostgreSQL (`SharedRateLimiter`).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from bot.core.database import Database, open_database  # noqa: E402
from bot.core.limits import RateLimiter, SharedRateLimiter  # noqa: E402
from bot.core.postgres import open_postgres  # noqa: E402
from bot.core.store import SettingsStore  # noqa: E402


def _report(name: str, samples: list[float]) -> None:
    ms = sorted(s * 1000 for s in samples)
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    print(f"{name:<48} p50 {statistics.median(ms):7.3f} ms   p99 {p99:7.3f} ms   n={len(ms)}")


async def _time(call: Callable[[], Awaitable[object]], repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        await call()
        samples.append(time.perf_counter() - started)
    return samples


async def run(url: str, repeat: int) -> None:
    async with open_postgres(url) as first, open_postgres(url) as second:
        here, there = SettingsStore(first), SettingsStore(second)
        place = "discord:1"
        heard = asyncio.Event()
        second.listen("settings", lambda _: heard.set())  # beside the store's own listener
        reached = []
        for n in range(repeat):
            await there.get(place)  # cached there
            heard.clear()
            started = time.perf_counter()
            await here.set(place, "cooldown_seconds", n % 3600, "bench")
            await heard.wait()
            reached.append(time.perf_counter() - started)
            assert place not in there._cached
        _report("setting change reaches another store (NOTIFY)", reached)

        _report("settings read, cached (PostgreSQL)", await _time(lambda: there.get(place), repeat))
        uncached = SettingsStore(second)

        async def read_through() -> object:
            uncached._forget(place)  # as after every change
            return await uncached.get(place)

        _report("settings read, uncached (PostgreSQL)", await _time(read_through, repeat))

        shared = SharedRateLimiter(first, 1_000_000)
        users = iter(range(10**9))
        _report(
            "flood-limit check (PostgreSQL, shared)",
            await _time(lambda: shared.check(place, f"u{next(users)}", 5), repeat),
        )
    memory = RateLimiter(1_000_000)
    users = iter(range(10**9))
    _report(
        "flood-limit check (memory, one process)",
        await _time(lambda: memory.check(place, f"u{next(users)}", 5), repeat),
    )
    with tempfile.TemporaryDirectory() as folder:
        async with open_database(Path(folder) / "bench.db") as connection:
            store = SettingsStore(Database(connection))
            await store.set(place, "cooldown_seconds", 7, "bench")
            _report("settings read (SQLite)", await _time(lambda: store.get(place), repeat))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", help="a PostgreSQL database to use (default: start one)")
    parser.add_argument("--repeat", type=int, default=500)
    args = parser.parse_args()
    if args.url:
        asyncio.run(run(args.url, args.repeat))
        return
    from postgres_harness import PostgresServer

    server = PostgresServer()
    server.start()
    try:
        asyncio.run(run(server.new_database(), args.repeat))
    finally:
        server.cleanup()


if __name__ == "__main__":
    main()
