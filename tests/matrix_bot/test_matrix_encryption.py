"""An encrypted room, end to end: the human's question is decrypted and the answer encrypted."""

from __future__ import annotations

from pathlib import Path

import pytest
from matrix_harness import (
    KUZBASS_QUESTION,
    Human,
    Login,
    Synapse,
    bot_config,
    room_with_bot,
    running_bot,
)
from nio import RoomSendResponse

from bot.answers.engine import AnswerEngine
from bot.config import Config


async def test_encrypted_room_round_trip(
    engine: AnswerEngine, data_dir: Path, tmp_path: Path, bot_id: str, config: Config, login: Login
) -> None:
    human = await login(store_dir=tmp_path / "human-crypto")
    async with running_bot(config, engine):
        room = await room_with_bot(human, bot_id, encrypted=True)
        assert human.client.rooms[room].encrypted
        await human.sync(0)  # fetch the bot's device keys before sharing ours

        question = await human.say(room, f"!ask {KUZBASS_QUESTION}")
        reply = await human.reply_to(question, bot_id)
        assert reply.encrypted
        assert reply.content["msgtype"] == "m.notice"
        assert "kuzbass:" in reply.content["body"]
        assert human.undecryptable == []
    assert (data_dir / "matrix" / "crypto").is_dir()
    assert any((data_dir / "matrix" / "crypto").iterdir())

    # After a restart the same device reads the room with the keys it kept.
    async with running_bot(config, engine):
        again = await human.say(room, "!about")
        after_restart = await human.reply_to(again, bot_id)
        assert after_restart.encrypted
        assert "Samizdat" in after_restart.content["body"]


async def test_undecryptable_events_are_logged_and_skipped(
    engine: AnswerEngine,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    bot_id: str,
    config: Config,
    login: Login,
) -> None:
    human = await login(store_dir=tmp_path / "human-crypto")
    forger = await login(prefix="forger")
    async with running_bot(config, engine):
        room = await human.create_room(invite=(bot_id, forger.user_id), encrypted=True)
        await forger.join(room)
        await human.wait_joined(room, bot_id)
        await human.sync(0)

        garbage = await forger.client.room_send(
            room,
            "m.room.encrypted",
            {
                "algorithm": "m.megolm.v1.aes-sha2",
                "ciphertext": "bm90IGEgcmVhbCBjaXBoZXJ0ZXh0",
                "sender_key": "c2VuZGVyIGtleQ",
                "session_id": "bm8gc3VjaCBzZXNzaW9u",
                "device_id": "NOSUCHDEVICE",
            },
        )
        assert isinstance(garbage, RoomSendResponse)
        question = await human.say(room, f"!ask {KUZBASS_QUESTION}")
        reply = await human.reply_to(question, bot_id)
        assert "kuzbass:" in reply.content["body"]
    assert any(
        "cannot decrypt" in r.getMessage() and garbage.event_id in r.getMessage()
        for r in caplog.records
    )


async def test_with_encryption_off_the_bot_keeps_no_crypto_store(
    synapse: Synapse, engine: AnswerEngine, data_dir: Path, bot_id: str, human: Human
) -> None:
    async with running_bot(bot_config(data_dir, synapse, bot_id, encryption=False), engine):
        room = await room_with_bot(human, bot_id)
        question = await human.say(room, "!about")
        assert "Samizdat" in (await human.reply_to(question, bot_id)).content["body"]
    assert not (data_dir / "matrix" / "crypto").exists()
