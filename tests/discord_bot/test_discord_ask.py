"""Asking over Discord: /ask, the answer embed, its buttons, mentions and long answers."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from pathlib import Path

import pytest
from discord_harness import running_bot
from fake_discord import EPHEMERAL, FakeDiscord, Json, pings_someone

from bot.app import App, open_app
from bot.config import Config, DiscordConfig, LibraryConfig, RetrievalConfig
from bot.core.places import Where, discord_place
from bot.discord_bot.client import SamizdatBot

pytestmark = pytest.mark.timeout(30)

KUZBASS = "Kuzbass Autonomous Industrial Colony"


def _opt(name: str, value: object, kind: int = 3) -> Json:
    return {"name": name, "type": kind, "value": value}


def _buttons(message: Json) -> dict[str, Json]:
    """The message's buttons by label."""
    return {child["label"]: child for row in message["components"] for child in row["components"]}


async def test_ask_is_deferred_then_answered_with_an_embed_citing_the_document(
    fake: FakeDiscord, bot: SamizdatBot
) -> None:
    record = await fake.slash(
        "ask", [_opt("question", "When did the Kuzbass Autonomous Industrial Colony operate?")]
    )
    [reply] = await fake.wait_for_reply(record)

    assert record.callback_type == 5, "the command must defer before answering"
    assert record.deferred_ephemeral is False
    [embed] = reply["embeds"]
    sources = " ".join(field["value"] for field in embed["fields"])
    assert KUZBASS in sources
    assert "`kuzbass:" in sources
    assert "[1]" in embed["description"]
    assert not reply["flags"] & EPHEMERAL
    assert {"Show passages", "Helpful", "Not helpful"} <= set(_buttons(reply))
    assert fake.violations == []


async def test_every_payload_mutes_mentions_so_everyone_is_never_pinged(
    fake: FakeDiscord, bot: SamizdatBot
) -> None:
    question = "@everyone <@400000000000000002> who was Kollontai in the Workers' Opposition?"
    record = await fake.slash("ask", [_opt("question", question)])
    [reply] = await fake.wait_for_reply(record)

    # The question is shown back with its mentions stripped (and muted anyway)…
    assert "Kollontai" in json.dumps(reply) and "@everyone" not in json.dumps(reply)
    sent = [p for p in fake.payloads() if "content" in p or "embeds" in p]
    assert sent, "the bot sent no message"
    assert [p for p in sent if pings_someone(p)] == []  # …but nobody is pinged
    assert all(p["allowed_mentions"] == {"parse": []} for p in sent)


async def test_show_passages_pages_for_the_asker_and_refuses_anyone_else(
    fake: FakeDiscord, bot: SamizdatBot
) -> None:
    record = await fake.slash("ask", [_opt("question", "Who were the Kuzbass colonists?")])
    [answer] = await fake.wait_for_reply(record)
    show = _buttons(answer)["Show passages"]["custom_id"]

    stranger = await fake.click(answer, show, user=fake.other)
    [refusal] = await fake.wait_for_reply(stranger)
    assert refusal["flags"] & EPHEMERAL
    assert "Only the person who asked" in refusal["content"]

    mine = await fake.click(answer, show)
    [pager] = await fake.wait_for_reply(mine)
    assert pager["flags"] & EPHEMERAL
    first_page = pager["embeds"][0]
    assert first_page["footer"]["text"].startswith("Passage 1 of ")

    turn = await fake.click(pager, _buttons(pager)["Next"]["custom_id"])
    await fake.wait_until(lambda: turn.callback_type == 7)
    turned = fake.messages[int(pager["id"])]
    assert turned["embeds"][0]["footer"]["text"].startswith("Passage 2 of ")
    assert turned["embeds"][0]["description"] != first_page["description"]
    assert _buttons(turned)["Previous"].get("disabled") is not True


async def test_feedback_is_stored_with_the_question(
    fake: FakeDiscord, bot: SamizdatBot, app: App
) -> None:
    question = "Who led the Workers' Opposition?"
    record = await fake.slash("ask", [_opt("question", question)])
    [answer] = await fake.wait_for_reply(record)

    vote = await fake.click(answer, _buttons(answer)["Helpful"]["custom_id"], user=fake.other)
    [thanks] = await fake.wait_for_reply(vote)

    assert thanks["flags"] & EPHEMERAL
    assert "Thanks" in thanks["content"]
    with contextlib.closing(sqlite3.connect(app.config.database_path)) as db:
        rows = db.execute("SELECT * FROM feedback").fetchall()
    assert any(question in map(str, row) for row in rows)


