"""Soak tests that print the figures issue 10 asks the project to keep; run by hand.

    python3 benchmarks/soak.py matrix --cycles 20     # restarts with SIGKILL, a real Synapse
    python3 benchmarks/soak.py outage --trials 5      # a held reply after the homeserver returns
    python3 benchmarks/soak.py discord --burst 400    # /ask bursts against the fake Discord

`matrix`: a real Synapse on 127.0.0.1 (the test fixture's) and `samizdat run matrix` as a
child process. Each cycle starts the bot, asks 1-3 questions at random moments, and kills
the bot at a random moment (SIGKILL four times in five, SIGTERM otherwise). A last start
answers what is left; then every question's replies are counted: once, twice, never.

`outage`: the bot reaches Synapse through a TCP proxy of this script's. A reply is held in
the outbox (Synapse refuses the bot's messages with 429), the proxy goes down (the
homeserver is away for the bot), Synapse takes messages again, and the proxy comes back up:
the figure is the time from the proxy's return to Synapse's 200 for the reply.

`discord`: the fake Discord of the tests runs here and the bot in a child process (each
with its own event loop, as with the real Discord); `--burst` /ask are dispatched within one
second and each acknowledgement's delay is measured where Discord measures it, at the
server. Late ones are refused with 10062, as Discord does after 3 s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests" / "matrix_bot"), str(ROOT / "tests" / "discord_bot")]

import fake_discord  # type: ignore[import-not-found]  # noqa: E402
import matrix_harness  # type: ignore[import-not-found]  # noqa: E402

QUESTION = "What was the Kuzbass Autonomous Industrial Colony?"
# The checkout whose bot is soaked (`--bot-root`, to compare with another branch); the
# harnesses always come from this one.
BOT_ROOT = ROOT


# ----------------------------------------------------------------------------- Matrix


def _bot_env(data_dir: Path, homeserver: str, user_id: str, password: str) -> dict[str, str]:
    env = {
        **os.environ,
        "SAMIZDAT_DATA_DIR": str(data_dir),
        "SAMIZDAT_MATRIX__HOMESERVER": homeserver,
        "SAMIZDAT_MATRIX__USER_ID": user_id,
        "SAMIZDAT_MATRIX__PASSWORD": password,
        "PYTHONPATH": str(BOT_ROOT),
    }
    env.pop("SAMIZDAT_CONFIG", None)
    return env


def _start_bot(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "bot", "run", "matrix"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=BOT_ROOT,
        )


def _stop(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if process.poll() is None:
        process.send_signal(sig)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


async def _bot_room(human: Any, bot_id: str) -> str:
    room = str(await human.create_room(invite=(bot_id,)))
    await human.wait_joined(room, bot_id, within=120)
    await matrix_harness.make_room_quiet(human, room, bot_id)
    return room


async def soak_matrix(cycles: int, seed: int, work: Path) -> None:
    rng = random.Random(seed)
    synapse = matrix_harness.Synapse(work / "synapse")
    synapse.start()
    processes: list[subprocess.Popen[bytes]] = []
    try:
        bot_id = synapse.register("bot")
        env = _bot_env(work / "bot", synapse.url, bot_id, synapse.password)
        log = work / "bot.log"
        human = await matrix_harness.login_human(synapse)
        try:
            bot = _start_bot(env, log)
            processes.append(bot)
            room = await _bot_room(human, bot_id)  # first start: joins, answers nothing old
            _stop(bot)
            questions: list[str] = []
            kills = terms = 0
            for cycle in range(cycles):
                bot = _start_bot(env, log)
                processes.append(bot)
                for index in range(rng.randint(1, 3)):
                    await asyncio.sleep(rng.uniform(0.0, 1.5))
                    asked = await human.say(room, f"!ask {QUESTION} ({cycle}.{index})")
                    questions.append(str(asked))
                await asyncio.sleep(rng.uniform(0.0, 2.0))
                if rng.random() < 0.8:
                    kills += 1
                    _stop(bot, signal.SIGKILL)
                else:
                    terms += 1
                    _stop(bot, signal.SIGTERM)
            bot = _start_bot(env, log)
            processes.append(bot)
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and not all(
                human.replies_to(q, bot_id) for q in questions
            ):
                await human.sync()
            sentinel = await human.say(room, "!about")
            await human.reply_to(sentinel, bot_id, within=60)
            for _ in range(3):
                await human.sync()
            _stop(bot)
            counts = [len(human.replies_to(q, bot_id)) for q in questions]
        finally:
            await human.close()
    finally:
        for process in processes:
            _stop(process, signal.SIGKILL)
        synapse.stop()
    print(f"matrix soak: {cycles} cycles ({kills} SIGKILL, {terms} SIGTERM), seed {seed}")
    print(f"  questions asked:   {len(counts)}")
    print(f"  answered once:     {sum(1 for c in counts if c == 1)}")
    print(f"  answered twice+:   {sum(1 for c in counts if c >= 2)}")
    print(f"  never answered:    {sum(1 for c in counts if c == 0)}")


class Proxy:
    """A TCP proxy that can go away (refuse and cut every connection) and come back."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def up(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def down(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.CancelledError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        # Ended by asyncio.run at exit: a cancelled connection task is logged by asyncio's
        # server as an error, so it ends quietly instead.
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._writers -= {writer, up_writer}


