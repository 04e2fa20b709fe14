"""`/samizdat library …` against the fake Discord: an admin attaches a file (served by the
fake's HTTP side, as Discord's CDN serves it); the server's questions are answered from it,
a direct message (another place) is not; removing it takes the answers away."""

from __future__ import annotations

from pathlib import Path

import pytest
from fake_discord import EPHEMERAL, FakeDiscord, FakeUser, Json

from bot.answers.engine import AnswerEngine
from bot.app import App
from bot.core.places import discord_place
from bot.discord_bot.client import SamizdatBot
from bot.library.shelf import shelf_folder

pytestmark = pytest.mark.timeout(120)

SHELVES = Path(__file__).resolve().parents[1] / "data" / "shelves"


@pytest.fixture
def engine(plain_engine: AnswerEngine) -> AnswerEngine:
    """BM25 alone: embedding four added files would cost seconds, and is tested elsewhere."""
    return plain_engine


FILES = {
    "paris-commune.pdf": ("Where did Gustave Courbet die in 1877?", "Switzerland"),
    "aragon-collectives.epub": ("Who presided over the Council of Aragon?", "Ascaso"),
    "luddites.html": ("Which mill near Cleckheaton did the Luddites attack?", "Rawfolds"),
    "diggers.md": ("Who led the Diggers on St George's Hill?", "Winstanley"),
}


def _library(command: str, *options: Json) -> list[Json]:
    return [
        {
            "name": "library",
            "type": 2,
            "options": [{"name": command, "type": 1, "options": list(options)}],
        }
    ]


async def _add(fake: FakeDiscord, attachment: Json, user: FakeUser) -> Json:
    record = await fake.slash(
        "samizdat",
        _library("add", {"name": "file", "type": 11, "value": attachment["id"]}),
        user=user,
        resolved={"attachments": {attachment["id"]: attachment}},
    )
    [reply] = await fake.wait_for_reply(record)
    return reply


def _text(message: Json) -> str:
    parts = [message.get("content") or ""]
    for embed in message.get("embeds") or []:
        parts += [embed.get("title") or "", embed.get("description") or ""]
        parts += [f"{f['name']} {f['value']}" for f in embed.get("fields") or []]
    return " ".join(" ".join(parts).split())


async def _ask(fake: FakeDiscord, question: str, user: FakeUser, *, dm: bool = False) -> str:
    record = await fake.slash(
        "ask", [{"name": "question", "type": 3, "value": question}], user=user, dm=dm
    )
    [answer] = await fake.wait_for_reply(record)
    return _text(answer)


async def test_an_admin_adds_each_format_and_the_server_is_answered_from_it(
    fake: FakeDiscord, bot: SamizdatBot, app: App
) -> None:
    ids = []
    for name in FILES:
        reply = await _add(fake, fake.attach((SHELVES / name).read_bytes(), name), fake.admin)
        assert reply["flags"] & EPHEMERAL
        text = _text(reply)
        assert "Added · this place's shelf" in text
        ids.append(text.split("`")[1])
    assert len(fake.downloads) == 4
    for n, (question, fact) in enumerate(FILES.values()):
        answer = await _ask(fake, question, fake.admin)
        assert fact in answer and "added here" in answer and ids[n] in answer
        elsewhere = await _ask(fake, question, fake.admin, dm=True)
        assert "added here" not in elsewhere and fact not in elsewhere

    record = await fake.slash(
        "samizdat",
        _library("remove", {"name": "document", "type": 3, "value": ids[3]}),
        user=fake.admin,
    )
    [removed] = await fake.wait_for_reply(record)
    assert "Removed" in _text(removed)
    question, fact = FILES["diggers.md"]
    assert ids[3] not in await _ask(fake, question, fake.admin)
    changes = await app.store.recent_changes(discord_place(fake.guild_id), limit=10)
    assert [c.setting for c in changes].count("library.add") == 4
    assert changes[0].setting == "library.remove" and changes[0].user_id == str(fake.admin.id)


async def test_a_member_cannot_add_and_nothing_is_fetched_or_stored(
    fake: FakeDiscord, bot: SamizdatBot, app: App
) -> None:
    attachment = fake.attach((SHELVES / "diggers.md").read_bytes(), "diggers.md")
    refusal = await _add(fake, attachment, fake.member)
    assert refusal["flags"] & EPHEMERAL and "Manage Server" in refusal["content"]
    assert fake.downloads == []
    assert not shelf_folder(app.config.data_dir, discord_place(fake.guild_id)).exists()


async def test_a_file_declared_over_the_limit_is_refused_without_downloading_it(
    fake: FakeDiscord, bot: SamizdatBot
) -> None:
    attachment = fake.attach(
        b"<html><body><p>small</p></body></html>", "page.html", size=50_000_000
    )
    refusal = await _add(fake, attachment, fake.admin)
    assert "larger than the limit of 20 MB" in _text(refusal)
    assert fake.downloads == []


async def test_a_scanned_pdf_gets_its_reason(fake: FakeDiscord, bot: SamizdatBot) -> None:
    attachment = fake.attach((SHELVES / "scanned.pdf").read_bytes(), "scan.pdf")
    refusal = await _add(fake, attachment, fake.admin)
    assert refusal["flags"] & EPHEMERAL and "no text layer" in _text(refusal)


async def test_show_passages_pages_through_the_servers_own_document(
    fake: FakeDiscord, bot: SamizdatBot
) -> None:
    # The button recalls its answer from the place's own library, not the shared one:
    # a passage of an added document is shown, not dropped as gone.
    await _add(fake, fake.attach((SHELVES / "diggers.md").read_bytes(), "diggers.md"), fake.admin)
    question, fact = FILES["diggers.md"]
    record = await fake.slash(
        "ask", [{"name": "question", "type": 3, "value": question}], user=fake.admin
    )
    [answer] = await fake.wait_for_reply(record)
    assert fact in _text(answer)
    buttons = {c["label"]: c for row in answer["components"] for c in row["components"]}
    click = await fake.click(answer, buttons["Show passages"]["custom_id"], user=fake.admin)
    [page] = await fake.wait_for_reply(click)
    assert page["flags"] & EPHEMERAL
    assert fact in _text(page)
