"""Core replies as Discord messages that Discord will always accept.

Discord rejects a whole message when one limit is passed (2,000 characters of content,
4,096 in an embed description, 25 fields, 6,000 characters over the embeds), so every
renderer here clips or splits its text to fit instead of trusting the library's lengths.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import discord

from bot.answers.model import Citation, RetrievedPassage, SectionPointer
from bot.core.replies import (
    AboutReply,
    AnswerReply,
    Confirmation,
    HelpReply,
    LibraryReply,
    PassageView,
    Refusal,
    Reply,
    SearchReply,
    SettingsReply,
    UnansweredReply,
)

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
_SOURCES_BUDGET = 3000
_SNIPPET = 300

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
    """`text` cut to `limit` characters, ending with an ellipsis when cut."""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - 1)].rstrip() + "…"


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
            cut = limit
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
        label = clip(name if index == 0 else f"{name} (continued)", FIELD_NAME_LIMIT)
        if len(embed.fields) >= FIELDS_LIMIT or embed_size(embed) + len(label) + len(
            block
        ) > budget:
            break
        embed.add_field(name=label, value=block, inline=False)


def _fit(embed: discord.Embed) -> discord.Embed:
    """Trim the description until the embed is within Discord's total."""
    over = embed_size(embed) - EMBED_TOTAL_LIMIT
    if over > 0 and embed.description:
        embed.description = clip(embed.description, max(1, len(embed.description) - over))
    return embed


def _where(title: str, author: str, section: str) -> str:
    parts = [f"*{clip(title, 150)}*"]
    if author:
        parts.append(clip(author, 100))
    if section:
        parts.append(f"§ {clip(section, 100)}")
    return ", ".join(parts)


# -------------------------------------------------------------------------- answers


def shown_citations(reply: AnswerReply) -> list[Citation]:
    """One citation per marker, in marker order, as many as the place shows."""
    seen: dict[int, Citation] = {}
    for citation in sorted(reply.answer.citations, key=lambda c: c.marker):
        seen.setdefault(citation.marker, citation)
    return list(seen.values())[: reply.sources_shown]


def citation_lines(citations: Iterable[Citation], show_quotes: bool) -> list[str]:
    lines = []
    for c in citations:
        line = f"**[{c.marker}]** {_where(c.title, c.author, c.section)} · `{c.passage_id}`"
        if show_quotes and c.quote:
            line += f"\n> {clip(c.quote, 300)}"
        lines.append(line)
    return lines


def pointer_lines(pointers: Iterable[SectionPointer]) -> list[str]:
    return [f"• {_where(p.title, p.author, p.section)} · `{p.passage_id}`" for p in pointers]


def render_answer(reply: AnswerReply) -> Outgoing:
    """The answer embed: text with markers, then the numbered sources or where to read on."""
    answer = reply.answer
    embed = _embed(answer.question, "", COLOUR if answer.answered else REFUSAL_COLOUR)
    embed.set_footer(text="Quoted from the library; check the sources.")
    if answer.answered:
        lines = citation_lines(shown_citations(reply), reply.show_quotes)
        if sum(len(line) + 1 for line in lines) > _SOURCES_BUDGET:
            # Every source must be listed: drop the quotes before dropping a source.
            lines = citation_lines(shown_citations(reply), show_quotes=False)
        _add_fields(embed, "Sources", lines, embed_size(embed) + _SOURCES_BUDGET)
    elif answer.closest:
        _add_fields(embed, "Closest sections", pointer_lines(answer.closest),
                    embed_size(embed) + _SOURCES_BUDGET)
    room = min(DESCRIPTION_LIMIT, EMBED_TOTAL_LIMIT - embed_size(embed))
    embed.description = clip(answer.text, room) or "…"
    return Outgoing(embed=_fit(embed))


def render_passage_page(passage: RetrievedPassage, index: int, total: int) -> discord.Embed:
    """One retrieved passage, as a page of the "Show passages" pager."""
    embed = _embed(passage.title, clip(passage.text, _DESCRIPTION_BUDGET))
    embed.add_field(
        name="From",
        value=clip(f"{passage.author or 'unknown author'} · § {passage.section or '—'}",
                   FIELD_VALUE_LIMIT),
        inline=False,
    )
    embed.set_footer(text=clip(f"Passage {index + 1} of {total} · {passage.passage_id} · "
                               f"score {passage.score:.2f}", FOOTER_LIMIT))
    return embed


# -------------------------------------------------------------------------- other replies


def render_search(reply: SearchReply) -> list[Outgoing]:
    if not reply.hits:
        return [Outgoing(content=clip(f"Nothing in the library matches “{reply.query}”.",
                                      CONTENT_LIMIT))]
    lines = [
        f"**{n}.** {_where(h.title, h.author, h.section)} · `{h.passage_id}` · {h.score:.2f}\n"
        f"> {clip(' '.join(h.text.split()), _SNIPPET)}"
        for n, h in enumerate(reply.hits, start=1)
    ]
    title = f"Passages for “{reply.query}”"
    return _paged(title, lines, footer="/source <id> shows a whole passage.")


