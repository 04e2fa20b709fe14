"""When Discord misbehaves: dropped gateways, rate limits, refused requests, late clicks."""

from __future__ import annotations

import copy
import logging

import pytest
from discord_harness import running_bot
from fake_discord import EPHEMERAL, FakeDiscord, Json
from pydantic import ValidationError

from bot.answers.engine import AnswerEngine
from bot.app import App, open_app
from bot.config import Config, DiscordConfig
from bot.core.present import APOLOGY, OUT_OF_DATE
from bot.core.present import EXPIRED_BUTTON as EXPIRED
from bot.discord_bot.client import SamizdatBot

pytestmark = pytest.mark.timeout(30)

FOLLOW_UP = r"/webhooks/\d+/[^/]+"


def _ask(question: str) -> list[Json]:
    return [{"name": "question", "type": 3, "value": question}]


def _buttons(message: Json) -> dict[str, Json]:
    return {child["label"]: child for row in message["components"] for child in row["components"]}


@pytest.mark.parametrize("how", ["close 4000", "close 1001", "op 7 reconnect"])
async def test_the_bot_resumes_after_the_gateway_drops_and_misses_nothing(
    fake: FakeDiscord, bot: SamizdatBot, how: str
) -> None:
    seen_before = fake.dispatched
    if how == "op 7 reconnect":
        await fake.request_reconnect()
    else:
        await fake.drop_connection(int(how.split()[1]))
    await fake.wait_until(lambda: fake.resumes != [])
    # Sent while the bot may still be reconnecting: delivered live or replayed on RESUME.
    record = await fake.slash("ask", _ask("When did the Kuzbass colony operate?"))
    [answer] = await fake.wait_for_reply(record)

    [resume] = fake.resumes
    assert resume["session_id"] == "fake-session-1"
    assert resume["seq"] == seen_before
    assert len(fake.identifies) == 1, "the bot must resume, not start a new session"
    assert answer["embeds"]


async def test_an_event_sent_while_disconnected_is_replayed_on_resume(
    fake: FakeDiscord, bot: SamizdatBot
) -> None:
    fake.hold_connections()
    await fake.drop_connection(4000)
    record = await fake.slash("ask", _ask("Who led the Workers' Opposition?"))
    fake.release_connections()
    [answer] = await fake.wait_for_reply(record)

    assert fake.replayed == ["INTERACTION_CREATE"]
    assert answer["embeds"]


async def test_a_rate_limited_follow_up_waits_retry_after_and_arrives(
    fake: FakeDiscord, bot: SamizdatBot
) -> None:
    fake.rate_limit_next("POST", FOLLOW_UP, retry_after=0.3)
    record = await fake.slash("ask", _ask("When did the Kuzbass colony operate?"))
    [answer] = await fake.wait_for_reply(record)

    statuses = [c.status for c in fake.calls if c.method == "POST" and "/webhooks/" in c.path]
    assert statuses == [429, 200]
    assert answer["embeds"]
    # The server records a retry made before retry_after ended as a violation.
    assert fake.violations == []


async def test_a_429_without_a_via_header_is_waited_out_like_any_other(
    fake: FakeDiscord, bot: SamizdatBot
) -> None:
    # discord.py raises such a 429 at once (it takes it for a Cloudflare ban).
    fake.rate_limit_next("POST", FOLLOW_UP, retry_after=0.3, via=False)
    fake.rate_limit_next("POST", r"/channels/\d+/messages", retry_after=0.3, via=False)
    record = await fake.slash("ask", _ask("When did the Kuzbass colony operate?"))
    [answer] = await fake.wait_for_reply(record)
    statuses = [c.status for c in fake.calls if c.method == "POST" and "/webhooks/" in c.path]
    assert statuses == [429, 200]
    assert answer["embeds"] and APOLOGY not in str(answer)

    asked = await fake.post_message(
        f"<@{fake.bot_user['id']}> when did the Kuzbass colony operate?", mentions_bot=True
    )
    await fake.wait_until(
        lambda: [c.status for c in fake.calls if c.path.endswith("/messages")] == [429, 200]
    )
    assert asked["id"]
    assert fake.violations == []


