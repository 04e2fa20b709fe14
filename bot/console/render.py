"""Documents as terminal text: the one place that decides how the terminal looks.

The words come from `bot.core.present`; this module wraps them to the terminal's width.
"""

from __future__ import annotations

import textwrap

from bot.core.document import (
    Block,
    Channel,
    Code,
    CommandName,
    Document,
    Items,
    Line,
    ListStyle,
    Literal,
    Moment,
    Paragraph,
    PassageRef,
    Person,
    Quote,
    Strong,
    Text,
)
from bot.core.present import present
from bot.core.replies import Reply

WIDTH = 88


def render(reply: Reply) -> str:
    """Text for any core reply."""
    return render_document(present(reply))


def render_document(document: Document) -> str:
    lines: list[str] = []
    if document.title:
        lines.append(_text(document.title))
    for block in document.blocks:
        lines += _block(block)
    for section in document.sections:
        lines += ["", f"{section.heading}:"]
        for block in section.blocks:
            lines += _block(block)
    if document.footer:
        lines += ["", _wrap(_text(document.footer))]
    return "\n".join(lines).strip("\n")


def _wrap(text: str, indent: str = "", first: str | None = None) -> str:
    return textwrap.fill(
        text,
        WIDTH,
        initial_indent=indent if first is None else first,
        subsequent_indent=indent,
        break_on_hyphens=False,
    )


def _block(block: Block) -> list[str]:
    match block:
        case Paragraph():
            return [_wrap(_text(block.line))]
        case Quote():
            return [_wrap(block.text, "    ")]
        case Items():
            lines: list[str] = []
            for number, item in enumerate(block.items, start=1):
                lead = {
                    ListStyle.NUMBERED: f"{number}. ",
                    ListStyle.BULLETED: "- ",
                    ListStyle.CITED: f"[{number}] ",
                }[block.style]
                lines.append(_wrap(_text(item.line), "  ", first=lead))
                if item.quote is not None:
                    lines.append(_wrap(item.quote, "    "))
            return lines
    raise TypeError(f"no terminal layout for {type(block).__name__}")  # pragma: no cover


def _text(line: Line) -> str:
    parts: list[str] = []
    for span in line:
        match span:
            case Text() | Strong():
                parts.append(span.text)
            case Literal():
                limit = span.limit
                text = span.text
                if limit is not None and len(text) > limit:
                    text = text[: limit - 1].rstrip() + "…"
                parts.append(text)
            case Code():
                parts.append(f"`{span.text}`")
            case PassageRef():
                parts.append(f" · passage {span.passage_id}")
            case CommandName():
                parts.append(span.usage)
            case Person():
                parts.append(f"({span.user_id})")
            case Channel():
                parts.append(f"#{span.channel_id}")
            case Moment():
                parts.append(f"{span.at:%Y-%m-%d %H:%M} UTC")
    return "".join(parts)
