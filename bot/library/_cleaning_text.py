"""Plain text with one paragraph a line: books, essays and web articles saved as text."""

from __future__ import annotations

import re

from bot.library._cleaning_common import (
    Block,
    CleaningHints,
    CleanText,
    ends_sentence,
    squash,
    strip_note_numbers,
)

HEADING_MAX = 80
TITLE_MAX = 200
_CAPTION_MAX = 60
_BACK_MATTER = re.compile(
    r"^(further reading|references|notes|endnotes|footnotes|bibliography|sources|"
    r"works cited|suggested reading)\s*:?$",
    re.IGNORECASE,
)
_REFERENCE_ITEM = re.compile(r"^(?:[-–•*]\s+|\d{1,3}[.)]\s+|\[\d{1,3}\]\s*)")
_SOURCE_NOTE = re.compile(
    r"^\((?:source|sources|from|originally|first published|translated)\b.*\)$", re.IGNORECASE
)
# Web-site furniture that follows an article; the article ends at the first of these.
_BOILERPLATE = (
    "support countercurrents",
    "join our newsletter",
    "join our whatsapp",
    "become a patron",
    "related posts",
    "latest news",
    "annual subscription",
    "share this:",
    "like this:",
    "leave a reply",
    "leave a comment",
    "subscribe to our newsletter",
    "you may also like",
    "related articles",
)


def is_heading_line(line: str) -> bool:
    """Short, unpunctuated lines between paragraphs are section headings."""
    return (
        len(line) < HEADING_MAX
        and not ends_sentence(line)
        and not line.rstrip().endswith((",", "-"))
        and any(ch.isalpha() for ch in line)
    )


def _lines(text: str, hints: CleaningHints) -> list[str]:
    dropped = {squash(line) for line in hints.drop_lines}
    return [s for s in (squash(line) for line in text.split("\n")) if s and s not in dropped]


def _cut_at_end(lines: list[str], hints: CleaningHints) -> list[str]:
    """The article ends before the site furniture (or the document's own end marker)."""
    for index, line in enumerate(lines):
        if index == 0:
            continue
        if hints.end_marker and line.startswith(hints.end_marker.strip()):
            return lines[:index]
        if line.lower().startswith(_BOILERPLATE):
            return lines[:index]
    return lines


def _body_and_notes(lines: list[str]) -> tuple[list[str], list[str]]:
    """Split off back matter: a "Further Reading"/"References" section, a trailing
    reference list, and a closing "(Source: ...)" note."""
    for index, line in enumerate(lines):
        if index > 0 and _BACK_MATTER.match(line):
            return lines[:index], lines[index + 1 :]
    end = len(lines)
    while end > 1 and (_REFERENCE_ITEM.match(lines[end - 1]) or _SOURCE_NOTE.match(lines[end - 1])):
        end -= 1
    return lines[:end], lines[end:]


def _note_text(line: str) -> str:
    return squash(_REFERENCE_ITEM.sub("", line, count=1))


def clean_text(text: str, hints: CleaningHints, *, web: bool = False) -> CleanText:
    """First line is the title; short lines are headings; the rest are paragraphs."""
    lines = _lines(text, hints)
    if web:
        lines = _cut_at_end(lines, hints)
    if not lines:
        return CleanText()
    body, raw_notes = _body_and_notes(lines)
    blocks: list[Block] = []
    rest = body
    if len(body[0]) < TITLE_MAX and not ends_sentence(body[0]):
        blocks.append(Block("heading", body[0], 1))
        rest = body[1:]
    if web and len(rest) > 1 and is_heading_line(rest[0]) and len(rest[0]) <= _CAPTION_MAX:
        rest = rest[1:]  # an image caption under the title, not a heading nor the author
    for line in rest:
        if is_heading_line(line):
            blocks.append(Block("heading", line, 2))
        else:
            paragraph = squash(strip_note_numbers(line))
            if paragraph:
                blocks.append(Block("paragraph", paragraph))
    notes = tuple(n for n in (_note_text(line) for line in raw_notes) if n)
    return CleanText(tuple(blocks), notes)