async def test_a_429_without_a_via_header_on_a_button_is_waited_out_too(
    fake: FakeDiscord, bot: SamizdatBot
) -> None:
    record = await fake.slash("ask", _ask("When did the Kuzbass colony operate?"))
    [answer] = await fake.wait_for_reply(record)
    fake.rate_limit_next("POST", r"/interactions/\d+/[^/]+/callback", retry_after=0.3, via=False)
    click = await fake.click(answer, _buttons(answer)["Show passages"]["custom_id"])
    [pages] = await fake.wait_for_reply(click)
    assert pages["flags"] & EPHEMERAL and pages["embeds"]
    statuses = [c.status for c in fake.calls if c.path.endswith("/callback")]
    assert statuses[-2:] == [429, 200]


async def test_an_unexpected_error_is_logged_and_the_user_gets_an_apology(
    fake: FakeDiscord, bot: SamizdatBot, caplog: pytest.LogCaptureFixture
) -> None:
    fake.fail_next("POST", FOLLOW_UP, status=403)
    with caplog.at_level(logging.ERROR, logger="bot.discord_bot"):
        record = await fake.slash("ask", _ask("When did the Kuzbass colony operate?"))
        await fake.wait_until(
            lambda: any(r.get("content") == APOLOGY for r in fake.replies(record))
        )

    [apology] = fake.replies(record)
    assert apology["flags"] & EPHEMERAL
    assert fake.messages[record.original_id or 0].get("_deleted")
    [logged] = [r for r in caplog.records if r.name.startswith("bot.discord_bot")]
    assert logged.exc_info is not None and "/ask" in logged.getMessage()


async def test_a_failed_mention_answer_is_logged_and_apologised_for(
    fake: FakeDiscord, bot: SamizdatBot, caplog: pytest.LogCaptureFixture
) -> None:
    fake.fail_next("POST", rf"/channels/{fake.channel_id}/messages", status=403)
    with caplog.at_level(logging.ERROR, logger="bot.discord_bot"):
        await fake.post_message(
            f"<@{fake.bot_user['id']}> when did the Kuzbass colony operate?", mentions_bot=True
        )
        await fake.wait_until(lambda: len([c for c in fake.calls if c.method == "POST"]) == 2)

    first, second = [c for c in fake.calls if c.method == "POST"]
    assert first.status == 403 and first.body["embeds"]
    assert second.status == 200 and second.body["content"] == APOLOGY
    assert any(r.exc_info for r in caplog.records if r.name.startswith("bot.discord_bot"))


async def test_a_refused_thread_leaves_the_answer_in_place(
    fake: FakeDiscord, bot: SamizdatBot, app: App
) -> None:
    await app.store.set(f"discord:{fake.guild_id}", "answer_in_thread", True, "setup")
    fake.fail_next("POST", r"/channels/\d+/messages/\d+/threads", status=403)
    record = await fake.slash("ask", _ask("When did the Kuzbass colony operate?"))
    [answer] = await fake.wait_for_reply(record)
    await fake.wait_until(lambda: any("threads" in c.path for c in fake.calls))

    assert answer["embeds"]
    assert not fake.messages[int(answer["id"])].get("_deleted")


async def test_buttons_are_disabled_when_the_view_times_out(
    fake: FakeDiscord, tmp_path_factory: pytest.TempPathFactory, engine: AnswerEngine
) -> None:
    config = Config(
        data_dir=tmp_path_factory.mktemp("short-views"),
        discord=DiscordConfig(token="fake-token", view_timeout_seconds=0.2),
    )
    async with open_app(config, engine=engine) as app, running_bot(fake, app):
        record = await fake.slash("ask", _ask("When did the Kuzbass colony operate?"))
        [answer] = await fake.wait_for_reply(record)
        message = fake.messages[int(answer["id"])]

        def all_disabled() -> bool:
            buttons = [b for row in message["components"] for b in row["components"]]
            return bool(buttons) and all(b.get("disabled") for b in buttons)

        await fake.wait_until(all_disabled)

    assert answer["embeds"] == message["embeds"], "disabling buttons must keep the answer"


