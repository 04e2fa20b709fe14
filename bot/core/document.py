"""A reply as a small platform-neutral document: the presenter writes it, renderers lay it out.

The words are chosen once, in `bot.core.present`; a renderer decides only how each piece
looks in its markup (an embed field, an HTML list, an indented line) and escapes what came
from outside. Text the bot wrote is `Text`; text from the library or from a person is
`Literal`, so a renderer knows what to escape, and `limit` says where a presenter chose to
cut it in a list, before any escaping.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


@dataclass(frozen=True)
class Text:
    """The bot's own words."""

    text: str


@dataclass(frozen=True)
class Literal:
    """Words from the library or from a person: shown exactly as written, never as markup."""

    text: str
    limit: int | None = None
    emphasis: bool = False  # a title


@dataclass(frozen=True)
class Code:
    """A name to type or look up: a setting, a passage id, a document id."""

    text: str


@dataclass(frozen=True)
class Strong:
    text: str


@dataclass(frozen=True)
class PassageRef:
    """Where a passage can be looked up, after the words that name it."""

    passage_id: str


@dataclass(frozen=True)
class CommandName:
    """A command as the platform spells it: `/ask`, `!ask <question>`, `ask <question>`."""

    name: str
    usage: str
    admin_only: bool = False


@dataclass(frozen=True)
class Person:
    user_id: str


@dataclass(frozen=True)
class Channel:
    channel_id: str


@dataclass(frozen=True)
class Moment:
    at: datetime


Inline = Text | Literal | Code | Strong | PassageRef | CommandName | Person | Channel | Moment
Line = tuple[Inline, ...]


@dataclass(frozen=True)
class Paragraph:
    line: Line


@dataclass(frozen=True)
class Quote:
    """A block of library text; `whole` when the reply exists to show all of it."""

    text: str
    whole: bool = False


@dataclass(frozen=True)
class Item:
    line: Line
    quote: str | None = None  # a preview shown under the line


class ListStyle(StrEnum):
    NUMBERED = "numbered"
    BULLETED = "bulleted"
    CITED = "cited"  # numbered as citations are: [1], [2]


@dataclass(frozen=True)
class Items:
    items: tuple[Item, ...]
    style: ListStyle = ListStyle.BULLETED


Block = Paragraph | Quote | Items


@dataclass(frozen=True)
class Section:
    """A headed part after the body: an answer's sources, a settings history."""

    heading: str
    blocks: tuple[Block, ...]


class Tone(StrEnum):
    ANSWER = "answer"  # the library answered
    DECLINED = "declined"  # it did not; where to read on
    INFO = "info"
    NOTICE = "notice"  # a short confirmation or refusal


@dataclass(frozen=True)
class Document:
    """One reply. `subject` is what was asked, for platforms that do not show the question
    next to the reply; `title` heads the reply everywhere."""

    blocks: tuple[Block, ...] = ()
    sections: tuple[Section, ...] = ()
    title: Line = ()
    subject: str | None = None
    footer: Line = ()
    tone: Tone = Tone.INFO
    command_prefix: str = "!"  # how typed commands start here, where they are typed

    @property
    def is_short(self) -> bool:
        """Only paragraphs: a line or two of text, with no title or parts."""
        return (
            not self.title
            and self.subject is None
            and not self.sections
            and not self.footer
            and all(isinstance(block, Paragraph) for block in self.blocks)
        )
