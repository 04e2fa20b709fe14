"""Documents as Matrix message bodies: a readable plain body and a safe HTML body.

The words come from `bot.core.present`; this module only lays them out. The HTML is built
with `markupsafe`, so every piece of text is escaped unless it is one of the few tags
written here: library text and questions cannot add markup, and an escape cannot be
forgotten.
"""

from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup, escape

from bot.core.document import (
    Block,
    Channel,
    Code,
    CommandName,
    Document,
    Item,
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
from bot.core.present import notice, present
from bot.core.replies import Reply


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

    def replacement(self) -> Rendered:
        """The bodies an edit carries for clients that do not show edits: `* ` in front."""
        return Rendered(f"* {self.plain}", f"* {self.html}")


def render(reply: Reply) -> Rendered:
    """The Matrix bodies for any core reply."""
    return render_document(present(reply))


def render_notice(message: str) -> Rendered:
    """A short notice the adapter says itself: a failure it could not hand to the core."""
    return render_document(notice(message))


def render_document(document: Document) -> Rendered:
    layout = _Layout(document.command_prefix)
    if document.title:
        layout.heading(document.title)
    for block in document.blocks:
        layout.block(block)
    for section in document.sections:
        layout.gap()
        layout.heading((Text(section.heading),), colon=True)
        for block in section.blocks:
            layout.block(block)
    if document.footer:
        layout.gap()
        layout.paragraph(document.footer)
    return Rendered("\n".join(layout.plain).strip("\n"), str(Markup("").join(layout.html)))


class _Layout:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.plain: list[str] = []
        self.html: list[Markup] = []

    def gap(self) -> None:
        if self.plain and self.plain[-1]:
            self.plain.append("")

    def heading(self, line: Line, colon: bool = False) -> None:
        self.plain.append(self.text(line) + (":" if colon else ""))
        self.html.append(Markup("<p><b>{}</b></p>").format(self.markup(line)))

    def paragraph(self, line: Line) -> None:
        self.plain.append(self.text(line))
        self.html.append(Markup("<p>{}</p>").format(self.markup(line)))

    def block(self, block: Block) -> None:
        match block:
            case Paragraph():
                self.paragraph(block.line)
            case Quote():
                self.plain.append(block.text)
                self.html.append(Markup("<blockquote>{}</blockquote>").format(block.text))
            case Items():
                self.items(block)

    def items(self, block: Items) -> None:
        tag = "ul" if block.style is ListStyle.BULLETED else "ol"
        entries: list[Markup] = []
        for number, item in enumerate(block.items, start=1):
            lead = {
                ListStyle.NUMBERED: f"{number}. ",
                ListStyle.BULLETED: "- ",
                ListStyle.CITED: f"[{number}] ",
            }[block.style]
            self.plain.append(lead + self.text(item.line))
            if item.quote is not None:
                self.plain.append(f"    {item.quote}")
            entries.append(self.entry(item))
        self.html.append(Markup(f"<{tag}>{{}}</{tag}>").format(Markup("").join(entries)))

    def entry(self, item: Item) -> Markup:
        quote = (
            Markup("<blockquote>{}</blockquote>").format(item.quote)
            if item.quote is not None
            else Markup("")
        )
        return Markup("<li>{}{}</li>").format(self.markup(item.line), quote)

    def command(self, span: CommandName) -> str:
        return f"{self.prefix}{'samizdat ' if span.admin_only else ''}{span.usage}"

    def text(self, line: Line) -> str:
        parts: list[str] = []
        for span in line:
            match span:
                case Text() | Code() | Strong():
                    parts.append(span.text)
                case Literal():
                    parts.append(_clip(span.text, span.limit))
                case PassageRef():
                    parts.append(f" ({span.passage_id})")
                case CommandName():
                    parts.append(self.command(span))
                case Person():
                    parts.append(span.user_id)
                case Channel():
                    parts.append(f"#{span.channel_id}")
                case Moment():
                    parts.append(f"{span.at:%Y-%m-%d %H:%M} UTC")
        return "".join(parts)

    def markup(self, line: Line) -> Markup:
        parts: list[Markup] = []
        for span in line:
            match span:
                case Code():
                    parts.append(Markup("<code>{}</code>").format(span.text))
                case Strong():
                    parts.append(Markup("<b>{}</b>").format(span.text))
                case PassageRef():
                    parts.append(Markup(" (<code>{}</code>)").format(span.passage_id))
                case CommandName():
                    parts.append(Markup("<code>{}</code>").format(self.command(span)))
                case _:
                    parts.append(escape(self.text((span,))))
        return Markup("").join(parts)


def _clip(text: str, limit: int | None) -> str:
    if limit is None or len(text) <= limit:
        return text
    return text[: limit - 1].rstrip() + "…"
