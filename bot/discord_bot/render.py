"""Documents as Discord messages that Discord will always accept.

The words come from `bot.core.present`; this module lays them out as embeds (the body in
the description, an answer's sources and notes as fields, a footer) or as plain content,
and spells commands the Discord way (`/ask`, `/samizdat settings set`).

Discord rejects a whole message when one limit is passed (2,000 characters of content,
4,096 in an embed description, 25 fields, 6,000 characters over the embeds), so every
renderer here clips or splits its text to fit instead of trusting the library's lengths.

Text that is not ours (`Literal` spans: the library's quotes, titles and passages, and what
users typed) goes through `literal`, so a `*`, `_`, `~`, a backtick, `>` or `||` in it shows as
written instead of turning into Discord Markdown. Our own formatting around it (bold markers,
code spans for passage ids) is added after. Footers, thread names and autocomplete choices
are plain text in Discord and are never escaped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import discord

from bot.answers.model import RetrievedPassage
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
    Tone,
)
from bot.core.present import CONTINUED, passage_page, present
from bot.core.replies import AnswerReply, Reply

CONTENT_LIMIT = 2000
TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FIELDS_LIMIT = 25
FIELD_NAME_LIMIT = 256
FIELD_VALUE_LIMIT = 1024
FOOTER_LIMIT = 2048
EMBED_TOTAL_LIMIT = 6000
THREAD_NAME_LIMIT = 100
CHOICE_NAME_LIMIT = 100

# Room left in one embed for a footer and title whatever the text: descriptions stop here.
_DESCRIPTION_BUDGET = 4000
# What one headed part (an answer's sources, its notes) may take of an embed at most.
_SECTION_BUDGET = 3000

COLOUR = discord.Colour(0xA51C30)
REFUSAL_COLOUR = discord.Colour.light_grey()


@dataclass(frozen=True)
class Outgoing:
    """One message to send: text, an embed, or both."""

    content: str | None = None
    embed: discord.Embed | None = None

    def kwargs(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.content is not None:
            out["content"] = self.content
        if self.embed is not None:
            out["embed"] = self.embed
        return out


# -------------------------------------------------------------------------- text helpers


def clip(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, ending with an ellipsis when cut.

    A cut never leaves half of a Markdown escape (a lone backslash) before the ellipsis.
    """
    if len(text) <= limit:
        return text
    return _whole_escapes(text[: max(0, limit - 1)].rstrip()) + "…"


def _whole_escapes(text: str) -> str:
    """`text` without a trailing backslash that would escape whatever follows it."""
    trailing = len(text) - len(text.rstrip("\\"))
    return text[:-1] if trailing % 2 else text


# What Discord would read as Markdown or as a live reference, in one linear pass (discord.py's
# `escape_markdown` looks ahead over the rest of the text at every mark: a 6,000-character
# paste of `[` and `](` took 40 s). Links are left whole, as discord.py leaves them: a
# backslash inside one would become part of its address.
_MARKUP = re.compile(
    r"(?P<link>https?://[^\s<>]+)"
    r"|(?P<mark>[\\*_~`|\[])"  # emphasis, code, spoilers, masked links, and escapes
    r"|(?P<ref><(?=[@#:/]|a:|t:))"  # <@user>, <#channel>, <:emoji:>, </command:>, <t:stamp>
    r"|(?P<everyone>@(?=everyone|here))"
    r"|^(?P<lead>[ \t]*)(?P<block>>|#|-|\d+(?=\.))",  # quotes, headings, lists
    re.MULTILINE,
)


def _escaped(match: re.Match[str]) -> str:
    if match["link"] is not None:
        return match["link"]
    if match["block"] is not None:
        block = match["block"]
        return f"{match['lead']}{block}\\" if block[0].isdigit() else f"{match['lead']}\\{block}"
    return "\\" + match[0]


def escape(text: str) -> str:
    """`text` as Discord shows it literally: every Markdown mark and live reference
    backslash-escaped, in time linear in its length."""
    return _MARKUP.sub(_escaped, text)


