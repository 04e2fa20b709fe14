"""The answer, as plain data that every renderer (terminal, Discord, Matrix) can read.

Nothing here knows how an answer is displayed; renderers live beside their platform.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from bot.library.loader import Library
    from bot.library.segmentation import Passage

# Which shelf a passage is on: the shared library every place reads, or the place's own.
Shelf = Literal["shared", "place"]


class Citation(BaseModel):
    """One quoted sentence and exactly where it comes from."""

    model_config = ConfigDict(frozen=True)

    marker: int
    passage_id: str
    doc_id: str
    title: str
    author: str
    section: str
    quote: str
    caveat: str | None = None  # e.g. the text is satire: its claims are not the author's view
    shelf: Shelf = "shared"


class RetrievedPassage(BaseModel):
    """A passage the retriever ranked for a question, with its score."""

    model_config = ConfigDict(frozen=True)

    passage_id: str
    doc_id: str
    title: str
    author: str
    section: str
    score: float
    text: str
    shelf: Shelf = "shared"


def retrieved_passage(library: Library, passage: Passage, score: float) -> RetrievedPassage:
    """`passage` of `library` as a reply shows it: with its document's title, author, shelf."""
    document = library.document(passage.doc_id)
    return RetrievedPassage(
        passage_id=passage.id,
        doc_id=passage.doc_id,
        title=document.info.title,
        author=document.info.author,
        section=passage.section,
        score=score,
        text=passage.text,
        shelf=document.shelf,
    )


class SectionPointer(BaseModel):
    """A section worth reading when the library does not answer a question."""

    model_config = ConfigDict(frozen=True)

    passage_id: str
    doc_id: str
    title: str
    author: str
    section: str
    shelf: Shelf = "shared"


class Answer(BaseModel):
    """What the bot says to a question.

    `text` is the answer with citation markers like ``[1]`` (or the plain statement that the
    library does not answer); `citations` are numbered by those markers; `passages` are the
    retrieved passages in rank order; `closest` lists where to read on when `answered` is False.
    """

    model_config = ConfigDict(frozen=True)

    question: str
    answered: bool
    text: str
    citations: list[Citation]
    passages: list[RetrievedPassage]
    closest: list[SectionPointer] = []
