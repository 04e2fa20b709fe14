"""Markdown, including Markdown converted from MediaWiki (links as HTML, footnote lists)."""

from __future__ import annotations

import html
import re

from bot.library._cleaning_common import Block, CleanText, Vocabulary, reflow, squash

_FOOTNOTE_DEF = re.compile(r"^\[\^([^\]]+)\]:[ \t]*(.*)$")
_HEADING = re.compile(r"^(#{1,6})[ \t]+(.*?)[ \t#]*$")
_HEADING_MAX = 300
_ANCHOR = re.compile(r"<a\b([^<>]{0,2000})>(.{0,3000}?)</a\s*>", re.DOTALL | re.IGNORECASE)
_HREF = re.compile(r"""href\s*=\s*["']([^"']*)["']""", re.IGNORECASE)
_IMAGE = re.compile(r"!\[[^\[\]]{0,1000}\]\([^()]{0,2000}\)")
_MD_LINK = re.compile(
    r"\[([^\[\]]{1,1000})\]\((?:[^()\s]|\([^()\s]*\))*+(?:\s+\"[^\"]{0,500}\")?\)"
)
_FOOTNOTE_REF = re.compile(r"\[\^[^\[\]\s]{1,20}\]")
_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9]*(?:\s[^<>]*)?/?>")
_EMPHASIS = re.compile(
    r"\*\*(?=\S)([^*]{1,500}?)(?<=\S)\*\*|__(?=\S)([^_]{1,500}?)(?<=\S)__"
    r"|(?<![\w*])\*(?=\S)([^*]{1,500}?)(?<=\S)\*(?![\w*])"
)
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d{1,3}[.)])\s+")
_LINK_ONLY = re.compile(r"^\s*(?:[-*+]|\d{1,3}[.)])?\s*\[[^\]]*\]\([^)]*\)\s*[.;,]?\s*$", re.DOTALL)


def _anchor_text(match: re.Match[str]) -> str:
    href = _HREF.search(match.group(1))
    if href and href.group(1).lower().startswith("category:"):
        return ""
    return match.group(2)


def _inline(text: str) -> str:
    """Reduce Markdown/HTML markup in a paragraph to the words a reader sees."""
    text = _ANCHOR.sub(_anchor_text, text)
    text = _IMAGE.sub("", text)
    text = _MD_LINK.sub(r"\1", text)
    text = _FOOTNOTE_REF.sub("", text)
    text = _TAG.sub("", text)
    text = _EMPHASIS.sub(lambda m: m.group(1) or m.group(2) or m.group(3) or "", text)
    return squash(html.unescape(text))


def _split_footnotes(lines: list[str]) -> tuple[list[str], list[str]]:
    """Take `[^n]: ...` definitions (and their indented continuations) out of the body."""
    body: list[str] = []
    notes: list[list[str]] = []
    in_note = False
    for line in lines:
        definition = _FOOTNOTE_DEF.match(line)
        if definition:
            notes.append([definition.group(1), definition.group(2)])
            in_note = True
        elif in_note and (line.startswith(("    ", "\t")) or not line.strip()):
            notes[-1].append(line)
        else:
            in_note = False
            body.append(line)
    return body, [squash(" ".join(n)) for n in notes if any(line.strip() for line in n[1:])]


def _drop_empty_sections(blocks: list[Block]) -> list[Block]:
    """Drop headings left with nothing under them (e.g. "References" once lists are gone)."""
    kept: list[Block] = []
    for block in reversed(blocks):
        if block.kind == "heading":
            following = kept[-1] if kept else None
            if following is None or (
                following.kind == "heading" and following.level <= block.level
            ):
                continue
        kept.append(block)
    kept.reverse()
    return kept


def clean_markdown(text: str, vocabulary: Vocabulary) -> CleanText:
    """Headings by `#`, paragraphs by blank lines, markup reduced to its text."""
    body, raw_notes = _split_footnotes(text.split("\n"))
    body_text = re.sub(r"<references\s*/?>", "", "\n".join(body), flags=re.IGNORECASE)
    blocks: list[Block] = []
    for chunk in re.split(r"\n[ \t]*\n", body_text):
        lines = [line for line in chunk.split("\n") if line.strip()]
        if not lines:
            continue
        first = lines[0].strip()
        heading = _HEADING.match(first) if len(first) <= _HEADING_MAX else None
        if heading:
            title = _inline(heading.group(2))
            if title:
                blocks.append(Block("heading", title, len(heading.group(1))))
            lines = lines[1:]
            if not lines:
                continue
        if _LIST_ITEM.match(lines[0]) and _is_link_list(lines):
            continue
        paragraph = _inline(reflow(lines, vocabulary))
        if paragraph:
            blocks.append(Block("paragraph", paragraph))
    notes = tuple(note for note in (_inline(n) for n in raw_notes) if note)
    return CleanText(tuple(_drop_empty_sections(blocks)), notes)


def _is_link_list(lines: list[str]) -> bool:
    """Whether a list is only links (an "External links" list is not prose)."""
    items: list[str] = []
    for line in lines:
        if _LIST_ITEM.match(line):
            items.append(line)
        elif items:
            items[-1] += "\n" + line
    return bool(items) and all(_LINK_ONLY.match(item) for item in items)
