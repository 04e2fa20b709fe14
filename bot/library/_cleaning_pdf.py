"""Text extracted from a PDF: hard-wrapped pages with footnotes at each page's foot.

The extractor marks the first line of each page with a leading space. On a page the body
comes first and footnotes last (a note starts with its number, or is set in a smaller font
and so has longer lines); once a page's notes begin, the rest of the page is notes.
"""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass, field

from bot.library._cleaning_common import (
    Block,
    CleanText,
    Vocabulary,
    ends_sentence,
    hyphen_is_certain,
    reflow,
    split_glued,
    squash,
    strip_note_numbers,
    unglue_sentences,
)

_NOTE_START = re.compile(r"^\d{1,2} [A-Z“\"‘'(\[]")
# Footnotes are set in smaller type, so their lines are this much wider than the text's.
_NOTE_EXTRA_WIDTH = 6
_HEADING_MAX = 80
_CHAIN_BUDGET = 250_000
_MINOR_WORDS = frozenset(
    {"a", "an", "and", "as", "at", "but", "by", "for", "from", "in", "into", "nor", "of"}
    | {"on", "or", "over", "the", "to", "under", "upon", "vs", "with"}
)
_CONNECTIVES = frozenset(
    {"a", "an", "and", "as", "at", "but", "by", "for", "from", "in", "into", "nor", "of"}
    | {"on", "or", "the", "to", "with", "that", "which", "who"}
)


@dataclass
class _Page:
    body: list[list[str]] = field(default_factory=list)
    notes: list[list[str]] = field(default_factory=list)


def _paragraphs(lines: list[str]) -> list[list[str]]:
    paragraphs: list[list[str]] = [[]]
    for line in lines:
        if line.strip():
            paragraphs[-1].append(line.strip())
        elif paragraphs[-1]:
            paragraphs.append([])
    return [p for p in paragraphs if p]


def _looks_like_note(paragraph: list[str], note_width: float) -> bool:
    if _NOTE_START.match(paragraph[0]):
        return True
    measured = paragraph[:-1] if len(paragraph) > 1 else paragraph
    return statistics.median(len(line) for line in measured) >= note_width


def _pages(text: str) -> list[_Page]:
    raw_pages: list[list[str]] = [[]]
    for line in text.split("\n"):
        if line.startswith(" ") and line.strip() and any(raw_pages[-1]):
            raw_pages.append([])
        raw_pages[-1].append(line)
    widths = [len(line.strip()) for line in text.split("\n") if line.strip()]
    note_width = statistics.median(widths) + _NOTE_EXTRA_WIDTH if widths else 0.0
    pages: list[_Page] = []
    for raw in raw_pages:
        page = _Page()
        for paragraph in _paragraphs(raw):
            if page.notes or (page.body and _looks_like_note(paragraph, note_width)):
                page.notes.append(paragraph)
            else:
                page.body.append(paragraph)
        pages.append(page)
    return pages


def _last_word(paragraph: list[str]) -> str:
    words = paragraph[-1].split()
    return words[-1].lower() if words else ""


def _continues(previous: list[str], following: list[str]) -> bool:
    """Whether a blank line fell inside a sentence (the page layout split a paragraph)."""
    if ends_sentence(previous[-1]) or _is_heading(previous) or _NOTE_START.match(following[0]):
        return False
    first = following[0][:1]
    return first.islower() or previous[-1].endswith("-") or _last_word(previous) in _CONNECTIVES


def _merge_split(paragraphs: list[list[str]]) -> list[list[str]]:
    merged: list[list[str]] = []
    for paragraph in paragraphs:
        if merged and _continues(merged[-1], paragraph):
            merged[-1].extend(paragraph)
        else:
            merged.append(list(paragraph))
    return merged


def _is_heading(paragraph: list[str]) -> bool:
    """Headings stand alone: one or two short lines, title case, no closing punctuation."""
    text = " ".join(paragraph)
    if len(paragraph) > 2 or len(text) > _HEADING_MAX or ends_sentence(text):
        return False
    if text.endswith(("-", ",")) or not text[:1].isupper():
        return False
    words = re.findall(r"[^\W\d_]+", text)
    return bool(words) and all(w[0].isupper() or w.lower() in _MINOR_WORDS for w in words)


def _chain_pages(pages: list[_Page], vocabulary: Vocabulary) -> list[_Page]:
    """Put a page after the one whose last word it finishes (`replac-` / `ing them`).

    Pages of the extract are partly out of order; only a break the library's vocabulary
    vouches for is trusted, so no paragraph is ever glued to a stranger.
    """
    successor: dict[int, int] = {}
    taken: set[int] = set()
    broken_ends = sum(1 for page in pages if page.body and page.body[-1][-1].endswith("-"))
    if broken_ends * len(pages) > _CHAIN_BUDGET:
        return pages  # not a book's worth of pages: leave the order alone
    for index, page in enumerate(pages):
        if not page.body or not page.body[-1][-1].endswith("-"):
            continue
        end = page.body[-1][-1][:-1]
        candidates = [
            other
            for other, candidate in enumerate(pages)
            if other != index
            and other not in taken
            and candidate.body
            and candidate.body[0][0][:1].islower()
            and hyphen_is_certain(end, candidate.body[0][0], vocabulary)
        ]
        if len(candidates) == 1:
            successor[index] = candidates[0]
            taken.add(candidates[0])
    order: list[int] = []
    seen: set[int] = set()
    for start in range(len(pages)):
        if start in taken or start in seen:
            continue
        current: int | None = start
        while current is not None and current not in seen:
            order.append(current)
            seen.add(current)
            current = successor.get(current)
    order.extend(i for i in range(len(pages)) if i not in seen)  # pages left in a cycle
    for index in order:
        following = successor.get(index)
        if following is not None and following in seen:
            pages[index].body[-1] = pages[index].body[-1] + pages[following].body[0]
            pages[following].body = pages[following].body[1:]
    return [pages[i] for i in order]


def _prose(paragraph: list[str], vocabulary: Vocabulary, *, body: bool) -> str:
    text = reflow(paragraph, vocabulary)
    if body:
        text = strip_note_numbers(text)
    return squash(split_glued(unglue_sentences(text), vocabulary))


def clean_pdf_text(text: str, vocabulary: Vocabulary) -> CleanText:
    """Reflow pages into paragraphs, set footnotes aside, mend broken and glued words."""
    pages = _pages(text)
    for page in pages:
        page.body = _merge_split(page.body)
        page.notes = _merge_split(page.notes)
    pages = _chain_pages(pages, vocabulary)
    blocks: list[Block] = []
    notes: list[list[str]] = []
    for page in pages:
        for paragraph in page.body:
            if _is_heading(paragraph):
                blocks.append(Block("heading", _prose(paragraph, vocabulary, body=False), 2))
            else:
                prose = _prose(paragraph, vocabulary, body=True)
                if prose:
                    blocks.append(Block("paragraph", prose))
        for index, note in enumerate(page.notes):
            carried_over = index == 0 and notes and not _NOTE_START.match(note[0])
            if carried_over and _continues(notes[-1], note):
                notes[-1] = notes[-1] + note
            else:
                notes.append(note)
    cleaned_notes = (_prose(note, vocabulary, body=False) for note in notes)
    return CleanText(tuple(blocks), tuple(n for n in cleaned_notes if n))
