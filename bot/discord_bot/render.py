"""Core replies as Discord messages that Discord will always accept.

Discord rejects a whole message when one limit is passed (2,000 characters of content,
4,096 in an embed description, 25 fields, 6,000 characters over the embeds), so every
renderer here clips or splits its text to fit instead of trusting the library's lengths.

Text that is not ours (the library's quotes, titles and passages, and what users typed) goes
through `literal`, so a `*`, `_`, `~`, a backtick, `>` or `||` in it shows as written instead
of turning into Discord Markdown. Our own formatting around it (bold markers, code spans for
passage ids) is added after. Footers, thread names and autocomplete choices are plain text in
Discord and are never escaped.
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
_NOTES_BUDGET = 600

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


def literal(text: str, limit: int | None = None) -> str:
    """Library or user text that Discord shows as written: Markdown escaped, then clipped."""
    escaped = discord.utils.escape_markdown(text)
    return escaped if limit is None else clip(escaped, limit)


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
        label = clip(name if index == 0 else f"{name} (continued)", FIELD_NAME_LIMIT)
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


def _where(title: str, author: str, section: str) -> str:
    parts = [f"*{literal(title, 150)}*"]
    if author:
        parts.append(literal(author, 100))
    if section:
        parts.append(f"§ {literal(section, 100)}")
    return ", ".join(parts)


# -------------------------------------------------------------------------- answers


def citation_lines(citations: Iterable[Citation]) -> list[str]:
    """The numbered sources: where each quote comes from. The quotes are in the answer text."""
    return [
        f"**[{c.marker}]** {_where(c.title, c.author, c.section)} · `{c.passage_id}`"
        for c in citations
    ]


def pointer_lines(pointers: Iterable[SectionPointer]) -> list[str]:
    return [f"• {_where(p.title, p.author, p.section)} · `{p.passage_id}`" for p in pointers]


def answer_text(reply: AnswerReply, shown: Sequence[Citation]) -> str:
    """The description: the quotes with their markers, or only the markers when the place
    asked not to quote (the sources still say where to read)."""
    answer = reply.answer
    if not answer.answered or reply.show_quotes or not shown:
        return literal(answer.text)
    markers = " ".join(f"[{c.marker}]" for c in shown)
    return f"The library answers this in {markers}."


def render_answer(reply: AnswerReply) -> Outgoing:
    """The answer embed: text with markers, then the numbered sources or where to read on.

    Each quote appears once, in the text; a source line names its document, author, section
    and passage id, so the embed never repeats a quote under its source.
    """
    answer = reply.answer
    embed = _embed(literal(answer.question), "", COLOUR if answer.answered else REFUSAL_COLOUR)
    embed.set_footer(text="Quoted from the library; check the sources.")
    # The core numbers citations 1..n and never gives more than the place shows.
    shown = answer.citations if answer.answered else []
    if shown:
        _add_fields(embed, "Sources", citation_lines(shown), embed_size(embed) + _SOURCES_BUDGET)
        caveats = sorted({c.caveat for c in shown if c.caveat})
        if caveats:
            notes = [f"Note: {literal(caveat)}" for caveat in caveats]
            _add_fields(embed, "Read with care", notes, embed_size(embed) + _NOTES_BUDGET)
    elif answer.closest:
        _add_fields(
            embed,
            "Closest sections",
            pointer_lines(answer.closest),
            embed_size(embed) + _SOURCES_BUDGET,
        )
    room = min(DESCRIPTION_LIMIT, EMBED_TOTAL_LIMIT - embed_size(embed))
    embed.description = clip(answer_text(reply, shown), room) or "…"
    return Outgoing(embed=_fit(embed))


def render_passage_page(passage: RetrievedPassage, index: int, total: int) -> discord.Embed:
    """One retrieved passage, as a page of the "Show passages" pager."""
    embed = _embed(literal(passage.title), literal(passage.text, _DESCRIPTION_BUDGET))
    embed.add_field(
        name="From",
        value=_origin(passage.author, passage.section),
        inline=False,
    )
    embed.set_footer(
        text=clip(
            f"Passage {index + 1} of {total} · {passage.passage_id} · score {passage.score:.2f}",
            FOOTER_LIMIT,
        )
    )
    return embed


def _origin(author: str, section: str) -> str:
    return clip(
        f"{literal(author) if author else 'unknown author'} · § {literal(section) or '—'}",
        FIELD_VALUE_LIMIT,
    )


# -------------------------------------------------------------------------- other replies


def render_search(reply: SearchReply) -> list[Outgoing]:
    if not reply.hits:
        return [
            Outgoing(
                content=clip(
                    f"Nothing in the library matches “{literal(reply.query)}”.", CONTENT_LIMIT
                )
            )
        ]
    lines = [
        f"**{n}.** {_where(h.title, h.author, h.section)} · `{h.passage_id}` · {h.score:.2f}\n"
        f"> {literal(' '.join(h.text.split()), _SNIPPET)}"
        for n, h in enumerate(reply.hits, start=1)
    ]
    title = f"Passages for “{literal(reply.query)}”"
    return _paged(title, lines, footer="/source <id> shows a whole passage.")


def render_passage(view: PassageView) -> list[Outgoing]:
    """A whole passage; a passage longer than one embed continues in further messages."""
    pieces = split_text(literal(view.text), _DESCRIPTION_BUDGET) or ["(empty passage)"]
    messages: list[Outgoing] = []
    title = literal(view.title, TITLE_LIMIT - len(" (continued)"))
    for index, piece in enumerate(pieces):
        embed = _embed(title if index == 0 else f"{title} (continued)", piece)
        if index == 0:
            embed.add_field(name="From", value=_origin(view.author, view.section), inline=False)
        if index == len(pieces) - 1:
            around = " · ".join(
                part
                for part in (
                    f"← {view.previous_id}" if view.previous_id else "",
                    f"{view.next_id} →" if view.next_id else "",
                )
                if part
            )
            embed.set_footer(text=clip(f"{view.passage_id}  {around}".strip(), FOOTER_LIMIT))
        messages.append(Outgoing(embed=_fit(embed)))
    return messages


def render_library(reply: LibraryReply) -> list[Outgoing]:
    lines = [
        f"`{d.doc_id}` **{literal(d.title)}** — {literal(d.author) or 'unknown author'}"
        f"{f' ({d.year})' if d.year else ''} · {d.passages} passages"
        for d in reply.documents
    ]
    return _paged(
        "The library", lines or ["(no documents)"], footer=f"{len(reply.documents)} documents"
    )


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
    lines = [f"`{name}`: {literal(value, 200)}" for name, value in reply.values.items()]
    embed = _embed("Settings for this server", "\n".join(lines))
    changes = [
        f"{discord.utils.format_dt(c.at, 'R')} <@{c.user_id}> `{c.setting}`: "
        f"{literal(c.old_value or '—', 80)} → {literal(c.new_value or '—', 80)}"
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
        f"{f' <@{item.user_id}>' if item.user_id else ''}: {literal(item.question, 300)}"
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
