"""Everything a command can answer, as plain data. Adapters render these; the core never does."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from bot.answers.model import Answer, RetrievedPassage


class _Reply(BaseModel):
    model_config = ConfigDict(frozen=True)


class AnswerReply(_Reply):
    """An answer to `ask`, with the place's display preferences already applied."""

    answer: Answer
    show_quotes: bool = True
    private: bool = False
    in_thread: bool = False


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


class DocumentSummary(_Reply):
    doc_id: str
    title: str
    author: str
    year: int | None
    passages: int


class LibraryReply(_Reply):
    documents: list[DocumentSummary]


class CommandHelp(_Reply):
    name: str
    usage: str
    summary: str
    admin_only: bool


class HelpReply(_Reply):
    commands: list[CommandHelp]


class AboutReply(_Reply):
    version: str
    documents: int
    passages: int
    indexed_at: datetime


class AuditEntry(_Reply):
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


class UnansweredQuestion(_Reply):
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
    | HelpReply
    | AboutReply
    | SettingsReply
    | UnansweredReply
    | Confirmation
    | Refusal
)