def literal(text: str, limit: int | None = None) -> str:
    """Library or user text that Discord shows as written: clipped, then escaped, then
    clipped again to the escaped length (never escaped whole and cut after: that cost
    time on huge pastes and could cut an escape in half)."""
    if limit is None:
        return escape(text)
    return clip(escape(text[:limit]), limit)


def split_text(text: str, limit: int) -> list[str]:
    """`text` in pieces of at most `limit` characters, broken at paragraphs, lines or words."""
    pieces: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        window = rest[:limit]
        cut = -1
        for mark in ("\n\n", "\n", ". ", " "):
            cut = window.rfind(mark)
            if cut > limit // 2:
                cut += len(mark)
                break
        if cut <= limit // 2:
            cut = len(_whole_escapes(rest[:limit]))
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        pieces.append(rest)
    return pieces


def pack_lines(lines: Iterable[str], limit: int) -> list[str]:
    """Lines joined into blocks of at most `limit` characters; an overlong line is clipped."""
    blocks: list[str] = []
    current = ""
    for raw in lines:
        line = clip(raw, limit)
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            blocks.append(current)
            current = line
        else:
            current = candidate
    if current:
        blocks.append(current)
    return blocks


def embed_size(embed: discord.Embed) -> int:
    """The characters Discord counts towards an embed's 6,000 limit."""
    size = len(embed.title or "") + len(embed.description or "")
    size += sum(len(f.name or "") + len(f.value or "") for f in embed.fields)
    size += len(embed.footer.text or "") + len(embed.author.name or "")
    return size


def _embed(title: str, description: str = "", colour: discord.Colour = COLOUR) -> discord.Embed:
    return discord.Embed(
        title=clip(title, TITLE_LIMIT),
        description=clip(description, DESCRIPTION_LIMIT) if description else None,
        colour=colour,
    )


def _add_fields(embed: discord.Embed, name: str, lines: Sequence[str], budget: int) -> None:
    """Add `lines` as one or more fields, stopping before the embed would pass `budget`."""
    for index, block in enumerate(pack_lines(lines, FIELD_VALUE_LIMIT)):
        label = clip(name if index == 0 else f"{name} {CONTINUED}", FIELD_NAME_LIMIT)
        if (
            len(embed.fields) >= FIELDS_LIMIT
            or embed_size(embed) + len(label) + len(block) > budget
        ):
            break
        embed.add_field(name=label, value=block, inline=False)


def _fit(embed: discord.Embed) -> discord.Embed:
    """Trim the description until the embed is within Discord's total."""
    over = embed_size(embed) - EMBED_TOTAL_LIMIT
    if over > 0 and embed.description:
        embed.description = clip(embed.description, max(1, len(embed.description) - over))
    return embed


# -------------------------------------------------------------------------- layout


def render(reply: Reply) -> list[Outgoing]:
    """Any core reply as the messages that show it."""
    return render_document(present(reply))


def render_answer(reply: AnswerReply) -> Outgoing:
    """An answer is always one embed: its text is cut to fit beside its sources."""
    [message] = render_document(present(reply))
    return message


def render_passage_page(passage: RetrievedPassage, index: int, total: int) -> discord.Embed:
    """One retrieved passage, as a page of the "Show passages" pager."""
    [message] = render_document(passage_page(passage, index, total))
    assert message.embed is not None  # a titled document is an embed
    return message.embed


def render_document(document: Document) -> list[Outgoing]:
    """A short notice as plain content; anything else as one embed, or several for a body
    longer than one embed holds (a whole passage, a long list)."""
    if document.is_short:
        text = "\n".join(_markdown(b.line) for b in document.blocks if isinstance(b, Paragraph))
        return [Outgoing(content=clip(text, CONTENT_LIMIT))]
    title = (
        _markdown(document.title)
        if document.title
        else literal(document.subject or "", TITLE_LIMIT)
    )
    colour = REFUSAL_COLOUR if document.tone in {Tone.DECLINED, Tone.NOTICE} else COLOUR
    footer = clip(_plain(document.footer), FOOTER_LIMIT) if document.footer else None
    if document.sections:
        return [_one_embed(document, title, colour, footer)]
    return _paged(document.blocks, title, colour, footer)