def render_passage(view: PassageView) -> list[Outgoing]:
    """A whole passage; a passage longer than one embed continues in further messages."""
    pieces = split_text(view.text, _DESCRIPTION_BUDGET) or ["(empty passage)"]
    messages: list[Outgoing] = []
    for index, piece in enumerate(pieces):
        title = view.title if index == 0 else f"{view.title} (continued)"
        embed = _embed(title, piece)
        if index == 0:
            embed.add_field(
                name="From",
                value=clip(f"{view.author or 'unknown author'} · § {view.section or '—'}",
                           FIELD_VALUE_LIMIT),
                inline=False,
            )
        if index == len(pieces) - 1:
            around = " · ".join(
                part for part in (
                    f"← {view.previous_id}" if view.previous_id else "",
                    f"{view.next_id} →" if view.next_id else "",
                ) if part
            )
            embed.set_footer(text=clip(f"{view.passage_id}  {around}".strip(), FOOTER_LIMIT))
        messages.append(Outgoing(embed=_fit(embed)))
    return messages


def render_library(reply: LibraryReply) -> list[Outgoing]:
    lines = [
        f"`{d.doc_id}` **{d.title}** — {d.author or 'unknown author'}"
        f"{f' ({d.year})' if d.year else ''} · {d.passages} passages"
        for d in reply.documents
    ]
    return _paged("The library", lines or ["(no documents)"],
                  footer=f"{len(reply.documents)} documents")


def render_help(reply: HelpReply) -> list[Outgoing]:
    lines = [
        f"`/{'samizdat ' if c.admin_only else ''}{c.name}` — {c.summary}" for c in reply.commands
    ]
    lines.append("**Ask Samizdat** (message menu › Apps) — ask about a message's text.")
    lines.append("Mention the bot with a question to ask it in the channel.")
    return _paged("Samizdat commands", lines, footer="Answers quote the library and cite it.")


def render_about(reply: AboutReply) -> list[Outgoing]:
    embed = _embed(
        "About Samizdat",
        "Answers history questions by quoting a library of texts, and cites every source.",
    )
    embed.add_field(name="Version", value=reply.version)
    embed.add_field(name="Library", value=f"{reply.documents} documents, {reply.passages} passages")
    embed.add_field(name="Indexed", value=discord.utils.format_dt(reply.indexed_at, "f"))
    return [Outgoing(embed=embed)]


def render_settings(reply: SettingsReply) -> list[Outgoing]:
    lines = [f"`{name}`: {clip(value, 200)}" for name, value in reply.values.items()]
    embed = _embed("Settings for this server", "\n".join(lines))
    changes = [
        f"{discord.utils.format_dt(c.at, 'R')} <@{c.user_id}> `{c.setting}`: "
        f"{clip(c.old_value or '—', 80)} → {clip(c.new_value or '—', 80)}"
        for c in reply.recent_changes
    ]
    if changes:
        _add_fields(embed, "Recent changes", changes, EMBED_TOTAL_LIMIT)
    return [Outgoing(embed=_fit(embed))]


def render_unanswered(reply: UnansweredReply) -> list[Outgoing]:
    if not reply.items:
        return [Outgoing(content="No unanswered questions recorded here.")]
    lines = [
        f"{discord.utils.format_dt(item.at, 'R')}"
        f"{f' <#{item.channel}>' if item.channel else ''}"
        f"{f' <@{item.user_id}>' if item.user_id else ''}: {clip(item.question, 300)}"
        for item in reply.items
    ]
    return _paged("Questions the library did not answer", lines, footer="Newest first.")


def render_text(message: str) -> Outgoing:
    return Outgoing(content=clip(message, CONTENT_LIMIT))


def render(reply: Reply) -> list[Outgoing]:
    """Any core reply as the messages that show it."""
    match reply:
        case AnswerReply():
            return [render_answer(reply)]
        case SearchReply():
            return render_search(reply)
        case PassageView():
            return render_passage(reply)
        case LibraryReply():
            return render_library(reply)
        case HelpReply():
            return render_help(reply)
        case AboutReply():
            return render_about(reply)
        case SettingsReply():
            return render_settings(reply)
        case UnansweredReply():
            return render_unanswered(reply)
        case Confirmation() | Refusal():
            return [render_text(reply.message)]


def _paged(title: str, lines: Sequence[str], *, footer: str) -> list[Outgoing]:
    """Lines as one embed per message, as many messages as the text needs."""
    blocks = pack_lines(lines, _DESCRIPTION_BUDGET)
    messages = []
    for index, block in enumerate(blocks):
        embed = _embed(title if index == 0 else f"{title} (continued)", block)
        if index == len(blocks) - 1:
            embed.set_footer(text=clip(footer, FOOTER_LIMIT))
        messages.append(Outgoing(embed=_fit(embed)))
    return messages
