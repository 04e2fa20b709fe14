"""The adapter state's outbox against a real SQLite file: a claim and its reply are one write,
a redacted question's queued reply is dropped, a sent one is taken back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiosqlite
import pytest
from postgres_harness import PostgresServer

from bot.core.adapter_state import Action, AdapterState, Outgoing
from bot.core.database import Database, open_database
from bot.core.postgres import open_postgres

BOT = "@bot:hs"
ROOM = "!room:hs"


@pytest.fixture(params=["sqlite", "postgres"])
async def state(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AdapterState]:
    """The adapter state in each backend: a fleet keeps it in PostgreSQL."""
    if request.param == "sqlite":
        async with open_database(tmp_path / "samizdat.db") as conn:
            yield AdapterState(Database(conn))
        return
    server: PostgresServer = request.getfixturevalue("postgres")
    async with open_postgres(server.new_database()) as shared:
        yield AdapterState(shared)


def reply_to(question: str, body: str = "an answer") -> Outgoing:
    return Outgoing(BOT, f"samizdat-{question}", ROOM, Action.REPLY, question, {"body": body}, 1.0)


def redaction(reply_id: str) -> Outgoing:
    return Outgoing(
        BOT, f"samizdat-redact-{reply_id}", ROOM, Action.REDACT, "", {"redacts": reply_id}, 2.0
    )


async def test_a_claim_queues_its_reply_once(state: AdapterState) -> None:
    assert await state.claim("matrix", "$q", reply_to("$q")) is True
    assert await state.claim("matrix", "$q", reply_to("$q", "a second answer")) is False
    [queued] = await state.outbox(BOT)
    assert (queued.action, queued.subject, queued.content) == (
        Action.REPLY,
        "$q",
        {"body": "an answer"},
    )
    assert await state.was_handled("matrix", "$q")
    assert await state.replied("matrix", "$q")


async def test_a_claim_that_cannot_be_written_queues_nothing(tmp_path: Path) -> None:
    async with open_database(tmp_path / "samizdat.db") as conn:
        state = AdapterState(Database(conn))
        # A reply whose content cannot be stored (not JSON) fails the whole transaction.
        broken = Outgoing(BOT, "samizdat-$q", ROOM, Action.REPLY, "$q", {"x": {1, 2}}, 1.0)
        with pytest.raises(TypeError):
            await state.claim("matrix", "$q", broken)
        assert await state.was_handled("matrix", "$q") is False
        assert await state.outbox(BOT) == []


async def test_a_question_redacted_before_its_reply_went_out_is_never_answered(
    state: AdapterState,
) -> None:
    await state.claim("matrix", "$q", reply_to("$q"))
    assert await state.redacted("matrix", "$q", redaction) is False
    assert await state.outbox(BOT) == []
    # A replay of the question (a batch that comes again) finds it claimed.
    assert await state.claim("matrix", "$q", reply_to("$q")) is False


async def test_a_question_redacted_first_is_claimed_and_never_queued(state: AdapterState) -> None:
    assert await state.redacted("matrix", "$q", redaction) is False
    assert await state.claim("matrix", "$q", reply_to("$q")) is False
    assert await state.outbox(BOT) == []


async def test_the_sent_reply_to_a_redacted_question_is_taken_back(state: AdapterState) -> None:
    await state.claim("matrix", "$q", reply_to("$q"))
    [queued] = await state.outbox(BOT)
    await state.settle("matrix", queued, "$reply", redaction)
    assert await state.reply_id("matrix", "$q") == "$reply"
    assert await state.outbox(BOT) == []

    assert await state.redacted("matrix", "$q", redaction) is True
    [removal] = await state.outbox(BOT)
    assert (removal.action, removal.content) == (Action.REDACT, {"redacts": "$reply"})
    assert not await state.replied("matrix", "$q")


async def test_a_reply_sent_while_its_question_was_being_redacted_is_taken_back(
    state: AdapterState,
) -> None:
    await state.claim("matrix", "$q", reply_to("$q"))
    [in_flight] = await state.outbox(BOT)
    # The redaction arrives while the reply is on the wire; then the homeserver takes it.
    await state.redacted("matrix", "$q", redaction)
    await state.claim("matrix", "$next", reply_to("$next"))
    await state.settle("matrix", in_flight, "$reply", redaction)
    queued = await state.outbox(BOT)
    # The next question's reply survives the settling of the one before it.
    assert [(o.action, o.subject or o.content.get("redacts")) for o in queued] == [
        (Action.REPLY, "$next"),
        (Action.REDACT, "$reply"),
    ]


async def test_a_reply_refused_for_good_leaves_nothing_to_revise(state: AdapterState) -> None:
    await state.claim("matrix", "$q", reply_to("$q"))
    [queued] = await state.outbox(BOT)
    await state.settle("matrix", queued, None, redaction)
    assert await state.outbox(BOT) == []
    assert await state.reply_id("matrix", "$q") is None
    assert not await state.replied("matrix", "$q")


async def test_an_unreadable_stored_content_reads_as_empty(tmp_path: Path) -> None:
    path = tmp_path / "samizdat.db"
    async with open_database(path) as conn:
        state = AdapterState(Database(conn))
        await state.claim("matrix", "$q", reply_to("$q"))
    async with aiosqlite.connect(path) as raw:
        await raw.execute("UPDATE outbox SET content = 'not json'")
        await raw.commit()
    async with open_database(path) as conn:
        [queued] = await AdapterState(Database(conn)).outbox(BOT)
    assert queued.content == {}
