"""Restart safety against a real Synapse: no repeats, no backlog floods, no lost questions."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest
from matrix_harness import (
    KUZBASS_QUESTION,
    Human,
    Request,
    Synapse,
    bot_config,
    eventually,
    room_with_bot,
    running_bot,
)

from bot.answers.engine import AnswerEngine
from bot.app import open_app
from bot.config import Config
from bot.matrix_bot import run_matrix
from bot.matrix_bot.session import Session


async def test_restart_answers_missed_questions_once_and_old_ones_never(
    engine: AnswerEngine, data_dir: Path, bot_id: str, config: Config, human: Human
) -> None:
    async with running_bot(config, engine):
        room = await room_with_bot(human, bot_id, quiet=True)
        before = await human.say(room, f"!ask {KUZBASS_QUESTION}")
        await human.reply_to(before, bot_id)
    device = Session.load(data_dir / "matrix" / "session.json")
    assert device is not None

    while_down = await human.say(room, f"!ask {KUZBASS_QUESTION}")

    async with running_bot(config, engine):
        missed = await human.reply_to(while_down, bot_id)
        assert "kuzbass:" in missed.content["body"]
        # The bot handles events in order, so once this is answered nothing older is due.
        sentinel = await human.say(room, "!about")
        await human.reply_to(sentinel, bot_id)

    assert len(human.replies_to(before, bot_id)) == 1
    assert len(human.replies_to(while_down, bot_id)) == 1
    again = Session.load(data_dir / "matrix" / "session.json")
    assert again is not None and again.device_id == device.device_id


async def test_an_event_is_never_answered_twice_even_if_the_sync_token_was_lost(
    engine: AnswerEngine, data_dir: Path, bot_id: str, config: Config, human: Human
) -> None:
    token_key = f"matrix.sync_token.{bot_id}"
    async with running_bot(config, engine):
        room = await room_with_bot(human, bot_id, quiet=True)
    async with open_app(config, engine=engine) as app:
        old_token = await app.state.kv_get(token_key)
    assert old_token is not None

    async with running_bot(config, engine):
        question = await human.say(room, f"!ask {KUZBASS_QUESTION}")
        await human.reply_to(question, bot_id)

    # As if the bot crashed after answering but before saving the token. A new login too,
    # so that Synapse's per-token transaction dedup cannot hide a second answer.
    async with open_app(config, engine=engine) as app:
        await app.state.kv_set(token_key, old_token)
    (data_dir / "matrix" / "session.json").unlink()

    async with running_bot(config, engine):
        sentinel = await human.say(room, "!about")
        await human.reply_to(sentinel, bot_id)

    assert len(human.replies_to(question, bot_id)) == 1


async def test_questions_older_than_the_backlog_limit_are_ignored(
    synapse: Synapse,
    engine: AnswerEngine,
    data_dir: Path,
    bot_id: str,
    config: Config,
    human: Human,
) -> None:
    async with running_bot(config, engine):
        room = await room_with_bot(human, bot_id, quiet=True)

    stale = await human.say(room, f"!ask {KUZBASS_QUESTION}")
    syncs_before = len(_first_syncs(synapse, bot_id))
    # With a limit of 0, whatever was sent while the bot was down is too old; what is sent
    # once it runs is answered however long its start took. No clock is raced here: the
    # question is sent before the bot starts, the sentinel after its first sync.
    impatient = bot_config(data_dir, synapse, bot_id, backlog_max_age_seconds=0)
    async with running_bot(impatient, engine):
        await eventually(
            lambda: len(_first_syncs(synapse, bot_id)) > syncs_before, "the bot's first sync"
        )
        sentinel = await human.say(room, "!about")
        await human.reply_to(sentinel, bot_id)

    assert human.replies_to(stale, bot_id) == []


def _first_syncs(synapse: Synapse, user_id: str) -> list[Request]:
    """The syncs with full state the bot makes once per start, as Synapse finished them."""
    return [
        r
        for r in synapse.requests_by(user_id)
        if r.path.startswith("/_matrix/client/v3/sync") and "full_state=true" in r.path
    ]


async def test_bot_carries_on_after_the_homeserver_restarts(
    synapse: Synapse,
    engine: AnswerEngine,
    caplog: pytest.LogCaptureFixture,
    bot_id: str,
    config: Config,
    human: Human,
) -> None:
    async with running_bot(config, engine):
        room = await room_with_bot(human, bot_id, quiet=True)

        await asyncio.to_thread(synapse.stop)
        await asyncio.to_thread(synapse.start)

        question = await human.say(room, f"!ask {KUZBASS_QUESTION}")
        reply = await human.reply_to(question, bot_id, within=90)
        assert "kuzbass:" in reply.content["body"]
    assert any("homeserver unreachable" in r.getMessage() for r in caplog.records)


async def test_bot_started_while_the_homeserver_is_down_logs_in_once_it_is_up(
    synapse: Synapse,
    engine: AnswerEngine,
    caplog: pytest.LogCaptureFixture,
    bot_id: str,
    config: Config,
    human: Human,
) -> None:
    await asyncio.to_thread(synapse.stop)
    try:
        async with running_bot(config, engine):
            await eventually(
                lambda: any("unreachable at login" in r.getMessage() for r in caplog.records),
                "the bot to find the homeserver away",
            )
            await asyncio.to_thread(synapse.start)
            room = await human.create_room(invite=(bot_id,))
            await human.wait_joined(room, bot_id, within=90)
            question = await human.say(room, "!about")
            assert "Samizdat" in (await human.reply_to(question, bot_id)).content["body"]
    finally:
        await asyncio.to_thread(synapse.start)  # a no-op when it is already running


async def test_questions_from_before_the_bot_joined_are_not_answered(
    engine: AnswerEngine, bot_id: str, config: Config, human: Human
) -> None:
    async with running_bot(config, engine):
        room = await human.create_room()
        early = await human.say(room, f"!ask {KUZBASS_QUESTION}")
        await human.invite(room, bot_id)
        await human.wait_joined(room, bot_id)
        sentinel = await human.say(room, "!about")
        await human.reply_to(sentinel, bot_id)
    assert human.replies_to(early, bot_id) == []


async def test_sigterm_stops_the_adapter_after_saving_its_place(
    engine: AnswerEngine, bot_id: str, config: Config, human: Human
) -> None:
    async with open_app(config, engine=engine) as app:
        # No stop event: run_matrix installs its own SIGINT/SIGTERM handlers.
        task = asyncio.create_task(run_matrix(config.matrix, config.data_dir, app.core, app.state))
        await room_with_bot(human, bot_id)
        assert not task.done()
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.wait_for(task, timeout=30)
        assert task.exception() is None
        assert await app.state.kv_get(f"matrix.sync_token.{bot_id}")


async def test_bot_logs_in_again_when_its_session_is_logged_out(
    synapse: Synapse,
    engine: AnswerEngine,
    data_dir: Path,
    bot_id: str,
    config: Config,
    human: Human,
) -> None:
    session_file = data_dir / "matrix" / "session.json"
    async with running_bot(config, engine):
        room = await room_with_bot(human, bot_id)
        old = Session.load(session_file)
        assert old is not None
        await asyncio.to_thread(synapse.logout, old.access_token)

        question = await human.say(room, "!about")
        await human.reply_to(question, bot_id)
        new = Session.load(session_file)
        assert new is not None and new.device_id != old.device_id
