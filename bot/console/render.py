"""Core replies as terminal text. The only place that decides how the terminal looks."""

from __future__ import annotations

import textwrap
from functools import singledispatch

from bot.answers.model import Answer
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

WIDTH = 88


def _wrap(text: str, indent: str = "") -> str:
    return textwrap.fill(
        text, WIDTH, initial_indent=indent, subsequent_indent=indent, break_on_hyphens=False
    )


def render_answer(answer: Answer, show_quotes: bool = True) -> str:
    """The answer text, then its numbered sources; or the decline and where to read on."""
    lines: list[str] = []
    if not answer.answered:
        lines.append(_wrap(answer.text))
        if answer.closest:
            lines.append("")
            lines.append("Closest sections:")
            for pointer in answer.closest:
                lines.append(
                    _wrap(
                        f"- {pointer.title} — {pointer.author} · {pointer.section} "
                        f"· passage {pointer.passage_id}",
                        "  ",
                    ).lstrip()
                )
        return "\n".join(lines)
    if show_quotes:
        lines.append(_wrap(answer.text))
    else:
        markers = " ".join(f"[{c.marker}]" for c in answer.citations)
        lines.append(f"The library answers this in {markers}.")
    lines.append("")
    lines.append("Sources:")
    caveats: set[str] = set()
    for citation in answer.citations:
        lines.append(
            _wrap(
                f"[{citation.marker}] {citation.title} — {citation.author} · "
                f"{citation.section} · passage {citation.passage_id}"
            )
        )
        if citation.caveat:
            caveats.add(citation.caveat)
    for caveat in sorted(caveats):
        lines.append(_wrap(f"Note: {caveat}"))
    return "\n".join(lines)


@singledispatch
def render(reply: Reply) -> str:
    """Text for any core reply."""
    raise TypeError(f"no terminal rendering for {type(reply).__name__}")


@render.register
def _(reply: AnswerReply) -> str:
    return render_answer(reply.answer, reply.show_quotes)


@render.register
def _(reply: SearchReply) -> str:
    if not reply.hits:
        return "No passage matches those words."
    lines = [f"Passages for “{reply.query}”:"]
    for hit in reply.hits:
        preview = hit.text if len(hit.text) <= 200 else hit.text[:197].rstrip() + "…"
        lines.append(f"{hit.passage_id}  (score {hit.score:.2f})  {hit.title} · {hit.section}")
        lines.append(_wrap(preview, "    "))
    return "\n".join(lines)


@render.register
def _(reply: PassageView) -> str:
    neighbours = []
    if reply.previous_id:
        neighbours.append(f"previous: {reply.previous_id}")
    if reply.next_id:
        neighbours.append(f"next: {reply.next_id}")
    lines = [
        f"{reply.passage_id} — {reply.title} — {reply.author}",
        f"Section: {reply.section}",
        "",
        _wrap(reply.text),
    ]
    if neighbours:
        lines += ["", " · ".join(neighbours)]
    return "\n".join(lines)


@render.register
def _(reply: LibraryReply) -> str:
    lines = ["The library:"]
    for doc in reply.documents:
        year = f" ({doc.year})" if doc.year else ""
        lines.append(
            _wrap(
                f"- {doc.title}{year} — {doc.author} · id {doc.doc_id} · {doc.passages} passages",
                "  ",
            ).lstrip()
        )
    return "\n".join(lines)


@render.register
def _(reply: HelpReply) -> str:
    lines = ["Commands (a line that is not a command is a question):"]
    for command in reply.commands:
        admin = " (admin)" if command.admin_only else ""
        lines.append(f"  {command.usage:<40} {command.summary}{admin}")
    lines.append("  quit                                     Leave the chat.")
    return "\n".join(lines)


@render.register
def _(reply: AboutReply) -> str:
    return (
        f"Samizdat {reply.version}: {reply.documents} documents, {reply.passages} passages, "
        f"indexed {reply.indexed_at:%Y-%m-%d %H:%M} UTC."
    )


@render.register
def _(reply: SettingsReply) -> str:
    lines = [f"Settings for {reply.place}:"]
    lines += [f"  {name:<22} {value}" for name, value in reply.values.items()]
    if reply.recent_changes:
        lines.append("Recent changes:")
        for change in reply.recent_changes:
            lines.append(
                f"  {change.at:%Y-%m-%d %H:%M} {change.user_id}: {change.setting} "
                f"{change.old_value} → {change.new_value}"
            )
    return "\n".join(lines)


@render.register
def _(reply: UnansweredReply) -> str:
    if not reply.items:
        return "No unanswered questions recorded here."
    lines = ["Recent questions the library did not answer:"]
    for item in reply.items:
        who = f" ({item.user_id})" if item.user_id else ""
        lines.append(f"  {item.at:%Y-%m-%d %H:%M}{who} {item.question}")
    return "\n".join(lines)


@render.register
def _(reply: Confirmation) -> str:
    return reply.message


@render.register
def _(reply: Refusal) -> str:
    return reply.message