async def test_a_disallowed_channel_gets_a_private_notice_and_no_answer(
    fake: FakeDiscord, bot: SamizdatBot, app: App
) -> None:
    where = Where(discord_place(fake.guild_id), str(fake.channel_id))
    await app.store.allow_channel(where.place, str(fake.other_channel_id), "setup")

    record = await fake.slash("ask", [_opt("question", "Who led the Kuzbass colony?")])
    [notice] = await fake.wait_for_reply(record)

    assert notice["flags"] & EPHEMERAL
    assert notice["embeds"] == []
    assert "does not answer in this channel" in notice["content"]
    # Refused before any work, so never deferred: no public "thinking" message to leave behind.
    assert record.callback_type == 4


async def test_thread_answers_open_a_thread_named_after_the_question(
    fake: FakeDiscord, bot: SamizdatBot, app: App
) -> None:
    await app.store.set(discord_place(fake.guild_id), "answer_in_thread", True, "setup")
    question = "When did the Kuzbass colony operate?"
    record = await fake.slash("ask", [_opt("question", question)])
    [answer] = await fake.wait_for_reply(record)
    await fake.wait_until(lambda: any(c.path.endswith("/threads") for c in fake.calls))

    [call] = [c for c in fake.calls if c.path.endswith("/threads")]
    assert call.path == f"/channels/{fake.channel_id}/messages/{answer['id']}/threads"
    assert call.body["name"] == question


async def test_a_mention_with_a_question_is_answered_in_reply_without_pings(
    fake: FakeDiscord, bot: SamizdatBot
) -> None:
    asked = await fake.post_message(
        f"<@{fake.bot_user['id']}> @everyone when did the Kuzbass colony operate?",
        mentions_bot=True,
    )
    await fake.wait_until(lambda: any(c.path.endswith("/messages") for c in fake.calls))

    [call] = [c for c in fake.calls if c.path == f"/channels/{fake.channel_id}/messages"]
    assert str(call.body["message_reference"]["message_id"]) == asked["id"]
    assert call.body["allowed_mentions"] == {"parse": [], "replied_user": False}
    [embed] = call.body["embeds"]
    assert KUZBASS in embed["fields"][0]["value"]
    # Every mention is gone from the question, the bot's and everyone's.
    assert embed["title"] == "when did the Kuzbass colony operate?"
    assert not pings_someone(call.body)


async def test_a_mention_in_a_private_server_points_to_ask_instead(
    fake: FakeDiscord, bot: SamizdatBot, app: App
) -> None:
    await app.store.set(discord_place(fake.guild_id), "visibility", "private", "setup")
    await fake.post_message(
        f"<@{fake.bot_user['id']}> when did the Kuzbass colony operate?", mentions_bot=True
    )
    await fake.wait_until(lambda: any(c.path.endswith("/messages") for c in fake.calls))

    [call] = [c for c in fake.calls if c.path == f"/channels/{fake.channel_id}/messages"]
    assert call.body["content"] == "Answers are private here: ask with the `ask` command."
    assert not call.body.get("embeds")


async def test_mentions_are_ignored_where_the_server_turned_them_off(
    fake: FakeDiscord, bot: SamizdatBot, app: App
) -> None:
    place = discord_place(fake.guild_id)
    await app.store.set(place, "respond_to_mentions", False, "setup")
    await app.store.set(place, "cooldown_seconds", 3600, "setup")
    await fake.post_message(
        f"<@{fake.bot_user['id']}> when did the Kuzbass colony operate?", mentions_bot=True
    )
    # Had the mention been taken as a question, this one would meet the cooldown.
    record = await fake.slash("ask", [_opt("question", "When did the Kuzbass colony operate?")])
    [answer] = await fake.wait_for_reply(record)

    assert answer["embeds"], answer["content"]
    assert not any(c.path.startswith("/channels/") for c in fake.calls)


async def test_messages_that_do_not_mention_the_bot_are_ignored(
    fake: FakeDiscord, bot: SamizdatBot
) -> None:
    await fake.post_message("when did the Kuzbass colony operate?")
    marker = await fake.slash("help")  # handled after the message, in order
    await fake.wait_for_reply(marker)

    assert not any(c.path.startswith("/channels/") for c in fake.calls)


async def test_the_message_menu_asks_about_the_selected_message(
    fake: FakeDiscord, bot: SamizdatBot
) -> None:
    target = await fake.post_message("Who led the Workers' Opposition with Shlyapnikov?")
    record = await fake.message_command("Ask Samizdat", target)
    [answer] = await fake.wait_for_reply(record)

    assert record.callback_type == 5
    [embed] = answer["embeds"]
    assert embed["title"] == target["content"]
    assert "`workers-opposition:" in embed["fields"][0]["value"]


