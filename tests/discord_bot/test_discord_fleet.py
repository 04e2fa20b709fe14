"""Discord in a fleet: a button sent by one process is answered by another on the same
PostgreSQL database, which has none of the first one's memory."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest
from discord_harness import running_bot
from fake_discord import EPHEMERAL, FakeDiscord, Json
from postgres_harness import PostgresServer
from pydantic import SecretStr

from bot.answers.engine import AnswerEngine
from bot.app import open_app
from bot.config import Config, DiscordConfig

pytestmark = pytest.mark.timeout(30)


def _buttons(message: Json) -> dict[str, Json]:
    return {child["label"]: child for row in message["components"] for child in row["components"]}


async def test_a_button_sent_by_one_process_is_answered_by_another(
    fake: FakeDiscord, postgres: PostgresServer, tmp_path: Path, engine: AnswerEngine
) -> None:
    url = SecretStr(postgres.new_database())
    first = Config(data_dir=tmp_path / "a", database_url=url, discord=DiscordConfig(token="t"))
    second = first.model_copy(update={"data_dir": tmp_path / "b"})
    question = "When did the Kuzbass colony operate?"

    async with open_app(first, engine=engine) as app, running_bot(fake, app):
        record = await fake.slash("ask", [{"name": "question", "type": 3, "value": question}])
        [answer] = await fake.wait_for_reply(record)

    async with open_app(second, engine=engine) as other, running_bot(fake, other):
        show = await fake.click(answer, _buttons(answer)["Show passages"]["custom_id"])
        vote = await fake.click(answer, _buttons(answer)["Helpful"]["custom_id"], user=fake.other)
        [pages] = await fake.wait_for_reply(show)
        [thanks] = await fake.wait_for_reply(vote)

    connection = await asyncpg.connect(url.get_secret_value())
    try:
        recorded = [
            tuple(row)
            for row in await connection.fetch("SELECT question, user_id, helpful FROM feedback")
        ]
    finally:
        await connection.close()

    assert pages["flags"] & EPHEMERAL and pages["embeds"][0]["footer"]["text"].startswith(
        "Passage 1 of "
    )
    assert "Thanks" in thanks["content"]
    assert recorded == [(question, str(fake.other.id), 1)]