async def test_clicks_never_keep_buttons_alive_past_the_interaction_token(
    fake: FakeDiscord, tmp_path_factory: pytest.TempPathFactory, engine: AnswerEngine
) -> None:
    # Views idle for 10 minutes, but the reply stops being editable 1.5 s after the command
    # (Discord's 15 minutes, shortened): the buttons are disabled through the token in time,
    # however often they are clicked meanwhile.
    config = Config(
        data_dir=tmp_path_factory.mktemp("token-life"),
        discord=DiscordConfig(token="fake-token", view_timeout_seconds=600),
    )
    async with (
        open_app(config, engine=engine) as app,
        running_bot(fake, app, reply_editable_seconds=1.5),
    ):
        record = await fake.slash("ask", _ask("When did the Kuzbass colony operate?"))
        [answer] = await fake.wait_for_reply(record)
        message = fake.messages[int(answer["id"])]
        vote = await fake.click(answer, _buttons(answer)["Helpful"]["custom_id"])
        await fake.wait_for_reply(vote)

        def all_disabled() -> bool:
            buttons = [b for row in message["components"] for b in row["components"]]
            return bool(buttons) and all(b.get("disabled") for b in buttons)

        await fake.wait_until(all_disabled)


def test_a_view_timeout_past_the_token_life_is_refused() -> None:
    with pytest.raises(ValidationError, match="less than 900"):
        DiscordConfig(view_timeout_seconds=1200)
    assert DiscordConfig(view_timeout_seconds=899).view_timeout_seconds == 899


async def test_the_fake_discord_catches_a_late_acknowledgement(
    tmp_path_factory: pytest.TempPathFactory, engine: AnswerEngine
) -> None:
    """The deadline check is real: an acknowledgement after it is refused and recorded."""
    config = Config(data_dir=tmp_path_factory.mktemp("late"), discord=DiscordConfig())
    async with FakeDiscord(ack_deadline=0.0) as fake, open_app(config, engine=engine) as app:
        async with running_bot(fake, app):
            record = await fake.slash("help")
            await fake.wait_until(lambda: fake.violations != [])
        fake.violations.clear()  # expected here; the fixture would fail on them
    assert record.callbacks == []
    late = [c.status for c in fake.calls if c.path.endswith("/callback")]
    assert late and set(late) == {404}


async def test_an_expired_interaction_is_one_warning_line_not_a_traceback(
    tmp_path_factory: pytest.TempPathFactory,
    engine: AnswerEngine,
    caplog: pytest.LogCaptureFixture,
) -> None:
    config = Config(data_dir=tmp_path_factory.mktemp("expired"), discord=DiscordConfig())
    async with FakeDiscord(ack_deadline=0.0) as fake, open_app(config, engine=engine) as app:
        with caplog.at_level(logging.WARNING, logger="bot.discord_bot"):
            async with running_bot(fake, app):
                await fake.slash("ask", _ask("When did the Kuzbass colony operate?"))
                await fake.wait_until(lambda: fake.violations != [])
                await fake.wait_until(
                    lambda: any("expired" in r.getMessage() for r in caplog.records)
                )
        fake.violations.clear()  # expected here; the fixture would fail on them
    ours = [r for r in caplog.records if r.name.startswith("bot.discord_bot")]
    assert [r.getMessage() for r in ours if "expired" in r.getMessage()] == [
        "/ask: the interaction expired before the bot acknowledged it (Discord 10062)"
    ]
    assert not any(r.exc_info for r in ours)
    assert not any(r.levelno >= logging.ERROR for r in ours)


