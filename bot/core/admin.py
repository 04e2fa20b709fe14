"""What admins read and change about their place: settings, channels, unanswered
questions, and forgetting its people's records.

The core has already checked the caller is an admin and the arguments' length before any
of these runs; values are checked again here, as they are parsed.
"""

from __future__ import annotations

from bot.core import present as words
from bot.core.activity import ActivityLog
from bot.core.database import StorageError
from bot.core.parse import MAX_ADMIN_ARGUMENTS
from bot.core.places import Caller, Where
from bot.core.refusals import arguments_too_long, refuse, storage_refusal
from bot.core.replies import (
    Confirmation,
    Refusal,
    RefusalReason,
    Reply,
    SettingsReply,
    UnansweredReply,
)
from bot.core.requests import ChannelAction
from bot.core.settings import (
    MAX_CHANNEL_NAME,
    SETTABLE,
    ServerSettings,
    SettingValueError,
    parse_setting,
    unknown_setting,
)
from bot.core.store import SettingsStore
from bot.core.text import normalize_input, quote_typed

# A setting's value or a change shown back to an admin is clipped to this, so one reply fits
# every platform's message limit whatever was stored.
MAX_SHOWN_VALUE = 300


class PlaceAdmin:
    """The admin commands' work, on the settings store and the activity log."""

    def __init__(self, store: SettingsStore, activity: ActivityLog) -> None:
        self._store = store
        self._activity = activity

    async def show(
        self, where: Where, settings: ServerSettings | StorageError
    ) -> SettingsReply | Refusal:
        if isinstance(settings, StorageError):
            return storage_refusal(words.READ_SETTINGS, settings)
        try:
            changes = await self._store.recent_changes(where.place, limit=5)
        except StorageError as error:
            return storage_refusal(words.READ_SETTINGS, error)
        values = {name: _display(value) for name, value in settings.model_dump(mode="json").items()}
        return SettingsReply(
            place=where.place,
            values=values,
            recent_changes=[
                change.model_copy(
                    update={
                        "old_value": _clip_shown(change.old_value),
                        "new_value": _clip_shown(change.new_value),
                    }
                )
                for change in changes
            ],
        )

    async def set(
        self, caller: Caller, where: Where, name: str, value: str
    ) -> Confirmation | Refusal:
        if len(name) + len(value) > MAX_ADMIN_ARGUMENTS:
            return arguments_too_long(len(name) + len(value))
        name = normalize_input(name).lower().replace("-", "_")
        try:
            parsed = parse_setting(name, normalize_input(value))
            old, new = await self._store.set(where.place, name, parsed, caller.user_id)
        except SettingValueError as exc:
            return refuse(RefusalReason.INVALID, str(exc))
        except StorageError as error:
            return storage_refusal(words.SAVE_SETTING, error)
        if old == new:
            return Confirmation(message=words.setting_unchanged(name, _display(new)))
        return Confirmation(message=words.setting_changed(name, _display(new), _display(old)))

    async def reset(self, caller: Caller, where: Where, name: str | None) -> Confirmation | Refusal:
        if name is not None:
            if len(name) > MAX_ADMIN_ARGUMENTS:
                return arguments_too_long(len(name))
            name = normalize_input(name).lower().replace("-", "_")
            if name not in SETTABLE:
                return refuse(RefusalReason.INVALID, unknown_setting(name))
        try:
            changed = await self._store.reset(where.place, name, caller.user_id)
        except StorageError as error:
            return storage_refusal(words.RESET_SETTING, error)
        if not changed:
            return Confirmation(message=words.NOTHING_TO_RESET)
        return Confirmation(message=words.reset_done(changed))

    async def channels(
        self, caller: Caller, where: Where, action: ChannelAction, channel: str | None
    ) -> Confirmation | Refusal:
        if channel is not None and len(channel) > MAX_ADMIN_ARGUMENTS:
            return arguments_too_long(len(channel))
        target = normalize_input(channel or "").lstrip("#<").rstrip(">") or None
        if target is None and action != "clear":
            return refuse(RefusalReason.INVALID, words.name_the_channel(action))
        try:
            if action == "clear":
                await self._store.clear_channels(where.place, target, caller.user_id)
            elif action == "allow":
                await self._store.allow_channel(where.place, target or "", caller.user_id)
            else:
                await self._store.deny_channel(where.place, target or "", caller.user_id)
        except SettingValueError as exc:
            return refuse(RefusalReason.INVALID, str(exc))
        except StorageError as error:
            return storage_refusal(words.SAVE_CHANNELS, error)
        shown = quote_typed(target or "", MAX_CHANNEL_NAME)
        if action == "clear":
            return Confirmation(
                message=words.ALL_CHANNELS_AGAIN
                if target is None
                else words.channel_unlisted(shown)
            )
        if action == "allow":
            return Confirmation(message=words.channel_allowed(shown))
        return Confirmation(message=words.channel_denied(shown))

    async def unanswered(self, where: Where, show_askers: bool) -> UnansweredReply | Refusal:
        try:
            items = await self._activity.unanswered(
                where.place, limit=20, include_askers=show_askers
            )
        except StorageError as error:
            return storage_refusal(words.READ_UNANSWERED, error)
        return UnansweredReply(items=items)

    async def forget_place(self, where: Where) -> Reply:
        try:
            removed = await self._activity.forget_place(where.place)
        except StorageError as error:
            return storage_refusal(words.FORGET_PLACE, error)
        if not removed:
            return Confirmation(message=words.NOTHING_ABOUT_PLACE)
        return Confirmation(message=words.forgot_place(removed))


def _display(value: object) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, list | tuple):
        listed = ", ".join(str(v) for v in value) or "(none)"
        if len(listed) > MAX_SHOWN_VALUE:
            return f"{_clip(listed, MAX_SHOWN_VALUE)} ({len(value)} in all)"
        return listed
    return _clip(str(value), MAX_SHOWN_VALUE)


def _clip_shown(value: str | None) -> str | None:
    return None if value is None else _clip(value, MAX_SHOWN_VALUE)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