def _sent_after(synapse: Any, bot_id: str, since: datetime) -> datetime | None:
    for request in synapse.requests_by(bot_id):
        if (
            request.method == "PUT"
            and "/send/m.room.message/" in request.path
            and request.status == 200
            and request.at >= since
        ):
            return request.at  # type: ignore[no-any-return]
    return None


async def soak_outage(trials: int, work: Path) -> None:
    synapse = matrix_harness.Synapse(work / "synapse")
    synapse.start()
    proxy = Proxy(synapse.port)
    await proxy.up()
    bot: subprocess.Popen[bytes] | None = None
    delays: list[float] = []
    try:
        bot_id = synapse.register("bot")
        env = _bot_env(work / "bot", f"http://127.0.0.1:{proxy.port}", bot_id, synapse.password)
        bot = _start_bot(env, work / "bot.log")
        human = await matrix_harness.login_human(synapse)
        try:
            room = await _bot_room(human, bot_id)
            for trial in range(trials):
                refused = sum(1 for r in synapse.requests_by(bot_id) if r.status == 429)
                await asyncio.to_thread(synapse.limit_messages, bot_id, 1, 0)
                question = await human.say(room, f"!ask {QUESTION} (outage {trial})")
                await matrix_harness.eventually(
                    lambda n=refused: (
                        sum(1 for r in synapse.requests_by(bot_id) if r.status == 429) > n
                    ),
                    "a refused reply",
                )
                await proxy.down()
                await asyncio.to_thread(synapse.unlimit_messages, bot_id)
                await asyncio.sleep(3.0)  # away for a while: the bot's retries find nothing
                back = datetime.now()
                await proxy.up()
                await human.reply_to(question, bot_id, within=60)
                sent = await asyncio.to_thread(_sent_after, synapse, bot_id, back)
                assert sent is not None, "the reply went out before the homeserver returned?"
                delays.append((sent - back).total_seconds())
        finally:
            await human.close()
    finally:
        if bot is not None:
            _stop(bot)
        await proxy.down()
        synapse.stop()
    print(
        f"matrix outage: {trials} trials, a reply held in the outbox while the homeserver was away"
    )
    print("  sent after the homeserver's return (s): " + ", ".join(f"{d:.2f}" for d in delays))
    print(f"  max {max(delays):.2f} s, median {statistics.median(delays):.2f} s")


# ----------------------------------------------------------------------------- Discord


async def _run_discord_bot(port: int, data_dir: str, guild_id: int) -> None:
    """The child: the real bot, talking to the fake Discord on `port` until SIGTERM."""
    import discord
    import yarl

    from bot.app import open_app
    from bot.config import Config, DiscordConfig, LimitsConfig
    from bot.discord_bot.client import SamizdatBot

    discord.http.Route.BASE = f"http://127.0.0.1:{port}/api/v10"
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(f"ws://127.0.0.1:{port}/gateway")
    config = Config(
        data_dir=Path(data_dir),
        discord=DiscordConfig(token="fake-token"),
        limits=LimitsConfig(place_questions_per_minute=100_000),
    )
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with open_app(config) as app:
        await app.store.set(f"discord:{guild_id}", "cooldown_seconds", 0, "soak")
        bot = SamizdatBot(config, app.core)
        task = asyncio.create_task(bot.start("fake-token"))
        await stop.wait()
        await bot.close()
        with contextlib.suppress(Exception):
            await task


