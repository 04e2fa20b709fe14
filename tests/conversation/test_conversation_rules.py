"""One table of conversation rules, run through the terminal, Matrix and Discord.

Each case is a situation (a place's settings, then what a member does) and the outcome every
platform must show: an answer, a notice with given words, or silence. The platforms are the
real adapters: the terminal's chat loop, the Matrix adapter against the session's Synapse,
and the Discord adapter against the fake Discord over real sockets. Only the words typed and
where the outcome is read differ per platform.

Two kinds of case cannot happen everywhere, and the table says so: closed channels need a
place with channels (Discord's), and a cooldown needs a member who is not an admin (the
terminal's one user is its admin, and admins are never slowed down).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import pytest
from discord_harness import running_bot as running_discord
from fake_discord import FakeDiscord, Json
from matrix_harness import Human, Synapse, bot_config, login_human

from bot.answers.engine import AnswerEngine
from bot.app import App, open_app
from bot.config import Config, DiscordConfig
from bot.console.chat import chat
from bot.core.places import CONSOLE_PLACE, discord_place, matrix_place
from bot.discord_bot.client import SamizdatBot
from bot.matrix_bot import run_matrix

pytestmark = pytest.mark.timeout(120)

QUESTION = "why did the kronstadt sailors rebel"


@dataclass(frozen=True)
class Outcome:
    """An answer citing the library, a notice saying `words`, or silence."""

    kind: str  # "answer" | "notice" | "silent"
    words: str = ""


ANSWER = Outcome("answer")
SILENT = Outcome("silent")


def notice(words: str) -> Outcome:
    return Outcome("notice", words)


@dataclass(frozen=True)
class Act:
    """What the member does: a command typed on purpose, or a message naming the bot."""

    how: str  # "command" | "mention"
    text: str
    command: str = "ask"


@dataclass(frozen=True)
class Case:
    name: str
    act: Act
    expected: Outcome
    settings: dict[str, Any] = field(default_factory=dict)
    denied_here: bool = False  # the channel the member writes in is closed
    repeat: int = 1  # the act is done this many times; the last one's outcome counts
    needs: frozenset[str] = frozenset()  # "channels", "members"


CASES = [
    Case("a question in an open place", Act("command", QUESTION), ANSWER),
    Case("a mention with a question", Act("mention", QUESTION), ANSWER),
    Case(
        "a command word the bot does not know, addressed to it, is a question",
        Act("mention", f"frobnicate {QUESTION}"),
        ANSWER,
    ),
    Case(
        "a command where the bot is switched off",
        Act("command", "", command="library"),
        notice("The bot is switched off here."),
        settings={"enabled": False},
    ),
    Case(
        "a mention where the bot is switched off",
        Act("mention", QUESTION),
        SILENT,
        settings={"enabled": False},
    ),
    Case(
        "a mention where mentions are off",
        Act("mention", QUESTION),
        SILENT,
        settings={"respond_to_mentions": False},
    ),
    Case(
        "an empty mention",
        Act("mention", ""),
        notice("Ask me a history question after my name, or use the `ask` command."),
    ),
    Case(
        "a second question within the cooldown",
        Act("command", QUESTION),
        notice("Slow down a little"),
        settings={"cooldown_seconds": 3600},
        repeat=2,
        needs=frozenset({"members"}),
    ),
    Case(
        "a command in a closed channel",
        Act("command", QUESTION),
        notice("The bot does not answer in this channel."),
        denied_here=True,
        needs=frozenset({"channels"}),
    ),
    Case(
        "a mention in a closed channel",
        Act("mention", QUESTION),
        SILENT,
        denied_here=True,
        needs=frozenset({"channels"}),
    ),
]


class Platform(Protocol):
    """One adapter, driven as its people would: `act` returns what they would see."""

    name: str
    has: frozenset[str]
    app: App
    place: str
    channel: str | None

    async def act(self, act: Act) -> Outcome: ...


def _judge(shown: str | None) -> Outcome:
    if shown is None:
        return SILENT
    if "kronstadt" in shown.lower() and ("[1]" in shown or "Closest" in shown):
        return ANSWER
    return Outcome("notice", shown)


class Terminal:
    name = "terminal"
    has: frozenset[str] = frozenset()
    place = CONSOLE_PLACE
    channel: str | None = None

    def __init__(self, app: App) -> None:
        self.app = app

    async def act(self, act: Act) -> Outcome:
        line = f"@samizdat {act.text}" if act.how == "mention" else f"{act.command} {act.text}"
        out: list[str] = []
        lines = [line]

        def read(prompt: str) -> str:
            if not lines:
                raise EOFError
            return lines.pop()

        await chat(self.app.core, read_line=read, write=out.append)
        shown = out[1:]  # after the banner; end of input writes ""
        replies = [s for s in shown if s]
        return _judge(replies[0] if replies else None)


class Matrix:
    name = "matrix"
    has = frozenset({"members"})
    channel: str | None = None

    def __init__(self, app: App, member: Human, room: str, bot_id: str) -> None:
        self.app = app
        self.member = member
        self.room = room
        self.bot_id = bot_id
        self.place = matrix_place(room)

    async def act(self, act: Act) -> Outcome:
        localpart = self.bot_id[1:].split(":")[0]
        if act.how == "mention":
            event = await self.member.say(
                self.room,
                f"{localpart}: {act.text}",
                **{"m.mentions": {"user_ids": [self.bot_id]}},
            )
        else:
            event = await self.member.say(self.room, f"!{act.command} {act.text}".strip())
        # Replies come in order: once the bot answered a later message, it had its chance.
        sentinel = await self.member.say(self.room, "!about")
        await self.member.reply_to(sentinel, self.bot_id)
        replies = self.member.replies_to(event, self.bot_id)
        return _judge(str(replies[0].content["body"]) if replies else None)


class Discord:
    name = "discord"
    has = frozenset({"members", "channels"})

    def __init__(self, app: App, fake: FakeDiscord, bot: SamizdatBot) -> None:
        self.app = app
        self.fake = fake
        self.bot = bot
        self.place = discord_place(fake.guild_id)
        self.channel: str | None = str(fake.channel_id)

    async def act(self, act: Act) -> Outcome:
        fake = self.fake
        seen = len(fake.calls)
        if act.how == "mention":
            await fake.post_message(f"<@{fake.bot_user['id']}> {act.text}", mentions_bot=True)
            # Events are dispatched in order: once /about is answered, the mention's handler
            # has started; then wait for it (and anything else in progress) to finish.
            await fake.wait_for_reply(await fake.slash("about"))
            await self.bot.in_flight.finish(grace=60)
            posted = [
                c.body
                for c in fake.calls[seen:]
                if c.path == f"/channels/{fake.channel_id}/messages"
            ]
            return _judge(_text(posted[0]) if posted else None)
        options = (
            [{"name": "question", "type": 3, "value": act.text}] if act.command == "ask" else None
        )
        replies = await fake.wait_for_reply(await fake.slash(act.command, options))
        return _judge(" ".join(_text(r) for r in replies))


def _text(message: Json) -> str:
    parts = [str(message.get("content") or "")]
    for embed in message.get("embeds") or []:
        parts += [str(embed.get("title") or ""), str(embed.get("description") or "")]
        parts += [str(f.get("value", "")) for f in embed.get("fields") or []]
    return " ".join(p for p in parts if p)


@contextlib.asynccontextmanager
async def _terminal(config: Config, engine: AnswerEngine) -> AsyncIterator[Platform]:
    async with open_app(config, engine=engine) as app:
        yield Terminal(app)


@contextlib.asynccontextmanager
async def _matrix(
    config: Config, engine: AnswerEngine, synapse: Synapse
) -> AsyncIterator[Platform]:
    bot_id = synapse.register("bot")
    config = bot_config(config.data_dir, synapse, bot_id)
    owner = await login_human(synapse, prefix="owner")
    member = await login_human(synapse, prefix="member")
    stop = asyncio.Event()
    try:
        async with open_app(config, engine=engine) as app:
            task = asyncio.create_task(
                run_matrix(config.matrix, config.data_dir, app.core, app.state, stop=stop)
            )
            try:
                room = await owner.create_room(invite=(bot_id, member.user_id))
                await member.join(room)
                await owner.wait_joined(room, bot_id)
                yield Matrix(app, member, room, bot_id)
            finally:
                stop.set()
                await asyncio.wait({task}, timeout=30)
    finally:
        await owner.close()
        await member.close()


@contextlib.asynccontextmanager
async def _discord(config: Config, engine: AnswerEngine) -> AsyncIterator[Platform]:
    config = config.model_copy(update={"discord": DiscordConfig(token="fake-token")})
    async with FakeDiscord() as fake, open_app(config, engine=engine) as app:
        async with running_discord(fake, app) as bot:
            yield Discord(app, fake, bot)
        assert fake.violations == [], "the bot broke Discord's rules"


Opener = Callable[
    [Config, AnswerEngine, pytest.FixtureRequest],
    contextlib.AbstractAsyncContextManager[Platform],
]
PLATFORMS: dict[str, Opener] = {
    "terminal": lambda config, engine, request: _terminal(config, engine),
    # Synapse only for Matrix, so the other two run without starting it.
    "matrix": lambda config, engine, request: _matrix(
        config, engine, request.getfixturevalue("synapse")
    ),
    "discord": lambda config, engine, request: _discord(config, engine),
}


async def _prepare(platform: Platform, case: Case) -> None:
    """The place as the case needs it, written straight to its store, the admin's way."""
    store = platform.app.store
    await store.reset(platform.place, None, "setup")
    await store.clear_channels(platform.place, None, "setup")
    await store.set(platform.place, "cooldown_seconds", 0, "setup")
    for name, value in case.settings.items():
        await store.set(platform.place, name, value, "setup")
    if case.denied_here and platform.channel is not None:
        await store.deny_channel(platform.place, platform.channel, "setup")


