"""The command core through its public calls, on a real SQLite file."""

import sys
from collections.abc import Awaitable
from types import FrameType
from typing import TypeVar

from bot.answers.engine import AnswerEngine
from bot.app import App, open_app
from bot.config import Config, LimitsConfig
from bot.core.admin import MAX_SHOWN_VALUE
from bot.core.commands import Core
from bot.core.limits import RateLimiter
from bot.core.places import Caller, Where
from bot.core.replies import (
    AnswerReply,
    Confirmation,
    HelpReply,
    LibraryReply,
    PassageView,
    Refusal,
    RefusalReason,
    SearchReply,
    SettingsReply,
    UnansweredReply,
)
from bot.core.requests import Feedback, Typed
from bot.core.settings import ServerSettings

ADMIN = Caller("admin-1", is_admin=True)
MEMBER = Caller("member-1", is_admin=False)
GUILD = Where("discord:1", channel="100")

T = TypeVar("T")


async def calls_during(work: Awaitable[T]) -> tuple[T, int]:
    """The result of `work`, and how many functions (Python or C) this thread called meanwhile.

    A count, not a time: work done per character of a long line shows up as hundreds of
    thousands of calls, whatever the machine's speed.
    """
    calls = 0

    def profile(frame: FrameType, event: str, arg: object) -> None:
        nonlocal calls
        if event in {"call", "c_call"}:
            calls += 1

    sys.setprofile(profile)
    try:
        result = await work
    finally:
        sys.setprofile(None)
    return result, calls


async def test_unknown_place_reads_defaults_and_writes_nothing(console_app: App) -> None:
    assert await console_app.store.get("discord:999") == ServerSettings()
    assert await console_app.store.recent_changes("discord:999") == []


async def test_set_show_reset_round_trip_with_audit(console_app: App) -> None:
    core = console_app.core
    reply = await core.settings_set(ADMIN, GUILD, "sources_shown", "4")
    assert isinstance(reply, Confirmation) and "now 4" in reply.message
    shown = await core.settings_show(ADMIN, GUILD)
    assert isinstance(shown, SettingsReply)
    assert shown.values["sources_shown"] == "4"
    change = shown.recent_changes[0]
    assert (change.user_id, change.setting, change.old_value, change.new_value) == (
        "admin-1",
        "sources_shown",
        "3",
        "4",
    )
    await core.settings_reset(ADMIN, GUILD, "sources_shown")
    assert (await console_app.store.get(GUILD.place)).sources_shown == 3


async def test_invalid_values_are_refused_naming_the_allowed_ones(console_app: App) -> None:
    core = console_app.core
    bad = await core.settings_set(ADMIN, GUILD, "answer_length", "epic")
    assert isinstance(bad, Refusal) and bad.reason is RefusalReason.INVALID
    assert "brief, detailed" in bad.message
    unknown = await core.settings_set(ADMIN, GUILD, "colour", "red")
    assert isinstance(unknown, Refusal) and "sources_shown" in unknown.message
    assert await console_app.store.get(GUILD.place) == ServerSettings()


async def test_non_admin_is_refused_and_nothing_is_written(console_app: App) -> None:
    core = console_app.core
    for reply in [
        await core.settings_set(MEMBER, GUILD, "enabled", "off"),
        await core.settings_reset(MEMBER, GUILD, None),
        await core.channels(MEMBER, GUILD, "deny", "100"),
        await core.settings_show(MEMBER, GUILD),
        await core.unanswered(MEMBER, GUILD),
    ]:
        assert isinstance(reply, Refusal) and reply.reason is RefusalReason.NOT_ADMIN
    assert await console_app.store.get(GUILD.place) == ServerSettings()
    assert await console_app.store.recent_changes(GUILD.place) == []


