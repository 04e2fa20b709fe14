"""Rendering never produces a message Discord would reject, however long the reply.

The core's replies are built here as plain data (they are the renderer's input, not a
stand-in for the core); the judge is the fake Discord's own check of Discord's limits.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from fake_discord import message_problems

from bot.answers.model import Answer, Citation, RetrievedPassage, SectionPointer
from bot.core import present as words
from bot.core.replies import (
    AnswerReply,
    DocumentSummary,
    LibraryReply,
    PassageView,
    Refusal,
    RefusalReason,
    SearchReply,
    UnansweredQuestion,
    UnansweredReply,
)
from bot.core.text import quote_typed
from bot.discord_bot.render import Outgoing, escape, render, render_passage_page, split_text

HUGE = "Workers' control of production was debated at length. " * 400  # ~22,000 characters


def _payload(message: Outgoing) -> dict[str, Any]:
    payload: dict[str, Any] = {}
    if message.content is not None:
        payload["content"] = message.content
    if message.embed is not None:
        payload["embeds"] = [message.embed.to_dict()]
    return payload


def _passage(n: int, text: str = HUGE) -> RetrievedPassage:
    return RetrievedPassage(
        passage_id=f"doc-{n}:{n}",
        doc_id=f"doc-{n}",
        title="T" * 400,
        author="A" * 300,
        section="S" * 300,
        score=1.5,
        text=text,
    )


def test_an_answer_far_over_every_limit_still_fits() -> None:
    citations = [
        Citation(
            marker=n,
            passage_id=f"doc:{n}",
            doc_id="doc",
            title="Title " * 80,
            author="Author " * 50,
            section="Section " * 50,
            quote=HUGE[:3000],
        )
        for n in range(1, 40)
    ]
    answer = Answer(
        question="Q" * 3000,
        answered=True,
        text=HUGE,
        citations=citations,
        passages=[_passage(n) for n in range(30)],
    )
    [message] = render(AnswerReply(answer=answer))

    assert message_problems(_payload(message)) == []
    assert message.embed is not None and message.embed.description
    assert message.embed.description.startswith("Workers' control")
    listed = " ".join(field.value or "" for field in message.embed.fields)
    # The core caps citations at sources_shown; the renderer lists what fits, in order.
    assert all(f"**[{n}]**" in listed for n in range(1, 6))


def test_a_declined_answer_with_many_pointers_fits() -> None:
    pointers = [
        SectionPointer(
            passage_id=f"doc:{n}",
            doc_id="doc",
            title="Title " * 60,
            author="Author " * 40,
            section="Section " * 40,
        )
        for n in range(60)
    ]
    answer = Answer(
        question="Why?", answered=False, text=HUGE, citations=[], passages=[], closest=pointers
    )
    [message] = render(AnswerReply(answer=answer))

    assert message_problems(_payload(message)) == []
    assert message.embed is not None and message.embed.fields[0].name == "Closest sections"


def test_a_long_passage_is_split_over_messages_keeping_every_word() -> None:
    view = PassageView(
        passage_id="doc:1",
        doc_id="doc",
        title="T" * 500,
        author="A",
        section="S",
        text=HUGE,
        previous_id="doc:0",
        next_id="doc:2",
    )
    messages = render(view)

    assert len(messages) > 1
    assert all(message_problems(_payload(m)) == [] for m in messages)
    shown = " ".join((m.embed.description or "") for m in messages if m.embed)
    assert shown.split() == HUGE.split()


def test_many_long_search_hits_and_documents_fit() -> None:
    search = render(SearchReply(query="x" * 600, hits=[_passage(n) for n in range(50)]))
    documents = [
        DocumentSummary(
            doc_id=f"d{n}", title="Title " * 40, author="Author " * 30, year=1921, passages=n
        )
        for n in range(300)
    ]
    library = render(LibraryReply(documents=documents))
    unanswered = render(
        UnansweredReply(
            items=[
                UnansweredQuestion(
                    question=HUGE[:500],
                    at=datetime.now(UTC),
                    place="discord:1",
                    channel="2",
                    user_id="3",
                )
                for _ in range(100)
            ]
        )
    )

    for messages in (search, library, unanswered):
        assert len(messages) > 1
        assert all(message_problems(_payload(m)) == [] for m in messages)


def test_split_text_breaks_at_words_and_respects_the_limit() -> None:
    pieces = split_text(HUGE, 1000)

    assert all(len(p) <= 1000 for p in pieces)
    assert " ".join(pieces).split() == HUGE.split()
    assert split_text("x" * 2500, 1000) == ["x" * 1000, "x" * 1000, "x" * 500]


MARKDOWN = "A *starred* word, a_snake_case name, ~~struck~~, `ticks`, ||hidden|| and\n> a quote"
ESCAPED = r"A \*starred\* word, a\_snake\_case name, \~\~struck\~\~, \`ticks\`, \|\|hidden\|\| and"


def _cited(marker: int, quote: str, caveat: str | None = None) -> Citation:
    return Citation(
        marker=marker,
        passage_id=f"doc:{marker}",
        doc_id="doc",
        title="The *Bold* Title",
        author="A_uthor",
        section="§_1",
        quote=quote,
        caveat=caveat,
    )


def test_library_and_user_text_render_literally_around_our_own_formatting() -> None:
    answer = Answer(
        question="Was it *really* ||so||?",
        answered=True,
        text=f"{MARKDOWN} [1]",
        citations=[_cited(1, MARKDOWN)],
        passages=[_passage(1, MARKDOWN)],
    )
    [message] = render(AnswerReply(answer=answer))
    assert message.embed is not None

    assert message.embed.title == r"Was it \*really\* \|\|so\|\|?"
    assert (message.embed.description or "").startswith(ESCAPED)
    # A `[` could open a masked link: it is escaped too, and still shows as written.
    assert "\n\\> a quote \\[1]" in (message.embed.description or "")
    [sources] = message.embed.fields
    # Our bold marker and code span stay Markdown; the library's title does not.
    assert sources.value == r"**[1]** *The \*Bold\* Title*, A\_uthor, § §\_1 · `doc:1`"

    [hits] = render(SearchReply(query="*who*", hits=[_passage(1, MARKDOWN)]))
    assert hits.embed is not None and hits.embed.title == r"Passages for “\*who\*”"
    assert ESCAPED in (hits.embed.description or "")

    [passage] = render(
        PassageView(
            passage_id="doc:1",
            doc_id="doc",
            title="`T`",
            author="",
            section="",
            text=MARKDOWN,
            previous_id=None,
            next_id=None,
        )
    )
    assert passage.embed is not None
    assert passage.embed.title == r"\`T\`"
    assert (passage.embed.description or "").startswith(ESCAPED)

    page = render_passage_page(_passage(1, MARKDOWN), 0, 1)
    assert (page.description or "").startswith(ESCAPED)


def test_clipping_escaped_text_never_leaves_a_dangling_backslash() -> None:
    stars = PassageView(
        passage_id="d:1",
        doc_id="d",
        title="*" * 400,
        author="",
        section="",
        text="*" * 5000,
        previous_id=None,
        next_id=None,
    )
    first = render(stars)[0].embed
    assert first is not None and first.title is not None and first.description is not None

    title = first.title.removesuffix("…")
    assert title.endswith(r"\*") and len(first.title) <= 256
    pieces = split_text(r"\*" * 3000, 1001)
    assert "".join(pieces) == r"\*" * 3000
    assert [p for p in pieces if p.endswith("\\")] == []
    assert first.description.endswith(r"\*")


def test_each_quote_appears_once_and_caveats_are_shown() -> None:
    quotes = ["The colony was founded in 1922.", "It was wound up in 1926."]
    answer = Answer(
        question="When?",
        answered=True,
        text=f"{quotes[0]} [1] {quotes[1]} [2]",
        citations=[
            _cited(1, quotes[0], caveat="Satire: not the author's view."),
            _cited(2, quotes[1]),
        ],
        passages=[],
    )
    [message] = render(AnswerReply(answer=answer))
    assert message.embed is not None
    shown = message.embed.to_dict()
    everything = json.dumps(shown, ensure_ascii=False)

    assert [everything.count(q) for q in quotes] == [1, 1]
    assert [f["name"] for f in shown["fields"]] == ["Sources", "Read with care"]
    assert "Satire: not the author's view." in shown["fields"][1]["value"]


def test_without_quotes_the_answer_only_points_at_its_sources() -> None:
    quote = "The colony was founded in 1922."
    answer = Answer(
        question="When?",
        answered=True,
        text=f"{quote} [1]",
        citations=[_cited(1, quote)],
        passages=[],
    )
    [message] = render(AnswerReply(answer=answer, show_quotes=False))
    assert message.embed is not None

    assert quote not in json.dumps(message.embed.to_dict())
    assert message.embed.description == "The library answers this in [1]."
    assert "`doc:1`" in (message.embed.fields[0].value or "")


WORST_CASE = ("[" + "](" * 2)[:3] * 2000  # 6,000 characters of `[` and `](`


def test_the_worst_case_paste_is_clipped_then_escaped_into_a_valid_message() -> None:
    # discord.py's escape_markdown took 40 s on this; benchmarks/bench_render.py times ours.
    answer = Answer(question=WORST_CASE, answered=False, text="", citations=[], passages=[])
    for reply in (AnswerReply(answer=answer), SearchReply(query=WORST_CASE, hits=[])):
        for message in render(reply):
            assert message_problems(message.kwargs()) == []
            shown = message.content or (message.embed.title if message.embed else None)
            assert shown is not None and "\\[](\\[](" in shown
            assert "\\…" not in shown


def test_escaping_leaves_every_mark_and_reference_inert_and_links_whole() -> None:
    typed = "<@123> <#789> <t:0:R> @everyone [x](https://e.org/a_b) ||s|| ~~t~~ \\"
    assert escape(typed) == (
        "\\<@123> \\<#789> \\<t:0:R> \\@everyone \\[x](https://e.org/a_b) "
        "\\|\\|s\\|\\| \\~\\~t\\~\\~ \\\\"
    )
    assert escape("# h\n  - item\n> quote\n12. twelve") == (
        "\\# h\n  \\- item\n\\> quote\n12\\. twelve"
    )


def test_typed_text_in_refusals_and_stored_questions_shows_as_written() -> None:
    typed = "**bold** ||spoiler|| <@123>"
    refusal = Refusal(reason=RefusalReason.NOT_FOUND, message=words.no_passage(quote_typed(typed)))
    [message] = render(refusal)
    assert message.content is not None
    assert r"“\*\*bold\*\* \|\|spoiler\|\| \<@123>”" in message.content

    stored = "<@123> <#789> <t:0:R> @everyone"
    listed = UnansweredReply(
        items=[
            UnansweredQuestion(
                question=stored,
                at=datetime(2026, 1, 1, tzinfo=UTC),
                place="d:1",
                channel=None,
                user_id=None,
            )
        ]
    )
    [page] = render(listed)
    assert page.embed is not None
    assert r"\<@123> \<#789> \<t:0:R> \@everyone" in (page.embed.description or "")
