"""The Matrix adapter against a real Synapse: joining, answering, mentions, admins, safety."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from matrix_harness import (
    KUZBASS_QUESTION,
    Human,
    Login,
    Synapse,
    bot_config,
    eventually,
    room_with_bot,
    running_bot,
)
from pydantic import SecretStr

from bot.answers.engine import AnswerEngine
from bot.app import build_engine, open_app
from bot.config import Config, LibraryConfig, MatrixConfig
from bot.matrix_bot import run_matrix
from bot.startup import StartupError

# The tags the adapter writes itself; anything else in an HTML body came from outside.
SAFE_TAGS = {"p", "b", "ol", "ul", "li", "blockquote", "code"}


async def test_invited_bot_joins_and_answers_with_a_sourced_threaded_notice(
    engine: AnswerEngine, bot_id: str, config: Config, human: Human
) -> None:
    async with running_bot(config, engine):
        room = await room_with_bot(human, bot_id, quiet=True)

        question = await human.say(room, f"!ask {KUZBASS_QUESTION}")
        reply = await human.reply_to(question, bot_id)
        content = reply.content
        assert content["msgtype"] == "m.notice"
        assert content["format"] == "org.matrix.custom.html"
        assert "kuzbass:" in content["body"]  # a passage id of the right document
        assert "Kuzbass Autonomous Industrial Colony" in content["formatted_body"]
        assert "<ol>" in content["formatted_body"]
        # The plain body reads on its own: the answer with its markers, numbered sources.
        assert "[1]" in content["body"] and "\nSources:\n[1] " in content["body"]
        assert content["m.mentions"] == {"user_ids": [human.user_id]}
        assert "rel_type" not in content["m.relates_to"]

        # Asked inside a thread, answered inside the same thread.
        in_thread = await human.say(
            room,
            f"!ask {KUZBASS_QUESTION}",
            **{
                "m.relates_to": {
                    "rel_type": "m.thread",
                    "event_id": question,
                    "is_falling_back": True,
                    "m.in_reply_to": {"event_id": question},
                }
            },
        )
        threaded = await human.reply_to(in_thread, bot_id)
        relation = threaded.content["m.relates_to"]
        assert relation["rel_type"] == "m.thread"
        assert relation["event_id"] == question


async def test_every_command_answers_in_the_room(
    engine: AnswerEngine, bot_id: str, config: Config, human: Human
) -> None:
    async with running_bot(config, engine):
        # The human created the room, so is its admin.
        room = await room_with_bot(human, bot_id, quiet=True)

        async def body_of(command: str) -> str:
            event = await human.say(room, command)
            reply = await human.reply_to(event, bot_id)
            assert reply.content["msgtype"] == "m.notice"
            return str(reply.content["body"])

        helped = await body_of("!help")
        assert "!ask <question>" in helped and "!samizdat settings show" in helped
        assert "Kuzbass" in await body_of("!library")
        found = re.search(r"\((kuzbass:[^)\s]+)\)", await body_of("!search Kuzbass colony"))
        assert found is not None
        assert found[1] in await body_of(f"!source {found[1]}")
        assert "Samizdat" in await body_of("!about")
        unknown = "Who won the 1998 football World Cup final in Paris?"
        assert "kuzbass:" not in await body_of(f"!ask {unknown}")
        assert unknown in await body_of("!samizdat unanswered")


async def test_a_mention_is_a_question_with_intentional_mentions_and_the_name_fallback(
    engine: AnswerEngine, bot_id: str, config: Config, human: Human
) -> None:
    async with running_bot(config, engine):
        room = await room_with_bot(human, bot_id, quiet=True)
        localpart = bot_id[1:].split(":")[0]

        modern = await human.say(
            room, f"{localpart}: {KUZBASS_QUESTION}", **{"m.mentions": {"user_ids": [bot_id]}}
        )
        assert "kuzbass:" in (await human.reply_to(modern, bot_id)).content["body"]

        legacy = await human.say(room, f"{localpart}: {KUZBASS_QUESTION}")
        assert "kuzbass:" in (await human.reply_to(legacy, bot_id)).content["body"]

        # A client with intentional mentions that mentions nobody is not talking to the bot.
        aside = await human.say(room, f"{localpart} is a bot, by the way", **{"m.mentions": {}})
        sentinel = await human.say(room, "!about")
        await human.reply_to(sentinel, bot_id)
        assert human.replies_to(aside, bot_id) == []


async def test_admin_commands_follow_power_levels_and_v12_creators_and_survive_restart(
    synapse: Synapse, engine: AnswerEngine, data_dir: Path, bot_id: str, login: Login
) -> None:
    creator = await login(prefix="creator")
    member = await login(prefix="member")
    moderator = await login(prefix="moderator")
    operator = await login(prefix="operator")
    config = bot_config(data_dir, synapse, bot_id, bot_admins=[operator.user_id])
    async with running_bot(config, engine):
        v12 = await creator.create_room(
            version="12", invite=(bot_id, member.user_id, operator.user_id)
        )
        await member.join(v12)
        await operator.join(v12)
        await creator.wait_joined(v12, bot_id)
        room = creator.client.rooms[v12]
        assert room.room_version == "12"
        # The trap this guards against: nio sees the v12 creator at level 0.
        assert room.power_levels.get_user_level(creator.user_id) == 0

        refused = await member.say(v12, "!samizdat settings set command_prefix ?")
        refusal = await member.reply_to(refused, bot_id)
        assert "admin" in refusal.content["body"].lower(), refusal.content["body"]

        # A configured bot admin needs no power in the room.
        operated = await operator.say(v12, "!samizdat settings show")
        shown_to_operator = await operator.reply_to(operated, bot_id)
        assert "command_prefix: !" in shown_to_operator.content["body"]

        accepted = await creator.say(v12, "!samizdat settings set command_prefix ?")
        confirmation = await creator.reply_to(accepted, bot_id)
        assert "command_prefix" in confirmation.content["body"], confirmation.content["body"]

        v10 = await creator.create_room(
            version="10",
            invite=(bot_id, moderator.user_id, member.user_id),
            power_users={creator.user_id: 100, moderator.user_id: 100},
        )
        await moderator.join(v10)
        await member.join(v10)
        await creator.wait_joined(v10, bot_id)
        denied = await member.say(v10, "!samizdat settings set sources_shown 1")
        assert "admin" in (await member.reply_to(denied, bot_id)).content["body"].lower()
        allowed = await moderator.say(v10, "!samizdat settings set sources_shown 1")
        allowed_reply = await moderator.reply_to(allowed, bot_id)
        assert "sources_shown" in allowed_reply.content["body"]

    async with running_bot(config, engine):
        show = await creator.say(v12, "?samizdat settings show")
        shown = await creator.reply_to(show, bot_id)
        assert "command_prefix: ?" in shown.content["body"], shown.content["body"]
        show10 = await moderator.say(v10, "!samizdat settings show")
        shown10 = await moderator.reply_to(show10, bot_id)
        assert "sources_shown: 1" in shown10.content["body"], shown10.content["body"]


async def test_invitation_from_a_disallowed_user_is_declined(
    synapse: Synapse, engine: AnswerEngine, data_dir: Path, bot_id: str, login: Login
) -> None:
    friend = await login(prefix="friend")
    stranger = await login(prefix="stranger")
    config = bot_config(data_dir, synapse, bot_id, allowed_inviters=[friend.user_id])
    async with running_bot(config, engine):
        unwelcome = await stranger.create_room(invite=(bot_id,))
        welcome = await friend.create_room(invite=(bot_id,))
        await friend.wait_joined(welcome, bot_id)

        def declined() -> bool:
            return (unwelcome, bot_id, "leave") in stranger.memberships

        await stranger.wait_for(declined, "the bot to decline the invitation")
        assert (unwelcome, bot_id, "invite") in stranger.memberships
        assert (unwelcome, bot_id, "join") not in stranger.memberships
        assert bot_id not in await asyncio.to_thread(synapse.room_members, unwelcome)


async def test_html_in_questions_and_library_texts_is_rendered_harmless(
    synapse: Synapse, data_dir: Path, tmp_path: Path, bot_id: str, human: Human
) -> None:
    library = tmp_path / "library"
    library.mkdir()
    (library / "raid.txt").write_text(
        "The Raid on the Printing House\n\n"
        "In 1921 the samizdat printers hid their press under the floor of a bakery. "
        "The printers wrote <script>alert('press')</script> and "
        "<img src=x onerror=alert(1)> on every leaflet about the bakery press. "
        "The police never found the bakery press, and the leaflets kept coming.\n",
        encoding="utf-8",
    )
    config = bot_config(data_dir, synapse, bot_id).model_copy(
        update={"library": LibraryConfig(path=library)}
    )
    engine = await asyncio.to_thread(
        build_engine, Config(data_dir=tmp_path / "index", library=LibraryConfig(path=library))
    )
    async with running_bot(config, engine):
        room = await room_with_bot(human, bot_id, quiet=True)

        search = await human.say(room, "!search bakery press leaflets")
        found = await human.reply_to(search, bot_id)
        assert "onerror" in found.content["body"]  # the text is there, as text
        hostile = await human.say(
            room, "!ask <script>alert(1)</script> Where was the press hidden?"
        )
        answered = await human.reply_to(hostile, bot_id)
        for reply in (found, answered):
            html = reply.content["formatted_body"].lower()
            assert "<script" not in html
            assert "<img" not in html
            assert set(re.findall(r"</?\s*([a-z0-9-]+)", html)) <= SAFE_TAGS, html
        assert "&lt;script&gt;" in found.content["formatted_body"]


async def test_bot_leaves_a_room_where_it_is_the_last_member(
    synapse: Synapse, engine: AnswerEngine, bot_id: str, config: Config, human: Human
) -> None:
    async with running_bot(config, engine):
        room = await room_with_bot(human, bot_id)
        assert bot_id in await asyncio.to_thread(synapse.room_members, room)
        await human.leave(room)
        await eventually(
            lambda: bot_id not in synapse.room_members(room), "the bot to leave the room"
        )


async def test_a_wrong_password_stops_the_adapter_with_a_message_and_no_secret(
    synapse: Synapse,
    engine: AnswerEngine,
    data_dir: Path,
    caplog: pytest.LogCaptureFixture,
    bot_id: str,
) -> None:
    secret = "not-the-password-4711"
    config = bot_config(data_dir, synapse, bot_id).model_copy(
        update={
            "matrix": MatrixConfig(
                homeserver=synapse.url, user_id=bot_id, password=SecretStr(secret)
            )
        }
    )
    async with open_app(config, engine=engine) as app:
        with pytest.raises(StartupError) as raised:
            await run_matrix(
                config.matrix, config.data_dir, app.core, app.state, stop=asyncio.Event()
            )
    assert bot_id in str(raised.value)
    assert secret not in str(raised.value)
    assert all(secret not in r.getMessage() for r in caplog.records)