async def test_channels_and_disabling_gate_questions(console_app: App) -> None:
    core = console_app.core
    await core.channels(ADMIN, GUILD, "allow", "200")
    refused = await core.ask("who was kollontai", MEMBER, GUILD)
    assert isinstance(refused, Refusal) and refused.reason is RefusalReason.CHANNEL
    allowed = await core.ask("who was kollontai", MEMBER, Where("discord:1", channel="200"))
    assert isinstance(allowed, AnswerReply)
    await core.channels(ADMIN, GUILD, "clear", None)
    await core.settings_set(ADMIN, GUILD, "enabled", "off")
    off = await core.ask("who was kollontai", MEMBER, Where("discord:1", channel="200"))
    assert isinstance(off, Refusal) and off.reason is RefusalReason.DISABLED


async def test_settings_survive_a_restart(tmp_config: Config, bundled_engine: AnswerEngine) -> None:
    async with open_app(tmp_config, engine=bundled_engine) as app:
        await app.core.settings_set(ADMIN, GUILD, "answer_length", "detailed")
    async with open_app(tmp_config, engine=bundled_engine) as app:
        assert (await app.store.get(GUILD.place)).answer_length.value == "detailed"


async def test_declined_questions_are_listed_for_curators_without_askers(
    console_app: App,
) -> None:
    core = console_app.core
    reply = await core.ask("what caused the wall street crash of 1929", MEMBER, GUILD)
    assert isinstance(reply, AnswerReply) and not reply.answer.answered
    listed = await core.unanswered(ADMIN, GUILD)
    assert isinstance(listed, UnansweredReply)
    assert [i.question for i in listed.items] == ["what caused the wall street crash of 1929"]
    assert listed.items[0].user_id is None
    with_askers = await core.unanswered(ADMIN, GUILD, show_askers=True)
    assert isinstance(with_askers, UnansweredReply)
    assert with_askers.items[0].user_id == "member-1"


async def test_cooldown_and_place_budget_say_when_to_retry(
    tmp_config: Config, bundled_engine: AnswerEngine
) -> None:
    now = [1000.0]
    async with open_app(tmp_config, engine=bundled_engine) as app:
        core = Core(
            bundled_engine,
            app.store,
            app.activity,
            LimitsConfig(place_questions_per_minute=2),
            rate_limiter=RateLimiter(2, clock=lambda: now[0]),
        )
        assert isinstance(await core.ask("kronstadt sailors", MEMBER, GUILD), AnswerReply)
        slow = await core.ask("kronstadt sailors", MEMBER, GUILD)
        assert isinstance(slow, Refusal) and slow.reason is RefusalReason.COOLDOWN
        assert "try again in 5 s" in slow.message
        now[0] += 6
        other = Caller("member-2")
        assert isinstance(await core.ask("kronstadt", other, GUILD), AnswerReply)
        busy = await core.ask("kronstadt", Caller("member-3"), GUILD)
        assert isinstance(busy, Refusal) and busy.reason is RefusalReason.BUSY
        assert isinstance(await core.ask("kronstadt", ADMIN, GUILD), AnswerReply)


async def test_a_revised_question_skips_the_cooldown_but_not_the_place_budget(
    tmp_config: Config, bundled_engine: AnswerEngine
) -> None:
    async with open_app(tmp_config, engine=bundled_engine) as app:
        core = Core(
            bundled_engine,
            app.store,
            app.activity,
            LimitsConfig(place_questions_per_minute=2),
            rate_limiter=RateLimiter(2, clock=lambda: 1000.0),
        )
        ask = Typed("!ask kronstadt sailors")
        assert isinstance(await core.handle(ask, MEMBER, GUILD), AnswerReply)
        # Fixing a typo at once (an edited question) is answered, not told to slow down.
        revised = await core.handle(ask, MEMBER, GUILD, revising=True)
        assert isinstance(revised, AnswerReply)
        busy = await core.handle(ask, MEMBER, GUILD, revising=True)
        assert isinstance(busy, Refusal) and busy.reason is RefusalReason.BUSY


