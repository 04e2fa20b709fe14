"""Core replies as Matrix message bodies: a readable plain body and a safe HTML body.

Library text and questions come from outside the bot, so every piece of them is escaped
before it reaches `formatted_body`; the only tags in it are the few written here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from html import escape

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

# Long library passages are cut in listings; `source` shows a whole passage.
_SNIPPET_CHARS = 240
_MAX_LISTED = 25


@dataclass(frozen=True)
class Rendered:
    """The two bodies of one `m.notice`."""

    plain: str
    html: str

    def content(self) -> dict[str, object]:
        return {
            "msgtype": "m.notice",
            "body": self.plain,
            "format": "org.matrix.custom.html",
            "formatted_body": self.html,
        }


def _e(text: str) -> str:
    return escape(text, quote=True)


def _snippet(text: str, limit: int = _SNIPPET_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _where(title: str, author: str, section: str) -> str:
    parts = [title]
    if author:
        parts.append(author)
    if section:
        parts.append(f"§ {section}")
    return ", ".join(parts)


def _citation_lines(citations: Iterable[Citation]) -> tuple[list[str], list[str]]:
    """Where each quote comes from; the quotes themselves are the answer text above."""
    plain: list[str] = []
    html: list[str] = []
    for c in citations:
        where = _where(c.title, c.author, c.section)
        plain.append(f"[{c.marker}] {where} ({c.passage_id})")
        html.append(f"<li>{_e(where)} (<code>{_e(c.passage_id)}</code>)</li>")
    return plain, html


def _caveats(citations: Iterable[Citation]) -> list[str]:
    return sorted({c.caveat for c in citations if c.caveat})


def _pointer_lines(pointers: Iterable[SectionPointer]) -> tuple[list[str], list[str]]:
    plain: list[str] = []
    html: list[str] = []
    for p in pointers:
        where = _where(p.title, p.author, p.section)
        plain.append(f"- {where} ({p.passage_id})")
        html.append(f"<li>{_e(where)} (<code>{_e(p.passage_id)}</code>)</li>")
    return plain, html


def _answer(reply: AnswerReply) -> Rendered:
    answer = reply.answer
    text = answer.text
    if answer.answered and not reply.show_quotes:
        text = (
            "The library answers this in "
            + " ".join(f"[{c.marker}]" for c in answer.citations)
            + "."
        )
    plain = [text]
    html = [f"<p>{_e(text)}</p>"]
    if answer.answered and answer.citations:
        # The core numbers citations 1..n and never gives more than the place shows.
        plain_lines, html_lines = _citation_lines(answer.citations)
        plain += ["", "Sources:", *plain_lines]
        html += ["<p><b>Sources</b></p>", "<ol>", *html_lines, "</ol>"]
        for caveat in _caveats(answer.citations):
            plain.append(f"Note: {caveat}")
            html.append(f"<p><b>Note:</b> {_e(caveat)}</p>")
    elif not answer.answered and answer.closest:
        plain_lines, html_lines = _pointer_lines(answer.closest)
        plain += ["", "Closest sections:", *plain_lines]
        html += ["<p><b>Closest sections</b></p>", "<ul>", *html_lines, "</ul>"]
    return Rendered("\n".join(plain), "".join(html))


def _hit_lines(hits: Iterable[RetrievedPassage]) -> tuple[list[str], list[str]]:
    plain: list[str] = []
    html: list[str] = []
    for h in hits:
        where = _where(h.title, h.author, h.section)
        text = _snippet(h.text)
        plain.append(f"- {where} ({h.passage_id}): {text}")
        html.append(
            f"<li>{_e(where)} (<code>{_e(h.passage_id)}</code>)"
            f"<blockquote>{_e(text)}</blockquote></li>"
        )
    return plain, html


def _search(reply: SearchReply) -> Rendered:
    if not reply.hits:
        message = f"Nothing in the library matches “{reply.query}”."
        return Rendered(message, f"<p>{_e(message)}</p>")
    head = f"Passages for “{reply.query}”:"
    plain_lines, html_lines = _hit_lines(reply.hits)
    return Rendered(
        "\n".join([head, *plain_lines]),
        f"<p>{_e(head)}</p><ol>{''.join(html_lines)}</ol>",
    )


def _passage(reply: PassageView) -> Rendered:
    where = _where(reply.title, reply.author, reply.section)
    around = [
        f"{label}: {pid}"
        for label, pid in (("previous", reply.previous_id), ("next", reply.next_id))
        if pid
    ]
    plain = [f"{where} ({reply.passage_id})", "", reply.text]
    html = [
        f"<p><b>{_e(where)}</b> (<code>{_e(reply.passage_id)}</code>)</p>",
        f"<blockquote>{_e(reply.text)}</blockquote>",
    ]
    if around:
        plain += ["", " · ".join(around)]
        html.append(f"<p>{_e(' · '.join(around))}</p>")
    return Rendered("\n".join(plain), "".join(html))


def _library(reply: LibraryReply) -> Rendered:
    plain = ["The library:"]
    html = ["<p><b>The library</b></p><ul>"]
    for d in reply.documents[:_MAX_LISTED]:
        year = f" ({d.year})" if d.year else ""
        line = f"{d.title}{year}, {d.author} — {d.passages} passages [{d.doc_id}]"
        plain.append(f"- {line}")
        html.append(f"<li>{_e(line)}</li>")
    if len(reply.documents) > _MAX_LISTED:
        more = f"and {len(reply.documents) - _MAX_LISTED} more"
        plain.append(f"- {more}")
        html.append(f"<li>{_e(more)}</li>")
    html.append("</ul>")
    return Rendered("\n".join(plain), "".join(html))


def _help(reply: HelpReply) -> Rendered:
    prefix = reply.prefix
    plain = ["Commands:"]
    html = ["<p><b>Commands</b></p><ul>"]
    for c in reply.commands:
        usage = f"{prefix}{'samizdat ' if c.admin_only else ''}{c.usage}"
        note = " (admins)" if c.admin_only else ""
        plain.append(f"- {usage} — {c.summary}{note}")
        html.append(f"<li><code>{_e(usage)}</code> — {_e(c.summary)}{_e(note)}</li>")
    html.append("</ul>")
    mention = "Or mention me with a question."
    plain.append(mention)
    html.append(f"<p>{_e(mention)}</p>")
    return Rendered("\n".join(plain), "".join(html))


def _about(reply: AboutReply) -> Rendered:
    line = (
        f"Samizdat {reply.version}: {reply.documents} documents, {reply.passages} passages, "
        f"indexed {reply.indexed_at:%Y-%m-%d %H:%M} UTC. Answers come only from the library "
        "and cite every source."
    )
    return Rendered(line, f"<p>{_e(line)}</p>")


def _settings(reply: SettingsReply) -> Rendered:
    plain = ["Settings for this room:"]
    html = ["<p><b>Settings for this room</b></p><ul>"]
    for name, value in reply.values.items():
        plain.append(f"- {name}: {value}")
        html.append(f"<li><code>{_e(name)}</code>: {_e(value)}</li>")
    html.append("</ul>")
    if reply.recent_changes:
        plain.append("Recent changes:")
        html.append("<p><b>Recent changes</b></p><ul>")
        for a in reply.recent_changes:
            line = f"{a.at:%Y-%m-%d %H:%M} {a.user_id}: {a.setting} {a.old_value} → {a.new_value}"
            plain.append(f"- {line}")
            html.append(f"<li>{_e(line)}</li>")
        html.append("</ul>")
    return Rendered("\n".join(plain), "".join(html))


def _unanswered(reply: UnansweredReply) -> Rendered:
    if not reply.items:
        message = "No unanswered questions."
        return Rendered(message, f"<p>{_e(message)}</p>")
    plain = ["Questions the library could not answer:"]
    html = ["<p><b>Questions the library could not answer</b></p><ul>"]
    for q in reply.items[:_MAX_LISTED]:
        who = f" ({q.user_id})" if q.user_id else ""
        line = f"{q.at:%Y-%m-%d %H:%M}{who}: {_snippet(q.question, 200)}"
        plain.append(f"- {line}")
        html.append(f"<li>{_e(line)}</li>")
    html.append("</ul>")
    return Rendered("\n".join(plain), "".join(html))


def _short(message: str) -> Rendered:
    return Rendered(message, f"<p>{_e(message)}</p>")


def render(reply: Reply) -> Rendered:
    """The Matrix bodies for any core reply."""
    match reply:
        case AnswerReply():
            return _answer(reply)
        case SearchReply():
            return _search(reply)
        case PassageView():
            return _passage(reply)
        case LibraryReply():
            return _library(reply)
        case HelpReply():
            return _help(reply)
        case AboutReply():
            return _about(reply)
        case SettingsReply():
            return _settings(reply)
        case UnansweredReply():
            return _unanswered(reply)
        case Confirmation():
            return _short(reply.message)
        case Refusal():
            return _short(reply.message)
    raise TypeError(f"no Matrix rendering for {type(reply).__name__}")  # pragma: no cover


def render_notice(message: str) -> Rendered:
    """A short notice the adapter says itself: failures, and commands Matrix does not have."""
    return _short(message)