async def _outcome(platform: Platform, case: Case) -> Outcome:
    await _prepare(platform, case)
    outcome = SILENT
    for _ in range(case.repeat):
        outcome = await platform.act(case.act)
    return outcome


def _matches(outcome: Outcome, expected: Outcome) -> bool:
    if expected.kind != "notice":
        return outcome.kind == expected.kind
    # A code span's backticks are markup: Matrix's plain body shows the code without them.
    return outcome.kind == "notice" and expected.words.replace("`", "") in outcome.words.replace(
        "`", ""
    )


@pytest.mark.parametrize("platform_name", list(PLATFORMS))
async def test_every_platform_follows_the_same_conversation_rules(
    platform_name: str,
    tmp_config: Config,
    bundled_engine: AnswerEngine,
    request: pytest.FixtureRequest,
) -> None:
    ran: list[str] = []
    async with PLATFORMS[platform_name](tmp_config, bundled_engine, request) as platform:
        for case in CASES:
            if not case.needs <= platform.has:
                continue
            outcome = await _outcome(platform, case)
            assert _matches(outcome, case.expected), (platform.name, case.name, outcome)
            ran.append(case.name)
    # Every case runs somewhere, and the rules that need nothing special run everywhere.
    assert ran == [case.name for case in CASES if case.needs <= platform.has]
    assert len(ran) >= 7


def test_every_case_runs_on_at_least_two_platforms() -> None:
    has = {"terminal": Terminal.has, "matrix": Matrix.has, "discord": Discord.has}
    for case in CASES:
        on = [name for name, offers in has.items() if case.needs <= offers]
        assert len(on) >= (1 if "channels" in case.needs else 2), (case.name, on)
