"""Everything a request can get back, as plain data. Adapters lay these out; the core never does.

Every reply says whether only the asker should see it and whether it starts a thread, so
no adapter reads a place's settings to decide.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict

from bot.answers.model import Answer, RetrievedPassage, Shelf


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class _Reply(_Model):
    # Set by `Core.handle`: for the asker alone (where the platform can do that), and in a
    # new thread (where it has threads).
    private: bool = False
    in_thread: bool = False
    command_prefix: str = "!"  # how typed commands start here, where they are typed


class AnswerReply(_Reply):
    """An answer to `ask`; `show_quotes` is the place's choice to quote or only cite."""

    answer: Answer
    show_quotes: bool = True


class SearchReply(_Reply):
    query: str
    hits: list[RetrievedPassage]


class PassageView(_Reply):
    """One whole passage and its neighbours' ids, for `source`."""

    passage_id: str
    doc_id: str
    title: str
    author: str
    section: str
    text: str
    previous_id: str | None
    next_id: str | None


class DocumentSummary(_Model):
    doc_id: str
    title: str
    author: str
    year: int | None
    passages: int
    shelf: Shelf = "shared"  # "place": added by this place's admins
    # Known for added documents only:
    source: str = ""
    kind: str | None = None
    added_by: str | None = None
    added_at: datetime | None = None


class LibraryReply(_Reply):
    documents: list[DocumentSummary]


ShelfChange = Literal["added", "removed", "reindexed", "listed", "shown"]


class ShelfReply(_Reply):
    """A shelf's documents: after a change (`added`, `removed`, `reindexed`) those it
    concerned, or on request (`listed`, `shown`). `shared`: the operator's shared shelf."""

    change: ShelfChange
    documents: list[DocumentSummary]
    shared: bool = False


class CommandHelp(_Model):
    name: str
    usage: str
    summary: str
    admin_only: bool
    menu: bool = False  # chosen from a menu, not typed: `usage` says where to find it


class HelpReply(_Reply):
    commands: list[CommandHelp]


class AboutReply(_Reply):
    version: str
    documents: int
    passages: int
    indexed_at: datetime


class AuditEntry(_Model):
    at: datetime
    place: str
    user_id: str
    setting: str
    old_value: str | None
    new_value: str | None


class SettingsReply(_Reply):
    place: str
    values: dict[str, str]
    recent_changes: list[AuditEntry]


class UnansweredQuestion(_Model):
    question: str
    at: datetime
    place: str
    channel: str | None
    user_id: str | None  # only when the admin asked to see who asked


class UnansweredReply(_Reply):
    items: list[UnansweredQuestion]


class Confirmation(_Reply):
    message: str


class RefusalReason(StrEnum):
    NOT_ADMIN = "not_admin"
    COOLDOWN = "cooldown"
    BUSY = "busy"
    DISABLED = "disabled"
    CHANNEL = "channel"
    TOO_LONG = "too_long"
    EMPTY = "empty"
    INVALID = "invalid"
    NOT_FOUND = "not_found"
    NOT_HERE = "not_here"  # the command means nothing in this place (channels in a room)
    PRIVATE = "private"  # answers here are private, and this route can only answer publicly
    STORAGE = "storage"  # the database could not read or save; the message says why


class Refusal(_Reply):
    """A short, polite no."""

    reason: RefusalReason
    message: str


Reply = (
    AnswerReply
    | SearchReply
    | PassageView
    | LibraryReply
    | ShelfReply
    | HelpReply
    | AboutReply
    | SettingsReply
    | UnansweredReply
    | Confirmation
    | Refusal
)