@pytest.mark.parametrize(
    ("typed", "doc_id"),
    [("kuzbass", "kuzbass"), ("bolsheviks turned", "crimethinc-1919"), ("guerin:", "guerin")],
    ids=["id and title", "title only", "id only"],
)
async def test_source_autocomplete_offers_passage_ids_for_an_id_or_a_title(
    fake: FakeDiscord, bot: SamizdatBot, typed: str, doc_id: str
) -> None:
    record = await fake.autocomplete(
        "source", [{"name": "passage", "type": 3, "value": typed, "focused": True}]
    )
    await fake.wait_until(lambda: record.autocomplete is not None)

    choices = record.autocomplete or []
    assert 1 <= len(choices) <= 25
    assert all(c["value"].startswith(f"{doc_id}:") for c in choices)
    assert all(len(c["name"]) <= 100 for c in choices)
    assert record.callback_type == 8


async def test_a_second_question_too_soon_gets_a_private_cooldown_notice(
    fake: FakeDiscord, bot: SamizdatBot, app: App
) -> None:
    await app.store.set(discord_place(fake.guild_id), "cooldown_seconds", 3600, "setup")
    first = await fake.slash("ask", [_opt("question", "Who led the Kuzbass colony?")])
    await fake.wait_for_reply(first)
    second = await fake.slash("ask", [_opt("question", "And when did it end?")])
    [notice] = await fake.wait_for_reply(second)

    assert notice["flags"] & EPHEMERAL
    assert "try again in" in notice["content"]


async def test_search_lists_passages_with_their_ids(fake: FakeDiscord, bot: SamizdatBot) -> None:
    record = await fake.slash("search", [_opt("query", "workers revolution soviet " * 15)])
    replies = await fake.wait_for_reply(record)

    lines = [e["description"] for r in replies for e in r["embeds"]]
    assert sum(text.count("`") for text in lines) >= 2 * 5  # five passage ids
    assert all(call.status < 400 for call in fake.calls)


async def test_library_help_and_about_answer_at_once(fake: FakeDiscord, bot: SamizdatBot) -> None:
    library = await fake.slash("library")
    member_help = await fake.slash("help")
    admin_help = await fake.slash("help", user=fake.admin)
    about = await fake.slash("about")
    # Help is a list and a closing line: two messages, the second maybe not yet arrived.
    [shelf] = await fake.wait_for_reply(library)
    mine = (await fake.wait_for_reply(member_help))[0]
    theirs = (await fake.wait_for_reply(admin_help))[0]
    [facts] = await fake.wait_for_reply(about)

    assert KUZBASS in shelf["embeds"][0]["description"]
    assert "/samizdat" not in mine["embeds"][0]["description"]
    assert "/samizdat settings set" in theirs["embeds"][0]["description"]
    assert mine["flags"] & EPHEMERAL
    assert "Samizdat 0.1.0: 5 documents" in facts["embeds"][0]["description"]
    assert {library.callback_type, member_help.callback_type, about.callback_type} == {4}