async def test_mentions_of_people_roles_and_places_do_not_change_the_answer(
    console_app: App,
) -> None:
    core = console_app.core
    plain = await core.ask("when did the Kuzbass colony operate?", ADMIN, GUILD)
    assert isinstance(plain, AnswerReply) and plain.answer.answered
    for noisy in (
        "@everyone <@123> when did the Kuzbass colony operate? <@&45> <#789> @here",
        "@alice:example.org when did the Kuzbass colony operate, #history:example.org?",
    ):
        reply = await core.ask(noisy, ADMIN, GUILD)
        assert isinstance(reply, AnswerReply), noisy
        assert reply.answer.answered and reply.answer.text == plain.answer.text, noisy
    only_pings = await core.ask("<@123> @everyone", ADMIN, GUILD)
    assert isinstance(only_pings, Refusal) and only_pings.reason is RefusalReason.EMPTY


async def test_bad_input_gets_short_clear_replies(console_app: App) -> None:
    core = console_app.core
    cases = {
        "": RefusalReason.EMPTY,
        "   \t\n ": RefusalReason.EMPTY,
        "🙂🙂🙂 ?!": RefusalReason.EMPTY,
        "x" * 20_000: RefusalReason.TOO_LONG,
    }
    for text, reason in cases.items():
        reply = await core.ask(text, ADMIN, GUILD)
        assert isinstance(reply, Refusal) and reply.reason is reason
        assert len(reply.message) < 200
    controls = await core.ask("who\x00 led\x1b[31m the kronstadt\u202e revolt", ADMIN, GUILD)
    assert isinstance(controls, AnswerReply)
    assert "\x00" not in controls.answer.question and "\u202e" not in controls.answer.question
    # Off topic in Russian: declined, with a hint that the library is in English.
    russian = await core.ask("Какая столица Франции?", ADMIN, GUILD)
    assert isinstance(russian, AnswerReply) and not russian.answer.answered
    assert "English" in russian.answer.text
    missing = await core.source("nope:99", ADMIN, GUILD)
    assert isinstance(missing, Refusal) and missing.reason is RefusalReason.NOT_FOUND


async def test_search_source_and_library(console_app: App) -> None:
    core = console_app.core
    found = await core.search("kronstadt sailors", ADMIN, GUILD)
    assert isinstance(found, SearchReply) and len(found.hits) == 5
    view = await core.source(found.hits[0].passage_id, ADMIN, GUILD)
    assert isinstance(view, PassageView)
    assert view.text == found.hits[0].text
    first = await core.source("kuzbass:1", ADMIN, GUILD)
    assert isinstance(first, PassageView) and first.previous_id is None
    assert first.next_id == "kuzbass:2"
    library = await core.library(ADMIN, GUILD)
    assert isinstance(library, LibraryReply)
    assert sum(d.passages for d in library.documents) == core.about().passages
    assert core.complete_passage("kuzbass:1")[0][0] == "kuzbass:1"
    assert all(pid.startswith("guerin:") for pid, _ in core.complete_passage("anarchism", 5))


def test_help_hides_admin_commands_from_members(console_app: App) -> None:
    member_help = {c.name for c in console_app.core.help(MEMBER, GUILD).commands}
    admin_help = {c.name for c in console_app.core.help(ADMIN, GUILD).commands}
    assert {"ask", "search", "source", "library", "help", "about"} <= member_help
    assert not member_help & {"settings set", "channels", "unanswered"}
    assert admin_help - member_help >= {"settings set", "channels", "unanswered"}


async def test_an_answer_never_cites_more_sources_than_the_place_shows(console_app: App) -> None:
    core = console_app.core
    # An unsure answer: the best quote and a runner-up, where the place shows two or more.
    question = "how many people followed kropotkins funeral procession"
    for shown in ["1", "2", "3"]:
        await core.settings_set(ADMIN, GUILD, "sources_shown", shown)
        reply = await core.ask(question, ADMIN, GUILD)
        assert isinstance(reply, AnswerReply) and reply.answer.answered
        citations = reply.answer.citations
        assert len(citations) == min(2, int(shown))
        assert [c.marker for c in citations] == list(range(1, len(citations) + 1))
        assert f"[{len(citations) + 1}]" not in reply.answer.text
        assert all(f"{c.quote} [{c.marker}]" in reply.answer.text for c in citations)