def _start_discord_bot(port: int, work: Path, guild_id: int) -> subprocess.Popen[bytes]:
    with (work / "discord-bot.log").open("ab") as out:
        return subprocess.Popen(
            [sys.executable, __file__, "_discord_bot", str(port), str(work / "bot"), str(guild_id)],
            env={**os.environ, "PYTHONPATH": str(BOT_ROOT)},
            stdout=out,
            stderr=subprocess.STDOUT,
        )


async def soak_discord(burst: int, work: Path) -> None:
    async with fake_discord.FakeDiscord() as fake:
        child = _start_discord_bot(fake.port, work, fake.guild_id)
        try:
            await fake.wait_until(lambda: bool(fake.identifies), within=120)
            await asyncio.sleep(1.0)  # READY and the guild, as Discord sends them
            warm = await fake.slash("help")
            await fake.wait_until(lambda: bool(warm.callbacks), within=30)
            users = [fake_discord.FakeUser(600000000000000000 + i, f"user{i}") for i in range(50)]
            records = []
            started = time.monotonic()
            for index in range(burst):
                option = {"name": "question", "type": 3, "value": f"{QUESTION} ({index})"}
                records.append(await fake.slash("ask", [option], user=users[index % len(users)]))
                pause = started + (index + 1) / burst - time.monotonic()
                if pause > 0:
                    await asyncio.sleep(pause)
            spread = time.monotonic() - started
            await fake.wait_until(
                lambda: all(r.callbacks or time.monotonic() - r.dispatched_at > 4 for r in records),
                within=120,
            )
            with contextlib.suppress(AssertionError):  # counted below if some never come
                await fake.wait_until(
                    lambda: all(fake.replies(r) for r in records if r.callbacks), within=300
                )
            answered = sum(1 for r in records if fake.replies(r))
            answered_at = time.monotonic() - started
        finally:
            _stop(child)
    delays = sorted(r.acked_at - r.dispatched_at for r in records if r.acked_at is not None)
    late = burst - len(delays)
    print(f"discord burst: {burst} /ask dispatched in {spread:.2f} s by 50 members")
    print(f"  acknowledged in time: {len(delays)}, late (10062): {late}")
    if delays:
        p99 = delays[min(len(delays) - 1, round(0.99 * (len(delays) - 1)))]
        print(
            f"  acknowledgement delay: p50 {statistics.median(delays):.3f} s, p99 {p99:.3f} s,"
            f" max {delays[-1]:.3f} s"
        )
    print(f"  answered: {answered} of {burst}, the last {answered_at:.1f} s after the first /ask")


def main() -> None:
    global BOT_ROOT
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bot-root", type=Path, default=ROOT, help="the checkout to soak")
    sub = parser.add_subparsers(dest="what", required=True)
    matrix = sub.add_parser("matrix")
    matrix.add_argument("--cycles", type=int, default=20)
    matrix.add_argument("--seed", type=int, default=10)
    outage = sub.add_parser("outage")
    outage.add_argument("--trials", type=int, default=5)
    burst = sub.add_parser("discord")
    burst.add_argument("--burst", type=int, default=400)
    child = sub.add_parser("_discord_bot")
    child.add_argument("port", type=int)
    child.add_argument("data_dir")
    child.add_argument("guild_id", type=int)
    args = parser.parse_args()
    BOT_ROOT = args.bot_root.resolve()
    if args.what == "_discord_bot":
        asyncio.run(_run_discord_bot(args.port, args.data_dir, args.guild_id))
        return
    with tempfile.TemporaryDirectory(prefix="samizdat-soak-") as scratch:
        work = Path(scratch)
        if args.what == "matrix":
            asyncio.run(soak_matrix(args.cycles, args.seed, work))
        elif args.what == "outage":
            asyncio.run(soak_outage(args.trials, work))
        else:
            asyncio.run(soak_discord(args.burst, work))


if __name__ == "__main__":
    main()
