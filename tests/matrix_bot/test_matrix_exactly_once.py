"""Exactly once against a real Synapse: kills mid-answer, outages with a reply pending, edits
and redactions of questions."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

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


def _refused_sends(synapse: Synapse, user_id: str) -> list[Request]:
    return [
        r
        for r in synapse.requests_by(user_id)
        if r.method == "PUT" and _SEND in r.path and r.status == 429
    ]


async def _held_up(synapse: Synapse, human: Human, room: str, bot_id: str) -> str:
    """Ask with every message of the bot refused (429), once one reply was refused."""
    await asyncio.to_thread(synapse.limit_messages, bot_id, 1, 0)
    question = await human.say(room, f"!ask {KUZBASS_QUESTION}")
    await eventually(lambda: bool(_refused_sends(synapse, bot_id)), "a refused reply")
    return question


def _marked_redacted(database: Path, event_id: str) -> bool:
    with sqlite3.connect(database) as db:
        row = db.execute(
            "SELECT redacted FROM handled_events WHERE event_id = ?", (event_id,)
        ).fetchone()
    return row is not None and row[0] == 1


async def test_a_kill_at_any_moment_neither_loses_nor_repeats_an_answer(
    engine: AnswerEngine, bot_id: str, config: Config, human: Human
) -> None:
    async with running_bot(config, engine):
        room = await room_with_bot(human, bot_id, quiet=True)
    questions = []
    # Killed at once (before the question is read), and a moment later (while it is being
    # answered, or just after): whichever it hits, the next start settles the question.
    for pause in (0.0, 0.05, 0.3):
        async with running_bot(config, engine) as bot:
            await human.sync(0)
            question = await human.say(room, f"!ask {KUZBASS_QUESTION}")
            questions.append(question)
            await asyncio.sleep(pause)
            bot.task.cancel()  # as a crash would: no stop, no grace
            await asyncio.wait({bot.task})
    async with running_bot(config, engine):
        for question in questions:
            await human.reply_to(question, bot_id)
        sentinel = await human.say(room, "!about")
        await human.reply_to(sentinel, bot_id)
    assert [len(human.replies_to(q, bot_id)) for q in questions] == [1, 1, 1]


async def test_a_reply_held_by_an_outage_goes_out_when_the_homeserver_returns(
    synapse: Synapse, engine: AnswerEngine, bot_id: str, config: Config, human: Human
) -> None:
    async with running_bot(config, engine):
        room = await room_with_bot(human, bot_id)
        question = await _held_up(synapse, human, room, bot_id)
        await asyncio.to_thread(synapse.stop)
        await asyncio.to_thread(synapse.start)
        await asyncio.to_thread(synapse.unlimit_messages, bot_id)
        # A bot that sent its outbox only after a sync would wait out a 30 s long poll here;
        # 15 s is a give-up bound, not a speed target (see benchmarks/soak.py for the figure).
        reply = await human.reply_to(question, bot_id, within=15)
        assert "kuzbass:" in reply.content["body"]
    assert human.replies_to(question, bot_id) == [reply]


async def test_an_edited_question_is_answered_again_by_editing_the_reply(
    engine: AnswerEngine, bot_id: str, config: Config, human: Human
) -> None:
    async with running_bot(config, engine):
        room = await room_with_bot(human, bot_id, quiet=True)
        question = await human.say(room, "!about")
        first = await human.reply_to(question, bot_id)
        assert "kuzbass:" not in first.content["body"]

        await human.edit(room, question, f"!ask {KUZBASS_QUESTION}")
        await human.wait_for(lambda: bool(human.edits_of(first.event_id, bot_id)), "an edit")
        edit = human.edits_of(first.event_id, bot_id)[0]
        assert "kuzbass:" in edit.content["m.new_content"]["body"]
        assert edit.content["body"].startswith("* ")
        # The edit does not ping the asker again.
        assert edit.content["m.mentions"] == {}

        sentinel = await human.say(room, "!about")
        await human.reply_to(sentinel, bot_id)
    assert human.replies_to(question, bot_id) == [first]


async def test_an_edit_of_a_message_the_bot_did_not_answer_is_not_a_question(
    engine: AnswerEngine, bot_id: str, config: Config, human: Human
) -> None:
    async with running_bot(config, engine):
        room = await room_with_bot(human, bot_id, quiet=True)
        chatter = await human.say(room, "good morning")
        await human.edit(room, chatter, f"!ask {KUZBASS_QUESTION}")
        sentinel = await human.say(room, "!about")
        await human.reply_to(sentinel, bot_id)
    assert human.replies_to(chatter, bot_id) == []
    assert not any(
        (s.content.get("m.relates_to") or {}).get("rel_type") == "m.replace"
        for s in human.seen
        if s.sender == bot_id
    )


async def test_the_answer_to_a_redacted_question_is_redacted(
    engine: AnswerEngine, bot_id: str, config: Config, human: Human
) -> None:
    async with running_bot(config, engine):
        room = await room_with_bot(human, bot_id, quiet=True)
        question = await human.say(room, f"!ask {KUZBASS_QUESTION}")
        reply = await human.reply_to(question, bot_id)
        await human.redact(room, question)
        await human.wait_for(lambda: reply.event_id in human.redacted, "the reply's redaction")


async def test_a_question_redacted_while_its_answer_is_held_up_is_left_unanswered(
    synapse: Synapse, engine: AnswerEngine, bot_id: str, config: Config, human: Human
) -> None:
    # The reply is either still queued when the redaction arrives (and is never sent) or
    # already on the wire inside a retry (and is redacted once its id is known): no answer
    # to the redacted question stays visible. The queued case alone is pinned in
    # tests/core/test_outbox.py.
    async with running_bot(config, engine):
        room = await room_with_bot(human, bot_id)
        question = await _held_up(synapse, human, room, bot_id)
        await human.redact(room, question)
        await eventually(
            lambda: _marked_redacted(config.database_path, question), "the bot to see it"
        )
        await asyncio.to_thread(synapse.unlimit_messages, bot_id)
        sentinel = await human.say(room, "!about")
        await human.reply_to(sentinel, bot_id)
        await human.wait_for(
            lambda: all(r.event_id in human.redacted for r in human.replies_to(question, bot_id)),
            "every answer to the redacted question to be redacted",
        )
    assert sentinel not in human.redacted