async def test_source_and_library_stay_quiet_where_the_bot_is_off(console_app: App) -> None:
    core = console_app.core
    await core.channels(ADMIN, GUILD, "deny", "100")
    for reply in [await core.source("kuzbass:1", MEMBER, GUILD), await core.library(MEMBER, GUILD)]:
        assert isinstance(reply, Refusal) and reply.reason is RefusalReason.CHANNEL
    other = Where("discord:1", channel="300")
    assert isinstance(await core.source("kuzbass:1", MEMBER, other), PassageView)
    await core.settings_set(ADMIN, GUILD, "enabled", "off")
    for reply in [await core.source("kuzbass:1", MEMBER, other), await core.library(MEMBER, other)]:
        assert isinstance(reply, Refusal) and reply.reason is RefusalReason.DISABLED


async def test_typed_text_cannot_open_a_code_span_in_replies(console_app: App) -> None:
    core = console_app.core
    missing = await core.source("`@everyone` **x**", ADMIN, GUILD)
    assert isinstance(missing, Refusal) and "`@everyone`" not in missing.message
    bad = await core.settings_set(ADMIN, GUILD, "answer_length", "`long`")
    assert isinstance(bad, Refusal) and "`long`" not in bad.message and "'long'" in bad.message
    unknown = await core.settings_set(ADMIN, GUILD, "a`b", "1")
    assert isinstance(unknown, Refusal) and "a`b" not in unknown.message


async def test_long_lines_are_refused_before_they_are_read_whole(console_app: App) -> None:
    core = console_app.core
    long = "9" * 200_000
    cases = [
        (MEMBER, f"settings set cooldown_seconds {long}", RefusalReason.NOT_ADMIN),
        (MEMBER, f"channels deny {long}", RefusalReason.NOT_ADMIN),
        (ADMIN, f"settings set cooldown_seconds {long}", RefusalReason.TOO_LONG),
        (ADMIN, f"channels allow {long}", RefusalReason.TOO_LONG),
        (MEMBER, f"ask {long}", RefusalReason.TOO_LONG),
        (MEMBER, long, RefusalReason.TOO_LONG),
        (MEMBER, f"source {long}", RefusalReason.NOT_FOUND),
    ]
    for caller, line, reason in cases:
        reply, calls = await calls_during(core.dispatch_text(line, caller, GUILD))
        assert isinstance(reply, Refusal) and reply.reason is reason, (line[:30], reply)
        assert len(reply.message) < 200
        assert calls < 5_000, (line[:30], calls)
    # The same through a chat message whose prefix only the core reads (Matrix's way).
    typed = Typed(f"!samizdat settings set cooldown_seconds {long}")
    refused, calls = await calls_during(core.handle(typed, MEMBER, GUILD))
    assert isinstance(refused, Refusal) and refused.reason is RefusalReason.NOT_ADMIN
    assert calls < 5_000, calls
    assert await console_app.store.get(GUILD.place) == ServerSettings()


async def test_commands_are_still_found_through_spaces_and_invisible_characters(
    console_app: App,
) -> None:
    core = console_app.core
    assert isinstance(await core.dispatch_text("\u200bhelp\u200b", MEMBER, GUILD), HelpReply)
    reply = await core.dispatch_text("  settings  set\u200b cooldown_seconds   10 ", ADMIN, GUILD)
    assert isinstance(reply, Confirmation) and "now 10" in reply.message
    reply = await core.dispatch_text("samizdat channels allow #200", ADMIN, GUILD)
    assert isinstance(reply, Confirmation)
    assert (await console_app.store.get(GUILD.place)).allowed_channels == ("200",)


