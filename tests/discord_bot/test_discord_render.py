"""Rendering never produces a message Discord would reject, however long the reply.

The core's replies are built here as plain data (they are the renderer's input, not a
stand-in for the core); the judge is the fake Discord's own check of Discord's limits.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fake_discord import message_problems

from bot.answers.model import Answer, Citation, RetrievedPassage, SectionPointer
from bot.core.replies import (
    AnswerReply,
    DocumentSummary,
    LibraryReply,
    PassageView,
    SearchReply,
    UnansweredQuestion,
    UnansweredReply,
)
from bot.discord_bot.render import Outgoing, render, split_text

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
        passage_id=f"doc-{n}:{n}", doc_id=f"doc-{n}", title="T" * 400, author="A" * 300,
        section="S" * 300, score=1.5, text=text,
    )


def test_an_answer_far_over_every_limit_still_fits() -> None:
    citations = [
        Citation(marker=n, passage_id=f"doc:{n}", doc_id="doc", title="Title " * 80,
                 author="Author " * 50, section="Section " * 50, quote=HUGE[:3000])
        for n in range(1, 40)
    ]
    answer = Answer(question="Q" * 3000, answered=True, text=HUGE, citations=citations,
                    passages=[_passage(n) for n in range(30)])
    [message] = render(AnswerReply(answer=answer, sources_shown=5))

    assert message_problems(_payload(message)) == []
    assert message.embed is not None and message.embed.description
    assert message.embed.description.startswith("Workers' control")
    listed = " ".join(field.value or "" for field in message.embed.fields)
    assert all(f"**[{n}]**" in listed for n in range(1, 6))
    assert "**[6]**" not in listed


def test_a_declined_answer_with_many_pointers_fits() -> None:
    pointers = [
        SectionPointer(passage_id=f"doc:{n}", doc_id="doc", title="Title " * 60,
                       author="Author " * 40, section="Section " * 40)
        for n in range(60)
    ]
    answer = Answer(question="Why?", answered=False, text=HUGE, citations=[], passages=[],
                    closest=pointers)
    [message] = render(AnswerReply(answer=answer))

    assert message_problems(_payload(message)) == []
    assert message.embed is not None and message.embed.fields[0].name == "Closest sections"


def test_a_long_passage_is_split_over_messages_keeping_every_word() -> None:
    view = PassageView(passage_id="doc:1", doc_id="doc", title="T" * 500, author="A",
                       section="S", text=HUGE, previous_id="doc:0", next_id="doc:2")
    messages = render(view)

    assert len(messages) > 1
    assert all(message_problems(_payload(m)) == [] for m in messages)
    shown = " ".join((m.embed.description or "") for m in messages if m.embed)
    assert shown.split() == HUGE.split()


def test_many_long_search_hits_and_documents_fit() -> None:
    search = render(SearchReply(query="x" * 600, hits=[_passage(n) for n in range(50)]))
    documents = [
        DocumentSummary(doc_id=f"d{n}", title="Title " * 40, author="Author " * 30,
                        year=1921, passages=n)
        for n in range(300)
    ]
    library = render(LibraryReply(documents=documents))
    unanswered = render(UnansweredReply(items=[
        UnansweredQuestion(question=HUGE[:500], at=datetime.now(UTC), place="discord:1",
                           channel="2", user_id="3")
        for _ in range(100)
    ]))

    for messages in (search, library, unanswered):
        assert len(messages) > 1
        assert all(message_problems(_payload(m)) == [] for m in messages)


def test_split_text_breaks_at_words_and_respects_the_limit() -> None:
    pieces = split_text(HUGE, 1000)

    assert all(len(p) <= 1000 for p in pieces)
    assert " ".join(pieces).split() == HUGE.split()
    assert split_text("x" * 2500, 1000) == ["x" * 1000, "x" * 1000, "x" * 500]
