"""`!samizdat library add` typed in reply to an uploaded file, against the real Synapse:
the room's questions are answered from the file, another room's are not, and removing it
takes the answers away; in an encrypted room the file is decrypted first."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from matrix_harness import Human, Login, room_with_bot, running_bot
from nio import UploadResponse

from bot.answers.engine import AnswerEngine
from bot.config import Config
from bot.core.places import matrix_place
from bot.library.shelf import shelf_folder

pytestmark = pytest.mark.timeout(240)

SHELVES = Path(__file__).resolve().parents[1] / "data" / "shelves"


@pytest.fixture
def engine(plain_engine: AnswerEngine) -> AnswerEngine:
    """BM25 alone: embedding four added files would cost seconds, and is tested elsewhere."""
    return plain_engine


# file: (the document id it gets, a question only it answers, a word of the answer)
FILES = {
    "paris-commune.pdf": (
        "the-fall-of-the-vendome-column",
        "Where did Gustave Courbet die in 1877?",
        "Switzerland",
    ),
    "aragon-collectives.epub": (
        "the-council-of-aragon",
        "Who presided over the Council of Aragon?",
        "Ascaso",
    ),
    "luddites.html": (
        "the-luddite-rising-in-the-west-riding",
        "Which mill near Cleckheaton did the Luddites attack?",
        "Rawfolds",
    ),
    "diggers.md": (
        "the-diggers-of-surrey",
        "Who led the Diggers on St George's Hill?",
        "Winstanley",
    ),
}


async def send_file(human: Human, room: str, name: str, *, encrypted: bool = False) -> str:
    """Upload a fixture as a person's client does and post it as `m.file`; its event id."""
    data = (SHELVES / name).read_bytes()
    resp, keys = await human.client.upload(
        io.BytesIO(data),
        content_type="application/octet-stream",
        filename=name,
        encrypt=encrypted,
        filesize=len(data),
    )
    assert isinstance(resp, UploadResponse), resp
    content: dict[str, Any] = {"msgtype": "m.file", "body": name, "info": {"size": len(data)}}
    if encrypted:
        assert keys is not None
        content["file"] = {"url": resp.content_uri, **keys}
    else:
        content["url"] = resp.content_uri
    sent = await human.client.room_send(
        room, "m.room.message", content, ignore_unverified_devices=True
    )
    return str(sent.event_id)


async def command_on(human: Human, room: str, file_event: str, bot_id: str, line: str) -> str:
    """Reply to the file with a command; the bot's reply's text."""
    reply_to = {"m.relates_to": {"m.in_reply_to": {"event_id": file_event}}}
    event = await human.say(room, line, **reply_to)
    return " ".join((await human.reply_to(event, bot_id)).content["body"].split())


async def ask(human: Human, room: str, bot_id: str, question: str) -> str:
    event = await human.say(room, f"!ask {question}")
    return " ".join((await human.reply_to(event, bot_id)).content["body"].split())


async def test_an_admin_adds_each_format_in_reply_to_its_file(
    engine: AnswerEngine, bot_id: str, config: Config, login: Login
) -> None:
    admin = await login()
    member = await login(prefix="member")
    async with running_bot(config, engine):
        room = await room_with_bot(admin, bot_id, quiet=True)
        other = await room_with_bot(admin, bot_id, quiet=True)
        await admin.invite(room, member.user_id)
        await member.join(room)

        diggers = await send_file(admin, room, "diggers.md")
        refused = await command_on(member, room, diggers, bot_id, "!samizdat library add")
        assert "Only admins" in refused
        assert not shelf_folder(config.data_dir, matrix_place(room)).exists()

        for name, (doc_id, _, _) in FILES.items():
            sent = diggers if name == "diggers.md" else await send_file(admin, room, name)
            added = await command_on(admin, room, sent, bot_id, "!samizdat library add")
            assert "Added" in added and doc_id in added, added
        for doc_id, question, fact in FILES.values():
            here = await ask(admin, room, bot_id, question)
            assert fact in here and "added here" in here and doc_id in here
            there = await ask(admin, other, bot_id, question)
            assert "added here" not in there and doc_id not in there

        doc_id, question, _ = FILES["diggers.md"]
        removed = await command_on(
            admin, room, diggers, bot_id, f"!samizdat library remove {doc_id}"
        )
        assert "Removed" in removed and doc_id in removed
        assert doc_id not in await ask(admin, room, bot_id, question)


async def test_a_file_in_an_encrypted_room_is_decrypted_and_added(
    engine: AnswerEngine, tmp_path: Path, bot_id: str, config: Config, login: Login
) -> None:
    admin = await login(store_dir=tmp_path / "admin-crypto")
    async with running_bot(config, engine):
        room = await room_with_bot(admin, bot_id, encrypted=True, quiet=True)
        await admin.sync(0)
        sent = await send_file(admin, room, "paris-commune.pdf", encrypted=True)
        added = await command_on(admin, room, sent, bot_id, "!samizdat library add year=1871")
        assert "Added" in added and "(1871)" in added
        _, question, fact = FILES["paris-commune.pdf"]
        answer = await ask(admin, room, bot_id, question)
        assert fact in answer and "added here" in answer


async def test_library_add_without_a_file_says_how(
    engine: AnswerEngine, bot_id: str, config: Config, human: Human
) -> None:
    async with running_bot(config, engine):
        room = await room_with_bot(human, bot_id)
        event = await human.say(room, "!samizdat library add")
        reply = await human.reply_to(event, bot_id)
        assert "reply to the file" in reply.content["body"]
        text = await human.say(room, "just words")
        refused = await command_on(human, room, text, bot_id, "!samizdat library add")
        assert "not a file" in refused


async def test_a_file_sent_before_a_restart_is_fetched_by_its_event(
    engine: AnswerEngine, tmp_path: Path, bot_id: str, config: Config, login: Login
) -> None:
    admin = await login(store_dir=tmp_path / "admin-crypto")
    async with running_bot(config, engine):
        room = await room_with_bot(admin, bot_id, encrypted=True, quiet=True)
        await admin.sync(0)
        sent = await send_file(admin, room, "diggers.md", encrypted=True)
        about = await admin.say(room, "!about")
        await admin.reply_to(about, bot_id)  # the bot has seen the file's event
    # A new process remembers no file event: it fetches this one and decrypts it.
    async with running_bot(config, engine):
        added = await command_on(admin, room, sent, bot_id, "!samizdat library add")
        assert "Added" in added and "the-diggers-of-surrey" in added