async def test_buttons_from_before_a_restart_still_work(fake: FakeDiscord, app: App) -> None:
    """Each button names its kept answer, so a bot with nothing in memory answers it."""
    async with running_bot(fake, app):
        record = await fake.slash("ask", _ask("When did the Kuzbass colony operate?"))
        [answer] = await fake.wait_for_reply(record)
        show = _buttons(answer)["Show passages"]["custom_id"]
        pager = await fake.click(answer, show)
        [pages] = await fake.wait_for_reply(pager)
        first_page = copy.deepcopy(pages["embeds"])  # the fake edits its messages in place

    async with running_bot(fake, app):  # the restarted bot has no views in memory
        again = await fake.click(answer, show)
        vote = await fake.click(answer, _buttons(answer)["Helpful"]["custom_id"], user=fake.other)
        turn = await fake.click(pages, _buttons(pages)["Next"]["custom_id"])
        [reopened] = await fake.wait_for_reply(again)
        [thanks] = await fake.wait_for_reply(vote)
        await fake.wait_until(lambda: turn.callback_type == 7)

    assert len(fake.identifies) == 2
    assert reopened["flags"] & EPHEMERAL and reopened["embeds"] == first_page
    assert "Thanks" in thanks["content"]
    turned = fake.messages[int(pages["id"])]
    assert turned["embeds"][0]["footer"]["text"].startswith("Passage 2 of ")


async def test_a_button_whose_answer_was_forgotten_says_it_expired(
    fake: FakeDiscord, bot: SamizdatBot, app: App
) -> None:
    record = await fake.slash("ask", _ask("When did the Kuzbass colony operate?"))
    [answer] = await fake.wait_for_reply(record)
    assert await app.activity.forget_user(str(fake.member.id)) >= 1
    click = await fake.click(answer, _buttons(answer)["Show passages"]["custom_id"])
    [notice] = await fake.wait_for_reply(click)
    assert notice["flags"] & EPHEMERAL and notice["content"] == EXPIRED


async def test_live_buttons_are_not_mistaken_for_expired_ones(
    fake: FakeDiscord, bot: SamizdatBot
) -> None:
    record = await fake.slash("ask", _ask("When did the Kuzbass colony operate?"))
    [answer] = await fake.wait_for_reply(record)
    vote = await fake.click(answer, _buttons(answer)["Not helpful"]["custom_id"])
    [thanks] = await fake.wait_for_reply(vote)
    marker = await fake.slash("help")  # dispatched after the click, so handled after it
    await fake.wait_for_reply(marker)

    assert [r["content"] for r in fake.replies(vote)] == [thanks["content"]]
    assert EXPIRED not in thanks["content"]
    assert len(vote.callbacks) == 1


async def test_a_command_discord_knows_but_the_bot_does_not_gets_a_private_notice(
    fake: FakeDiscord, bot: SamizdatBot, caplog: pytest.LogCaptureFixture
) -> None:
    """What users meet between an upgrade that drops a command and the next sync."""
    with caplog.at_level(logging.WARNING, logger="bot.discord_bot"):
        record = await fake.slash("quote", _ask("Who was Kollontai?"))
        [notice] = await fake.wait_for_reply(record)

    assert notice["flags"] & EPHEMERAL and notice["content"] == OUT_OF_DATE
    [warning] = [r for r in caplog.records if r.name.startswith("bot.discord_bot")]
    assert warning.levelno == logging.WARNING and "samizdat discord sync" in warning.getMessage()
    assert warning.exc_info is None


async def test_a_failing_button_is_logged_and_the_user_gets_an_apology(
    fake: FakeDiscord, bot: SamizdatBot, caplog: pytest.LogCaptureFixture
) -> None:
    record = await fake.slash("ask", _ask("When did the Kuzbass colony operate?"))
    [answer] = await fake.wait_for_reply(record)
    fake.fail_next("POST", FOLLOW_UP, status=403)  # the "thanks" after the vote is refused
    with caplog.at_level(logging.ERROR, logger="bot.discord_bot"):
        vote = await fake.click(answer, _buttons(answer)["Helpful"]["custom_id"])
        [apology] = await fake.wait_for_reply(vote)

    assert apology["flags"] & EPHEMERAL and apology["content"] == APOLOGY
    [logged] = [r for r in caplog.records if r.name.startswith("bot.discord_bot")]
    assert logged.exc_info is not None and "Helpful" in logged.getMessage()