async def test_channel_names_are_bounded_before_they_are_stored_or_echoed(
    console_app: App,
) -> None:
    core = console_app.core
    for name, reason in [
        ("x" * 100_000, RefusalReason.TOO_LONG),
        ("x" * 101, RefusalReason.INVALID),
        ("general chat", RefusalReason.INVALID),
        ("`@everyone`", RefusalReason.INVALID),
    ]:
        reply = await core.channels(ADMIN, GUILD, "allow", name)
        assert isinstance(reply, Refusal) and reply.reason is reason, name[:30]
        assert len(reply.message) < 300 and "`@everyone`" not in reply.message
    assert await console_app.store.get(GUILD.place) == ServerSettings()
    assert await console_app.store.recent_changes(GUILD.place) == []


async def test_settings_show_fits_one_message_whatever_is_stored(console_app: App) -> None:
    core = console_app.core
    channels = [str(10**19 + n) for n in range(30)]
    for channel in channels:
        await core.channels(ADMIN, GUILD, "allow", channel)
    shown = await core.settings_show(ADMIN, GUILD)
    assert isinstance(shown, SettingsReply)
    assert len(shown.values["allowed_channels"]) <= MAX_SHOWN_VALUE + 20
    assert shown.values["allowed_channels"].endswith("(30 in all)")

    await core.channels(ADMIN, GUILD, "clear", None)
    shown = await core.settings_show(ADMIN, GUILD)
    assert isinstance(shown, SettingsReply)
    cleared = shown.recent_changes[0]
    assert (cleared.setting, cleared.new_value) == ("allowed_channels", "[]")
    assert cleared.old_value is not None and len(cleared.old_value) <= MAX_SHOWN_VALUE
    assert cleared.old_value.startswith(f'["{channels[0]}", "{channels[1]}"')


async def test_commands_a_place_has_no_use_for_are_left_out_and_refused(
    console_app: App,
) -> None:
    room = Where("matrix:!room:example.org")
    named = {c.name for c in console_app.core.help(ADMIN, room).commands}
    assert "channels" not in named and "settings set" in named
    for caller in (ADMIN, MEMBER):
        refused = await console_app.core.dispatch_text("channels allow x", caller, room)
        assert isinstance(refused, Refusal) and refused.reason is RefusalReason.NOT_HERE
        assert "no channels" in refused.message


async def test_forget_me_deletes_what_was_kept_about_the_asker_only(console_app: App) -> None:
    core, activity = console_app.core, console_app.activity
    other = Caller("member-2")
    for caller in (MEMBER, other):
        declined = await core.ask("what caused the wall street crash of 1929", caller, GUILD)
        assert isinstance(declined, AnswerReply) and not declined.answer.answered
    await core.handle(Feedback("q", ("kuzbass:1",), True), MEMBER, GUILD)
    await core.settings_set(ADMIN, GUILD, "sources_shown", "2")

    forgotten = await core.dispatch_text("forget me", MEMBER, GUILD)
    assert isinstance(forgotten, Confirmation) and "2 records" in forgotten.message
    askers = await activity.unanswered(GUILD.place, include_askers=True)
    assert [q.user_id for q in askers] == ["member-2"]
    again = await core.dispatch_text("forget me", MEMBER, GUILD)
    assert isinstance(again, Confirmation) and "Nothing" in again.message


async def test_forget_place_is_for_admins_and_keeps_the_settings(console_app: App) -> None:
    core, store = console_app.core, console_app.store
    await core.ask("what caused the wall street crash of 1929", MEMBER, GUILD)
    await core.settings_set(ADMIN, GUILD, "sources_shown", "2")
    refused = await core.dispatch_text("forget place", MEMBER, GUILD)
    assert isinstance(refused, Refusal) and refused.reason is RefusalReason.NOT_ADMIN
    done = await core.dispatch_text("samizdat forget place", ADMIN, GUILD)
    assert isinstance(done, Confirmation) and "2 records" in done.message
    assert await console_app.activity.unanswered(GUILD.place) == []
    assert [c.user_id for c in await store.recent_changes(GUILD.place)] == ["(forgotten)"]
    assert (await store.get(GUILD.place)).sources_shown == 2
