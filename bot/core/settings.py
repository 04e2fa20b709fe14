"""Per-place settings: one typed model, its documented defaults, and value parsing.

A place with no stored settings reads these defaults, so a new server needs no set-up.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.core import present as words
from bot.core.text import quote_typed


class AnswerLength(StrEnum):
    BRIEF = "brief"
    DETAILED = "detailed"


class Strictness(StrEnum):
    LENIENT = "lenient"
    NORMAL = "normal"
    STRICT = "strict"


class Visibility(StrEnum):
    PUBLIC = "public"
    PRIVATE = "private"


class ServerSettings(BaseModel):
    """What an admin can change for a place. Field descriptions are the help text."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)

    enabled: bool = Field(True, description="Whether the bot answers at all in this place.")
    allowed_channels: tuple[str, ...] = Field(
        (), description="Channels where the bot may answer; empty means everywhere."
    )
    denied_channels: tuple[str, ...] = Field(
        (), description="Channels where the bot never answers, even when the list above is empty."
    )
    sources_shown: int = Field(
        3, ge=1, le=5, description="How many sources an answer lists (1-5); 1 also means one quote."
    )
    answer_length: AnswerLength = Field(
        AnswerLength.BRIEF,
        description="brief (quotes of one or two sentences) or detailed (up to three).",
    )
    show_quotes: bool = Field(True, description="Quote the sentences, or only cite them.")
    visibility: Visibility = Field(
        Visibility.PUBLIC, description="Answers public or private (Discord ephemeral) by default."
    )
    cooldown_seconds: int = Field(
        5, ge=0, le=3600, description="Seconds a person waits between questions."
    )
    strictness: Strictness = Field(
        Strictness.NORMAL,
        description="How sure the bot must be before answering: lenient, normal or strict.",
    )
    answer_in_thread: bool = Field(
        False, description="Answer in a new thread where the platform has threads."
    )
    command_prefix: str = Field(
        "!", min_length=1, max_length=5, description="Matrix command prefix."
    )
    respond_to_mentions: bool = Field(True, description="Treat a mention of the bot as a question.")
    shared_library: bool = Field(
        True, description="Search the shared library as well as this place's own added documents."
    )

    @field_validator("command_prefix")
    @classmethod
    def _prefix_has_no_space(cls, value: str) -> str:
        if any(ch.isspace() for ch in value):
            raise ValueError("the prefix cannot contain spaces")
        return value


# Settings that admins change with `settings set`; the channel list has its own command.
SETTABLE = tuple(
    name
    for name in ServerSettings.model_fields
    if name not in {"allowed_channels", "denied_channels"}
)

# A Discord server holds at most 500 channels, so no honest list is longer; the bound keeps
# the stored settings, and each audit record of a change to them, small.
MAX_CHANNELS_PER_LIST = 500
# A channel is named by a Discord snowflake id (at most 20 digits) or, typed, by a name like
# a Discord channel name or a Matrix room's local part: Discord's own limit on channel names
# is 100 characters. Letters, digits and `- _ . : !` cover all of these, and none of them
# can open a mention, a link or a code span when echoed back.
MAX_CHANNEL_NAME = 100
_CHANNEL_NAME = re.compile(rf"[\w.:!-]{{1,{MAX_CHANNEL_NAME}}}")

_TRUE = {"true", "yes", "on", "1", "enable", "enabled"}
_FALSE = {"false", "no", "off", "0", "disable", "disabled"}


class SettingValueError(ValueError):
    """A setting name or value an admin typed is not allowed; the message says what is."""


def allowed_values(name: str) -> str:
    """A short human description of what `name` accepts."""
    field = ServerSettings.model_fields[name]
    annotation = field.annotation
    if annotation is bool:
        return "on or off"
    if isinstance(annotation, type) and issubclass(annotation, StrEnum):
        return ", ".join(member.value for member in annotation)
    if annotation is int:
        low = high = None
        for meta in field.metadata:
            low = getattr(meta, "ge", low)
            high = getattr(meta, "le", high)
        return f"a whole number from {low} to {high}"
    if name == "command_prefix":
        return "1 to 5 characters, no spaces"
    return "a value"


def unknown_setting(name: str) -> str:
    return words.unknown_setting(quote_typed(name), SETTABLE)


def not_allowed(name: str, value: str) -> str:
    return words.not_allowed(name, allowed_values(name), quote_typed(value))


def parse_setting(name: str, raw: str) -> Any:
    """Turn what an admin typed into a value for `name`, or explain what is allowed."""
    if name not in SETTABLE:
        raise SettingValueError(unknown_setting(name))
    value = raw.strip()
    annotation = ServerSettings.model_fields[name].annotation
    parsed: Any = value
    if annotation is bool:
        lowered = value.lower()
        if lowered in _TRUE:
            parsed = True
        elif lowered in _FALSE:
            parsed = False
        else:
            raise SettingValueError(not_allowed(name, value))
    try:
        return ServerSettings.model_validate({name: parsed}).model_dump(mode="json")[name]
    except ValidationError:
        raise SettingValueError(not_allowed(name, value)) from None


def check_channel_name(channel: str) -> None:
    """Refuse a name no channel has, before it is stored or echoed back."""
    if not channel.strip():
        raise SettingValueError(words.NO_CHANNEL)
    if not _CHANNEL_NAME.fullmatch(channel):
        raise SettingValueError(words.not_a_channel(quote_typed(channel), MAX_CHANNEL_NAME))


def too_many_channels(name: str) -> str:
    return words.too_many_channels(name, MAX_CHANNELS_PER_LIST)
