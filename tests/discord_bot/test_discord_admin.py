"""The /samizdat admin group: refused without Manage Server, applied and kept with it."""

from __future__ import annotations

import pytest
from fake_discord import EPHEMERAL, FakeDiscord, Json

from bot.answers.engine import AnswerEngine
from bot.app import App, open_app
from bot.core.places import Caller, Where, discord_place
from bot.core.settings import ServerSettings, Visibility
from bot.discord_bot.client import SamizdatBot
from bot.discord_bot.run import sync_commands

pytestmark = pytest.mark.timeout(30)


def _admin(group: str | None, command: str, **options: object) -> list[Json]:
    """The options of `/samizdat [group] command ...` in Discord's nested shape."""
    leaf: Json = {
        "name": command,
        "type": 1,
        "options": [
            {"name": k, "type": 7 if k == "channel" else 3, "value": v} for k, v in options.items()
        ],
    }
    return [{"name": group, "type": 2, "options": [leaf]}] if group else [leaf]


def _where(fake: FakeDiscord) -> Where:
    return Where(discord_place(fake.guild_id), str(fake.channel_id))


async def test_a_member_without_manage_server_is_refused_and_nothing_changes(
    fake: FakeDiscord, bot: SamizdatBot, app: App
) -> None:
    record = await fake.slash(
        "samizdat", _admin("settings", "set", name="visibility", value="private")
    )
    [refusal] = await fake.wait_for_reply(record)

    assert record.callback_type == 4
    assert refusal["flags"] & EPHEMERAL
    assert "Manage Server" in refusal["content"]
    assert await app.store.get(_where(fake).place) == ServerSettings()


async def test_an_admin_change_is_applied_persisted_and_used(
    fake: FakeDiscord, bot: SamizdatBot, app: App, engine: AnswerEngine
) -> None:
    record = await fake.slash(
        "samizdat", _admin("settings", "set", name="visibility", value="private"), user=fake.admin
    )
    [confirmation] = await fake.wait_for_reply(record)

    assert confirmation["flags"] & EPHEMERAL
    assert "`visibility` is now private" in confirmation["content"]
    async with open_app(app.config, engine=engine) as reopened:
        stored = await reopened.store.get(_where(fake).place)
    assert stored.visibility is Visibility.PRIVATE

    question = await fake.slash(
        "ask", [{"name": "question", "type": 3, "value": "Who led the Workers' Opposition?"}]
    )
    [answer] = await fake.wait_for_reply(question)
    assert question.deferred_ephemeral is True
    assert answer["flags"] & EPHEMERAL and answer["embeds"]


async def test_settings_show_lists_values_and_who_changed_them(
    fake: FakeDiscord, bot: SamizdatBot, app: App
) -> None:
    admin = Caller(user_id=str(fake.admin.id), is_admin=True)
    await app.core.settings_set(admin, _where(fake), "sources_shown", "2")
    record = await fake.slash("samizdat", _admin("settings", "show"), user=fake.admin)
    [shown] = await fake.wait_for_reply(record)

    assert shown["flags"] & EPHEMERAL
    [embed] = shown["embeds"]
    assert "`sources_shown`: 2" in embed["description"]
    assert any("sources_shown" in field["value"] for field in embed["fields"])


async def test_channels_allow_limits_answers_to_the_chosen_channel(
    fake: FakeDiscord, bot: SamizdatBot, app: App
) -> None:
    record = await fake.slash(
        "samizdat",
        _admin("channels", "allow", channel=str(fake.other_channel_id)),
        user=fake.admin,
        resolved=fake.resolved_channel(fake.other_channel_id),
    )
    [confirmation] = await fake.wait_for_reply(record)
    assert str(fake.other_channel_id) in confirmation["content"]
    settings = await app.store.get(_where(fake).place)
    assert settings.allowed_channels == (str(fake.other_channel_id),)

    here = await fake.slash("ask", [{"name": "question", "type": 3, "value": "Kuzbass?"}])
    [notice] = await fake.wait_for_reply(here)
    assert notice["flags"] & EPHEMERAL and "does not answer in this channel" in notice["content"]

    there = await fake.slash(
        "ask",
        [{"name": "question", "type": 3, "value": "When did the Kuzbass colony operate?"}],
        channel_id=fake.other_channel_id,
        user=fake.other,
    )
    [answer] = await fake.wait_for_reply(there)
    assert answer["embeds"] and not answer["flags"] & EPHEMERAL


