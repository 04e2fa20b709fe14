"""Turn a library file, in whatever shape its source left it, into quotable text.

The bot quotes the cleaned text verbatim and cites it, so cleaning removes only what is
not the authors' prose (markup, site furniture, page furniture, footnote numbers) and
repairs what extraction broke (wrapped lines, split and glued words). Footnotes and
reference lists are kept aside as notes. Cleaning is total: any string yields a result.
"""

from __future__ import annotations

import re
from enum import StrEnum

from bot.library._cleaning_common import (
    Block,
    CleaningHints,
    CleanText,
    Vocabulary,
    sanitize,
)
from bot.library._cleaning_markdown import clean_markdown
from bot.library._cleaning_pdf import clean_pdf_text
from bot.library._cleaning_text import clean_text

__all__ = [
    "Block",
    "CleanText",
    "CleaningHints",
    "DocFormat",
    "Vocabulary",
    "clean",
    "guess_format",
]

_PDF_SHAPE_MIN_LINES = 20
_WRAP_WIDTH = 100


class DocFormat(StrEnum):
    """The source shapes the cleaners know."""

    WIKI_MARKDOWN = "wiki-markdown"
    MARKDOWN = "markdown"
    WEB_ARTICLE = "web-article"
    TEXT = "text"
    PDF_TEXT = "pdf-text"


def guess_format(filename: str, raw: str) -> DocFormat:
    """Guess a file's format from its name and shape, for documents added without one."""
    name = filename.lower()
    if name.endswith((".md", ".markdown")):
        if 'class="wikilink"' in raw or re.search(r"^\[\^[^\]]+\]:", raw, re.MULTILINE):
            return DocFormat.WIKI_MARKDOWN
        return DocFormat.MARKDOWN
    lines = [line for line in sanitize(raw).split("\n") if line.strip()]
    if len(lines) >= _PDF_SHAPE_MIN_LINES:
        wrapped = sum(1 for line in lines if len(line) <= _WRAP_WIDTH)
        broken = sum(1 for line in lines if re.search(r"[^\W\d_]-$", line))
        if wrapped >= 0.9 * len(lines) and broken >= 0.03 * len(lines):
            return DocFormat.PDF_TEXT
    return DocFormat.TEXT


def clean(
    raw: str,
    fmt: DocFormat,
    vocabulary: Vocabulary,
    hints: CleaningHints = CleaningHints(),  # noqa: B008 - frozen, so sharing is safe
) -> CleanText:
    """Clean one document; `vocabulary` is the whole library's, to judge broken words."""
    text = sanitize(raw)
    if not text.strip():
        return CleanText()
    match fmt:
        case DocFormat.WIKI_MARKDOWN | DocFormat.MARKDOWN:
            return clean_markdown(text, vocabulary)
        case DocFormat.WEB_ARTICLE:
            return clean_text(text, hints, web=True)
        case DocFormat.PDF_TEXT:
            return clean_pdf_text(text, vocabulary)
        case _:
            return clean_text(text, hints)