async def test_a_passage_longer_than_an_embed_arrives_whole_in_several_messages(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    config = Config(
        data_dir=tmp_path / "long",
        library=LibraryConfig(passage_max_chars=5000),
        # Only the splitting is under test: embedding 5,000-character passages is not.
        retrieval=RetrievalConfig(semantic="off"),
        discord=DiscordConfig(token="fake-token"),
    )
    async with open_app(config) as app, running_bot(fake, app) as bot:
        longest = max(bot.core.engine.library.passages, key=lambda p: len(p.text))
        assert len(longest.text) > 4096, "the library has no passage longer than an embed"
        record = await fake.slash("source", [_opt("passage", longest.id)])
        replies = await fake.wait_for_reply(record, count=2)

    shown = " ".join(e["description"] for r in replies for e in r["embeds"])
    assert shown.split() == longest.text.split()
    assert all(call.status < 400 for call in fake.calls)


async def test_ask_in_direct_messages_answers_with_the_defaults_of_no_server(
    fake: FakeDiscord, bot: SamizdatBot, app: App
) -> None:
    # The server's choices must not leak into direct messages, which have no server.
    place = discord_place(fake.guild_id)
    await app.store.set(place, "visibility", "private", "setup")
    await app.store.set(place, "answer_in_thread", True, "setup")
    question = "When did the Kuzbass Autonomous Industrial Colony operate?"
    record = await fake.slash("ask", [_opt("question", question)], dm=True)
    [answer] = await fake.wait_for_reply(record)

    assert record.callback_type == 5 and record.deferred_ephemeral is False
    assert answer["channel_id"] == str(fake.dm_channel_id)
    [embed] = answer["embeds"]
    assert KUZBASS in embed["fields"][0]["value"]
    assert not any(c.path.endswith("/threads") for c in fake.calls)

    vote = await fake.click(answer, _buttons(answer)["Not helpful"]["custom_id"])
    [thanks] = await fake.wait_for_reply(vote)
    assert thanks["flags"] & EPHEMERAL and "Thanks" in thanks["content"]
    with contextlib.closing(sqlite3.connect(app.config.database_path)) as db:
        rows = db.execute("SELECT place, question, helpful FROM feedback").fetchall()
    assert rows == [("discord:dm", question, 0)]


@pytest.mark.parametrize("visibility", ["public", "private"])
async def test_search_source_and_library_follow_the_place_visibility(
    fake: FakeDiscord, bot: SamizdatBot, app: App, visibility: str
) -> None:
    await app.store.set(discord_place(fake.guild_id), "visibility", visibility, "setup")
    private = visibility == "private"
    search = await fake.slash("search", [_opt("query", "Kuzbass colony")])
    source = await fake.slash("source", [_opt("passage", "kuzbass:1")])
    library = await fake.slash("library")
    [*found] = await fake.wait_for_reply(search)
    [*passage] = await fake.wait_for_reply(source)
    [*shelf] = await fake.wait_for_reply(library)

    assert search.deferred_ephemeral is private and source.deferred_ephemeral is private
    assert library.callback_type == 4
    for message in (*found, *passage, *shelf):
        assert message["embeds"]
        assert bool(message["flags"] & EPHEMERAL) is private


async def test_the_bot_asks_discord_for_no_privileged_intent_by_default(
    fake: FakeDiscord, bot: SamizdatBot
) -> None:
    """Without the Message Content intent, slash commands and mentions still work."""
    [identify] = fake.identifies
    message_content, members, presences = 1 << 15, 1 << 1, 1 << 8
    assert identify["intents"] & (message_content | members | presences) == 0
    assert identify["intents"] & (1 << 9)  # server messages, so mentions reach the bot

    await fake.post_message(
        f"<@{fake.bot_user['id']}> when did the Kuzbass colony operate?", mentions_bot=True
    )
    await fake.wait_until(lambda: any(c.path.endswith("/messages") for c in fake.calls))
    [call] = [c for c in fake.calls if c.path == f"/channels/{fake.channel_id}/messages"]
    assert KUZBASS in call.body["embeds"][0]["fields"][0]["value"]


async def test_a_server_that_switched_the_bot_off_gets_private_notices_and_no_answers(
    fake: FakeDiscord, bot: SamizdatBot, app: App
) -> None:
    await app.store.set(discord_place(fake.guild_id), "enabled", False, "setup")
    await fake.post_message(
        f"<@{fake.bot_user['id']}> when did the Kuzbass colony operate?", mentions_bot=True
    )
    asked = await fake.slash("ask", [_opt("question", "When did the Kuzbass colony operate?")])
    searched = await fake.slash("search", [_opt("query", "Kuzbass")])
    notices = [*await fake.wait_for_reply(asked), *await fake.wait_for_reply(searched)]

    for notice in notices:
        assert notice["flags"] & EPHEMERAL and notice["embeds"] == []
        assert notice["content"] == "The bot is switched off here."
    assert not any(c.path.startswith("/channels/") for c in fake.calls), "the mention is ignored"


ZARYA = (
    "The *Zarya* printing cooperative was founded in 1921 by typesetters in Petrograd. "
    "Its members called their hand press ||the old mare|| and signed leaflets as ~~Iskra~~ "
    "Zarya_2, a joke about the `old` paper. Every member set type for two hours a day."
)


async def test_library_text_reaches_discord_literally_with_its_caveat(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    shelf = tmp_path / "shelf"
    shelf.mkdir()
    (shelf / "zarya.txt").write_text(ZARYA + "\n", encoding="utf-8")
    (shelf / "catalogue.toml").write_text(
        '[[document]]\nid = "zarya"\nfile = "zarya.txt"\ntitle = "The _Zarya_ Story"\n'
        'format = "text"\nsatire = "A parody: its claims are jokes."\n',
        encoding="utf-8",
    )
    config = Config(
        data_dir=tmp_path / "data",
        library=LibraryConfig(path=shelf),
        discord=DiscordConfig(token="fake-token"),
    )
    async with open_app(config) as app, running_bot(fake, app):
        record = await fake.slash(
            "ask", [_opt("question", "When was the Zarya printing cooperative founded?")]
        )
        [answer] = await fake.wait_for_reply(record)

    [embed] = answer["embeds"]
    assert embed["description"].startswith(
        r"The \*Zarya\* printing cooperative was founded in 1921"
    )
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields["Sources"].startswith(r"**[1]** *The \_Zarya\_ Story*")
    assert "A parody" in fields["Read with care"]