async def test_unanswered_lists_what_the_library_could_not_answer(
    fake: FakeDiscord, bot: SamizdatBot
) -> None:
    odd = "Which team won the football world cup on the moon?"
    asked = await fake.slash("ask", [{"name": "question", "type": 3, "value": odd}])
    [declined] = await fake.wait_for_reply(asked)
    assert "Sources" not in [f["name"] for f in declined["embeds"][0]["fields"]]

    record = await fake.slash(
        "samizdat", [{"name": "unanswered", "type": 1, "options": []}], user=fake.admin
    )
    [listing] = await fake.wait_for_reply(record)
    assert listing["flags"] & EPHEMERAL
    shown = listing["content"] + " ".join(e["description"] for e in listing["embeds"])
    assert odd in shown


async def test_sync_publishes_the_admin_group_as_guild_only_for_manage_server(
    fake: FakeDiscord, app: App
) -> None:
    names = await sync_commands(app.config, guild_id=None)

    path = f"/applications/{fake.application_id}/commands"
    published = {c["name"]: c for c in fake.commands[path]}
    assert (
        {
            "ask",
            "search",
            "source",
            "library",
            "help",
            "about",
            "forget",
            "samizdat",
            "Ask Samizdat",
        }
        == set(published)
        == set(names)
    )
    admin = published["samizdat"]
    assert int(admin["default_member_permissions"]) == 1 << 5  # Manage Server
    assert admin["dm_permission"] is False
    assert {o["name"] for o in admin["options"]} == {
        "settings",
        "channels",
        "unanswered",
        "forget",
        "library",
    }
    assert published["Ask Samizdat"]["type"] == 3
    assert published["ask"]["options"][0]["description"]  # every option is described


async def test_sync_to_one_server_publishes_there_only(fake: FakeDiscord, app: App) -> None:
    names = await sync_commands(app.config, guild_id=fake.guild_id)

    path = f"/applications/{fake.application_id}/guilds/{fake.guild_id}/commands"
    assert {c["name"] for c in fake.commands[path]} == set(names)
    assert "samizdat" in names
    assert [(c.method, c.path) for c in fake.calls if "commands" in c.path] == [("PUT", path)]


async def test_admin_commands_are_refused_in_direct_messages(
    fake: FakeDiscord, bot: SamizdatBot, app: App
) -> None:
    record = await fake.slash(
        "samizdat", _admin("settings", "set", name="visibility", value="private"), dm=True
    )
    [refusal] = await fake.wait_for_reply(record)

    assert record.callback_type == 4
    assert refusal["flags"] & EPHEMERAL
    assert refusal["content"] == "That command works only in a server."
    assert await app.store.get("discord:dm") == ServerSettings()


async def test_reset_deny_and_clear_change_the_stored_settings(
    fake: FakeDiscord, bot: SamizdatBot, app: App
) -> None:
    async def run(group: str, command: str, **options: object) -> str:
        resolved = fake.resolved_channel(fake.channel_id) if "channel" in options else None
        record = await fake.slash(
            "samizdat", _admin(group, command, **options), user=fake.admin, resolved=resolved
        )
        [reply] = await fake.wait_for_reply(record)
        assert reply["flags"] & EPHEMERAL
        return str(reply["content"])

    await run("settings", "set", name="sources_shown", value="1")
    assert (await app.store.get(_where(fake).place)).sources_shown == 1
    assert "sources_shown" in await run("settings", "reset", name="sources_shown")
    assert (await app.store.get(_where(fake).place)).sources_shown == 3

    await run("channels", "deny", channel=str(fake.channel_id))
    assert (await app.store.get(_where(fake).place)).denied_channels == (str(fake.channel_id),)
    await run("channels", "clear")
    assert (await app.store.get(_where(fake).place)).denied_channels == ()
