"""What a message means and how a reply looks, without a homeserver."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.answers.model import Answer, Citation, RetrievedPassage, SectionPointer
from bot.core.parse import read_typed
from bot.core.replies import (
    AboutReply,
    AnswerReply,
    CommandHelp,
    Confirmation,
    HelpReply,
    PassageView,
    Refusal,
    RefusalReason,
    SearchReply,
)
from bot.core.requests import (
    About,
    Ask,
    Help,
    Library,
    Mention,
    Request,
    SettingsSet,
    Typed,
)
from bot.matrix_bot.commands import (
    BotIdentity,
    RoomAuthority,
    creators_from_create_event,
    is_admin,
    mentions_bot,
    reply_relation,
    strip_mention,
    strip_reply_fallback,
)
from bot.matrix_bot.outbox import send_failure_is_transient
from bot.matrix_bot.render import render
from bot.matrix_bot.rooms import inviter_allowed
from bot.matrix_bot.sync import answerable_backlog, incoming, redacted_event

BOT = BotIdentity("@samizdat:example.org", "Samizdat")
HOSTILE = "<script>alert(1)</script><img src=x onerror=alert(2)>"


@pytest.mark.parametrize(
    ("body", "prefix", "wanted"),
    [
        ("!ask Who was Makhno?", "!", Ask("Who was Makhno?")),
        ("!ASK  Who?", "!", Ask("Who?")),
        ("!library", "!", Library()),
        ("!samizdat settings set cooldown_seconds 0", "!", SettingsSet("cooldown_seconds", "0")),
        ("!samizdat", "!", Help()),
        ("?about", "?", About()),
        ("!ban someone", "!", None),  # another bot's command
        ("!settings show", "!", None),  # admin commands only under `samizdat`
        ("!ask q", "?", None),
        ("Who was Makhno?", "!", None),
    ],
)
def test_typed_commands_are_read_by_the_core(
    body: str, prefix: str, wanted: Request | None
) -> None:
    assert read_typed(Typed(body), prefix) == wanted
    # Named, the bot takes what is not a command of its own as a question.
    assert read_typed(Typed(body, mention="q"), prefix) == (wanted or Mention("q"))


def test_reply_fallback_is_dropped_before_parsing() -> None:
    body = "> <@alice:example.org> earlier words\n> more\n\n!ask Who?"
    assert strip_reply_fallback(body) == "!ask Who?"


def test_intentional_mentions_decide_when_present() -> None:
    assert mentions_bot({"m.mentions": {"user_ids": [BOT.user_id]}}, "hello", BOT)
    # The client said whom it mentions; the name in the text does not count.
    assert not mentions_bot({"m.mentions": {}}, "Samizdat is a bot", BOT)


def test_display_name_fallback_for_clients_without_intentional_mentions() -> None:
    assert mentions_bot({}, "Samizdat: who was Makhno?", BOT)
    assert mentions_bot({}, "hey samizdat, who?", BOT)
    assert not mentions_bot({}, "samizdatnik literature", BOT)
    assert mentions_bot(
        {"formatted_body": '<a href="https://matrix.to/#/@samizdat:example.org">S</a>: q'},
        "S: q",
        BOT,
    )


def test_strip_mention() -> None:
    assert strip_mention("Samizdat: who was Makhno?", BOT) == "who was Makhno?"
    assert strip_mention("@samizdat:example.org who?", BOT) == "who?"
    assert strip_mention("who, samizdat?", BOT) == "who, samizdat?"


def test_v12_creators_outrank_everyone_and_v10_creators_do_not() -> None:
    creators = creators_from_create_event(
        "@alice:example.org", {"additional_creators": ["@bob:example.org", 3]}
    )
    assert creators == {"@alice:example.org", "@bob:example.org"}
    v12 = RoomAuthority(room_version="12", creators=creators, users={}, state_default=50)
    assert is_admin("@alice:example.org", v12, [])
    assert is_admin("@bob:example.org", v12, [])
    assert not is_admin("@carol:example.org", v12, [])
    v10 = RoomAuthority(room_version="10", creators=creators, users={"@dan:example.org": 100})
    assert not is_admin("@alice:example.org", v10, [])
    assert is_admin("@dan:example.org", v10, [])
    assert is_admin("@carol:example.org", v10, ["@carol:example.org"])


def test_inviters() -> None:
    me = "@bot:home.org"
    assert inviter_allowed("@a:home.org", [], me)
    assert not inviter_allowed("@a:elsewhere.org", [], me)
    assert inviter_allowed("@a:elsewhere.org", ["elsewhere.org"], me)
    assert inviter_allowed("@a:elsewhere.org", ["@a:elsewhere.org"], me)
    assert not inviter_allowed("@b:elsewhere.org", ["@a:elsewhere.org"], me)
    assert not inviter_allowed("@a:home.org", ["elsewhere.org"], me)


@pytest.mark.parametrize(
    ("status", "errcode", "transient"),
    [
        (429, "M_LIMIT_EXCEEDED", True),
        (None, "M_LIMIT_EXCEEDED", True),
        (502, None, True),  # a proxy in front of a homeserver that is restarting
        (503, "M_UNKNOWN", True),
        (None, None, True),  # no answer at all
        (403, "M_FORBIDDEN", False),  # kicked or banned: sending again will not help
        (413, "M_TOO_LARGE", False),
    ],
)
def test_which_refused_sends_are_tried_again(
    status: int | None, errcode: str | None, transient: bool
) -> None:
    assert send_failure_is_transient(status, errcode) is transient


def test_backlog_age_is_counted_from_the_start() -> None:
    started = 1_000_000.0
    ten_minutes = 600
    assert answerable_backlog(int((started - 599) * 1000), started, ten_minutes)
    assert not answerable_backlog(int((started - 601) * 1000), started, ten_minutes)
    # What arrives after the start is live, however long it took to reach the bot.
    assert answerable_backlog(int((started + 3600) * 1000), started, 0)
    assert not answerable_backlog(int(started * 1000) - 1, started, 0)


def test_reply_relation_keeps_threads() -> None:
    assert reply_relation({}, "$q", new_thread=False) == {"m.in_reply_to": {"event_id": "$q"}}
    threaded = reply_relation(
        {"m.relates_to": {"rel_type": "m.thread", "event_id": "$root"}}, "$q", new_thread=False
    )
    assert threaded["rel_type"] == "m.thread" and threaded["event_id"] == "$root"
    assert threaded["m.in_reply_to"] == {"event_id": "$q"}
    started = reply_relation({}, "$q", new_thread=True)
    assert started["rel_type"] == "m.thread" and started["event_id"] == "$q"


def _answer(text: str, quote: str) -> AnswerReply:
    citation = Citation(
        marker=1,
        passage_id="doc:1",
        doc_id="doc",
        title=f"Title {HOSTILE}",
        author="Author & Co",
        section="Part <1>",
        quote=quote,
    )
    passage = RetrievedPassage(
        passage_id="doc:1",
        doc_id="doc",
        title="Title",
        author="A",
        section="S",
        score=1.0,
        text=quote,
    )
    answer = Answer(
        question=HOSTILE, answered=True, text=text, citations=[citation], passages=[passage]
    )
    return AnswerReply(answer=answer)


def test_answers_escape_every_piece_of_library_text() -> None:
    rendered = render(_answer(f"It was so {HOSTILE} [1]", f"quoted {HOSTILE}"))
    html = rendered.html.lower()
    assert "<script" not in html and "<img" not in html
    assert "&lt;script&gt;" in html
    assert "author &amp; co" in html
    assert "Sources:" in rendered.plain and "[1]" in rendered.plain and "doc:1" in rendered.plain
    assert HOSTILE in rendered.plain  # the plain body is text, shown as text


def test_unanswered_answers_point_at_the_closest_sections() -> None:
    answer = Answer(
        question="q",
        answered=False,
        text="The library does not say.",
        citations=[],
        passages=[],
        closest=[SectionPointer(passage_id="d:3", doc_id="d", title="T", author="A", section="S")],
    )
    rendered = render(AnswerReply(answer=answer))
    assert "Closest sections" in rendered.plain and "d:3" in rendered.plain
    assert "<ul>" in rendered.html


@pytest.mark.parametrize(
    "reply",
    [
        SearchReply(query=HOSTILE, hits=[]),
        PassageView(
            passage_id="d:1",
            doc_id="d",
            title=HOSTILE,
            author="A",
            section="S",
            text=HOSTILE,
            previous_id=None,
            next_id="d:2",
        ),
        Confirmation(message=HOSTILE),
        Refusal(reason=RefusalReason.INVALID, message=HOSTILE),
        AboutReply(version="1", documents=1, passages=2, indexed_at=datetime.now(UTC)),
    ],
)
def test_every_reply_renders_without_raw_tags(
    reply: SearchReply | PassageView | Confirmation | Refusal | AboutReply,
) -> None:
    rendered = render(reply)
    assert rendered.plain
    assert "<script" not in rendered.html and "<img" not in rendered.html
    content = rendered.content()
    assert content["msgtype"] == "m.notice"
    assert content["format"] == "org.matrix.custom.html"


def test_help_names_admin_commands_fully_with_the_rooms_prefix() -> None:
    reply = HelpReply(
        commands=[
            CommandHelp(name="ask", usage="ask <question>", summary="Ask.", admin_only=False),
            CommandHelp(name="settings show", usage="settings show", summary="S.", admin_only=True),
        ],
        command_prefix="?",
    )
    rendered = render(reply)
    assert "?ask <question>" in rendered.plain
    assert "?samizdat settings show" in rendered.plain


def test_redactions_name_their_target_in_every_room_version() -> None:
    before_v11 = {"type": "m.room.redaction", "redacts": "$a", "content": {}}
    from_v11 = {"type": "m.room.redaction", "content": {"redacts": "$b"}}
    assert redacted_event(before_v11) == "$a"
    assert redacted_event(from_v11) == "$b"
    assert redacted_event({"type": "m.room.message", "content": {"redacts": "$c"}}) is None
    assert redacted_event({"type": "m.room.redaction", "content": "junk"}) is None


def test_an_edit_is_read_as_its_new_content_and_a_broken_one_not_at_all() -> None:
    edit = {
        "type": "m.room.message",
        "event_id": "$edit",
        "sender": "@a:hs",
        "content": {
            "body": "* !ask new",
            "m.new_content": {"body": "!ask new"},
            "m.relates_to": {"rel_type": "m.replace", "event_id": "$q"},
        },
    }
    message = incoming("!r", edit)
    assert message is not None
    assert (message.replaces, message.content["body"]) == ("$q", "!ask new")
    del edit["content"]["m.new_content"]  # type: ignore[attr-defined]
    assert incoming("!r", edit) is None
    assert incoming("!r", {"type": "m.room.message", "content": {}, "sender": 3}) is None
