"""Sentences and passages: the units the bot quotes and the units it ranks.

A passage never cuts a sentence, so every quote in an answer is a whole sentence of the
cleaned text, and passage numbers depend only on the document's text, so ids stay stable
when the library is re-indexed and the document has not changed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

# Words that end with a full stop without ending a sentence.
_ABBREVIATIONS = frozenset(
    """mr mrs ms dr st prof gen col lt capt sgt rev fr jr sr vs cf ed eds approx ca inc ltd
    corp dept univ jan feb mar apr jun jul aug sep sept oct nov dec e.g i.e u.s u.k u.s.s.r
    viz al""".split()
)
# Abbreviations only when a number follows ("No. 9", "pp. 10-12", "vol. 2").
_NUMBER_ABBREVIATIONS = frozenset("no nos pp p vol vols ch fig".split())

_BOUNDARY = re.compile(
    r"""(?<=[.!?…])          # a sentence-ending mark
        [\"'”’)\]]*          # closing quotes or brackets that belong to the sentence
        \s+                  # the gap
        (?=[\"'“‘(\[]?[A-Z0-9À-Ý])  # the next sentence starts with a capital or a digit
    """,
    re.VERBOSE,
)


def _ends_with_abbreviation(text: str, following: str) -> bool:
    match = re.search(r"(\S+)\.$", text)
    if not match:
        return False
    word = match.group(1).lower().lstrip("(\"'“‘[")
    if word in _ABBREVIATIONS:
        return True
    if word in _NUMBER_ABBREVIATIONS:
        return following[:1].isdigit()
    # Initials such as "V.I." or "M." before a name.
    return bool(re.fullmatch(r"(?:[a-z]\.)*[a-z]", word))


def split_sentences(paragraph: str) -> list[str]:
    """Split a paragraph into sentences that are exact substrings of it."""
    text = paragraph.strip()
    if not text:
        return []
    sentences: list[str] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        end = match.start() + len(match.group(0).rstrip())
        candidate = text[start:end].strip()
        if _ends_with_abbreviation(candidate, text[match.end() :]):
            continue
        if candidate:
            sentences.append(candidate)
        start = match.end()
    tail = text[start:].strip()
    if tail:
        sentences.append(tail)
    return sentences


@dataclass(frozen=True)
class Passage:
    """A run of whole sentences from one section of one document."""

    id: str
    doc_id: str
    ordinal: int
    section: str
    sentences: tuple[str, ...]

    @property
    def text(self) -> str:
        return " ".join(self.sentences)


@dataclass(frozen=True)
class SectionText:
    """A section's heading and its paragraphs, as the cleaner left them."""

    heading: str
    paragraphs: tuple[str, ...]


def _pack(paragraphs: Sequence[Sequence[str]], max_chars: int) -> Iterator[list[str]]:
    """Group sentences into runs of at most `max_chars`, preferring paragraph boundaries."""
    current: list[str] = []
    size = 0
    for sentences in paragraphs:
        paragraph_size = sum(len(s) + 1 for s in sentences)
        if current and size + paragraph_size > max_chars:
            yield current
            current, size = [], 0
        for sentence in sentences:
            if current and size + len(sentence) + 1 > max_chars:
                yield current
                current, size = [], 0
            current.append(sentence)
            size += len(sentence) + 1
    if current:
        yield current


def split_passages(doc_id: str, sections: Sequence[SectionText], max_chars: int) -> list[Passage]:
    """Number the passages of a document in reading order: `<doc_id>:<n>` from 1."""
    passages: list[Passage] = []
    for section in sections:
        paragraphs = [split_sentences(p) for p in section.paragraphs]
        for run in _pack([p for p in paragraphs if p], max_chars):
            ordinal = len(passages) + 1
            passages.append(
                Passage(
                    id=f"{doc_id}:{ordinal}",
                    doc_id=doc_id,
                    ordinal=ordinal,
                    section=section.heading,
                    sentences=tuple(run),
                )
            )
    return passages