def _one_embed(
    document: Document, title: str, colour: discord.Colour, footer: str | None
) -> Outgoing:
    """Parts as fields first, then the body in the room they leave: an answer's sources are
    never cut for a long answer text."""
    embed = _embed(title, "", colour)
    if footer:
        embed.set_footer(text=footer)
    for section in document.sections:
        lines = [line for block in section.blocks for line in _lines(block)]
        budget = min(embed_size(embed) + _SECTION_BUDGET, EMBED_TOTAL_LIMIT - 100)
        _add_fields(embed, section.heading, lines, budget)
    room = min(DESCRIPTION_LIMIT, EMBED_TOTAL_LIMIT - embed_size(embed))
    body = "\n".join(line for block in document.blocks for line in _lines(block))
    embed.description = clip(body, room) or "…"
    return Outgoing(embed=_fit(embed))


def _paged(
    blocks: Sequence[Block], title: str, colour: discord.Colour, footer: str | None
) -> list[Outgoing]:
    """The body over as many embeds as it needs; the footer on the last."""
    pieces: list[str] = []
    for block in blocks:
        if isinstance(block, Quote) and block.whole:
            pieces += split_text(literal(block.text), _DESCRIPTION_BUDGET)
        else:
            pieces += pack_lines(_lines(block), _DESCRIPTION_BUDGET)
    pieces = pieces or ["…"]
    first_title = clip(title, TITLE_LIMIT)
    later_title = clip(title, TITLE_LIMIT - len(CONTINUED) - 1) + f" {CONTINUED}"
    messages = []
    for index, piece in enumerate(pieces):
        embed = _embed(first_title if index == 0 else later_title, piece, colour)
        if footer and index == len(pieces) - 1:
            embed.set_footer(text=footer)
        messages.append(Outgoing(embed=_fit(embed)))
    return messages


def _lines(block: Block) -> list[str]:
    match block:
        case Paragraph():
            return [_markdown(block.line)]
        case Quote():
            return [literal(block.text, _DESCRIPTION_BUDGET)]
        case Items():
            lines = []
            for number, item in enumerate(block.items, start=1):
                lead = {
                    ListStyle.NUMBERED: f"**{number}.** ",
                    ListStyle.BULLETED: "• ",
                    ListStyle.CITED: f"**[{number}]** ",
                }[block.style]
                line = lead + _markdown(item.line)
                if item.quote is not None:
                    line += f"\n> {literal(item.quote)}"
                lines.append(line)
            return lines
    raise TypeError(f"no Discord layout for {type(block).__name__}")  # pragma: no cover


def _markdown(line: Line) -> str:
    parts: list[str] = []
    for span in line:
        match span:
            case Text():
                parts.append(span.text)
            case Literal():
                shown = literal(span.text, span.limit)
                parts.append(f"*{shown}*" if span.emphasis else shown)
            case Code():
                parts.append("`" + span.text.replace("`", "'") + "`")
            case Strong():
                parts.append(f"**{span.text}**")
            case PassageRef():
                parts.append(f" · `{span.passage_id}`")
            case CommandName():
                parts.append(f"`{_slash(span)}`")
            case Person():
                parts.append(f"<@{span.user_id}>")
            case Channel():
                parts.append(f"<#{span.channel_id}>")
            case Moment():
                parts.append(discord.utils.format_dt(span.at, "f"))
    return "".join(parts)


def _plain(line: Line) -> str:
    """A line for the places Discord shows as plain text (footers)."""
    parts: list[str] = []
    for span in line:
        match span:
            case Text() | Code() | Strong():
                parts.append(span.text)
            case Literal():
                parts.append(clip(span.text, span.limit) if span.limit else span.text)
            case PassageRef():
                parts.append(f" · {span.passage_id}")
            case CommandName():
                parts.append(_slash(span))
            case Person():
                parts.append(span.user_id)
            case Channel():
                parts.append(f"#{span.channel_id}")
            case Moment():
                parts.append(f"{span.at:%Y-%m-%d %H:%M} UTC")
    return "".join(parts)


def _slash(command: CommandName) -> str:
    return f"/{'samizdat ' if command.admin_only else ''}{command.name}"
