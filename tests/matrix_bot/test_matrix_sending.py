"""Getting replies out against a real Synapse: typing, 429s, stops and crashes mid-reply."""

from __future__ import annotations

import asyncio
import itertools

from matrix_harness import (
    KUZBASS_QUESTION,
    Human,
    Request,
    Synapse,
    eventually,
    room_with_bot,
    running_bot,
)

from bot.answers.engine import AnswerEngine
from bot.config import Config

_SEND = "/send/m.room.message/"


def _sends(synapse: Synapse, user_id: str) -> list[Request]:
    return [r for r in synapse.requests_by(user_id) if r.method == "PUT" and _SEND in r.path]


def _refused_sends(synapse: Synapse, user_id: str) -> list[Request]:
    return [r for r in _sends(synapse, user_id) if r.status == 429]


async def _ask_while_replies_are_refused(
    synapse: Synapse, human: Human, room: str, bot_id: str
) -> str:
    """Ask with every message of the bot refused (429), and wait until one reply was refused."""
    await asyncio.to_thread(synapse.limit_messages, bot_id, 1, 0)
    question = await human.say(room, f"!ask {KUZBASS_QUESTION}")
    await eventually(
        lambda: bool(_refused_sends(synapse, bot_id)), "Synapse to hold the reply back"
    )
    return question


async def test_while_rate_limited_the_bot_shows_typing_waits_as_told_and_then_answers(
    synapse: Synapse, engine: AnswerEngine, bot_id: str, config: Config, human: Human
) -> None:
    async with running_bot(config, engine):
        room = await room_with_bot(human, bot_id)

        # A burst count of 0: Synapse answers every message of the bot with a 429 that asks
        # it to wait at least a second (and holds each 429 back for half a second itself).
        await asyncio.to_thread(synapse.limit_messages, bot_id, 1, 0)
        question = await human.say(room, f"!ask {KUZBASS_QUESTION}")

        def typing() -> bool:
            return bot_id in human.client.rooms[room].typing_users

        await human.wait_for(typing, "the bot's typing notice")
        await eventually(
            lambda: len(_refused_sends(synapse, bot_id)) >= 2,
            "the bot to try again after a 429",
        )
        await asyncio.to_thread(synapse.unlimit_messages, bot_id)

        reply = await human.reply_to(question, bot_id)
        assert "kuzbass:" in reply.content["body"]
        await human.wait_for(lambda: not typing(), "the typing notice to end")

    sends = _sends(synapse, bot_id)
    assert [r.status for r in sends[:-1]] == [429] * (len(sends) - 1)
    assert sends[-1].status == 200
    # Waiting the `retry_after_ms` asked for puts a second or more between tries; a bot that
    # ignored it would come back within Synapse's own half-second hold.
    gaps = [(later.at - earlier.at).total_seconds() for earlier, later in itertools.pairwise(sends)]
    assert min(gaps) >= 0.9, gaps
    assert human.replies_to(question, bot_id) == [reply]


async def test_a_reply_held_up_when_the_bot_dies_is_sent_once_after_the_restart(
    synapse: Synapse, engine: AnswerEngine, bot_id: str, config: Config, human: Human
) -> None:
    async with running_bot(config, engine) as bot:
        room = await room_with_bot(human, bot_id)
        question = await _ask_while_replies_are_refused(synapse, human, room, bot_id)
        bot.task.cancel()  # as if it crashed, with the reply not sent
        await asyncio.wait({bot.task})
    # The homeserver takes the bot's messages again.
    await asyncio.to_thread(synapse.unlimit_messages, bot_id)
    assert not any(200 <= r.status < 300 for r in _sends(synapse, bot_id))

    async with running_bot(config, engine):
        reply = await human.reply_to(question, bot_id)
        assert "kuzbass:" in reply.content["body"]
        sentinel = await human.say(room, "!about")
        await human.reply_to(sentinel, bot_id)

    assert len(human.replies_to(question, bot_id)) == 1


async def test_a_stop_lets_the_reply_in_hand_go_out_before_the_bot_ends(
    synapse: Synapse, engine: AnswerEngine, bot_id: str, config: Config, human: Human
) -> None:
    async with running_bot(config, engine) as bot:
        room = await room_with_bot(human, bot_id)
        question = await _ask_while_replies_are_refused(synapse, human, room, bot_id)
        # SIGTERM while the reply is held up for a second; Synapse takes it again, within
        # the few seconds a stop waits for the question in hand.
        bot.stop.set()
        await asyncio.to_thread(synapse.unlimit_messages, bot_id)
        await asyncio.wait({bot.task})

    # Answered by the run that was stopping, not by a later one.
    reply = await human.reply_to(question, bot_id)
    assert "kuzbass:" in reply.content["body"]
