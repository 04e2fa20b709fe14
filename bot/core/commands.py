"""The command layer: every command of every platform, defined once.

Adapters translate a platform's events into these calls and render the replies; the
terminal chat uses the same calls. Admin commands check `Caller.is_admin` here, so an
adapter that forgets a check still cannot change settings for a non-admin.
"""

from __future__ import annotations

import logging
import re
import shlex
from collections.abc import Sequence
from typing import Literal

from bot import __version__
from bot.answers.engine import AnswerEngine, compose_options
from bot.answers.model import RetrievedPassage
from bot.config import LimitsConfig
from bot.core.limits import RateLimiter
from bot.core.places import Caller, Where
from bot.core.replies import (
    AboutReply,
    AnswerReply,
    CommandHelp,
    Confirmation,
    DocumentSummary,
    HelpReply,
    LibraryReply,
    PassageView,
    Refusal,
    RefusalReason,
    Reply,
    SearchReply,
    SettingsReply,
    UnansweredReply,
)
from bot.core.settings import (
    MAX_CHANNEL_NAME,
    SETTABLE,
    AnswerLength,
    ServerSettings,
    SettingValueError,
    Visibility,
    parse_setting,
)
from bot.core.store import SettingsStore, StorageError
from bot.core.text import has_words, mostly_non_latin, normalize_input, quote_typed

ChannelAction = Literal["allow", "deny", "clear"]

log = logging.getLogger(__name__)

MAX_PASSAGE_ID = 100
# The longest arguments an admin command takes: a setting's name and value, or a channel's
# name, with room to spare. A longer one is refused before it is cleaned, split or echoed.
MAX_ADMIN_ARGUMENTS = 200
# Cleaning can shorten a line (runs of spaces, invisible characters), so a question is
# measured again once clean; a raw line this many times the limit is too long whatever it
# holds, and is refused before any per-character work.
RAW_QUESTION_FACTOR = 4
# A setting's value or a change shown back to an admin is clipped to this, so one reply fits
# every platform's message limit whatever was stored.
MAX_SHOWN_VALUE = 300

# The first word of a typed line names the command; none is longer than this.
_COMMAND_WORD = re.compile(r"\s*(\S{1,16})(?:\s+|$)")
_ADMIN_COMMANDS = frozenset({"settings", "channels", "unanswered"})

COMMANDS: tuple[CommandHelp, ...] = (
    CommandHelp(
        name="ask",
        usage="ask <question>",
        admin_only=False,
        summary="Answer a history question from the library, citing sources.",
    ),
    CommandHelp(
        name="search",
        usage="search <words>",
        admin_only=False,
        summary="List the passages that best match, with ids and scores.",
    ),
    CommandHelp(
        name="source",
        usage="source <passage id>",
        admin_only=False,
        summary="Show a whole passage, its document and its neighbours.",
    ),
    CommandHelp(
        name="library",
        usage="library",
        admin_only=False,
        summary="List the documents in the library.",
    ),
    CommandHelp(name="help", usage="help", admin_only=False, summary="Show this help."),
    CommandHelp(
        name="about",
        usage="about",
        admin_only=False,
        summary="Version, library size and index date.",
    ),
    CommandHelp(
        name="settings show",
        usage="settings show",
        admin_only=True,
        summary="Show this place's settings and recent changes.",
    ),
    CommandHelp(
        name="settings set",
        usage="settings set <name> <value>",
        admin_only=True,
        summary="Change a setting.",
    ),
    CommandHelp(
        name="settings reset",
        usage="settings reset [<name>]",
        admin_only=True,
        summary="Restore one setting, or all, to the default.",
    ),
    CommandHelp(
        name="channels",
        usage="channels allow|deny|clear [<channel>]",
        admin_only=True,
        summary="Choose the channels where the bot answers (empty = everywhere).",
    ),
    CommandHelp(
        name="unanswered",
        usage="unanswered [askers]",
        admin_only=True,
        summary="Recent questions the library did not answer.",
    ),
)

NOT_ADMIN = "Only admins of this server or room can do that."


def _refuse(reason: RefusalReason, message: str) -> Refusal:
    return Refusal(reason=reason, message=message)


def _storage_refusal(doing: str, error: StorageError) -> Refusal:
    """Tell the person what the database could not do and why; the bot carries on."""
    return _refuse(RefusalReason.STORAGE, f"Could not {doing}: {error.reason}.")


def _arguments_too_long(length: int) -> Refusal:
    return _refuse(
        RefusalReason.TOO_LONG,
        f"That is {length:,} characters; an admin command takes at most {MAX_ADMIN_ARGUMENTS}.",
    )


class Core:
    """Platform-neutral commands. Built by `bot.app.open_app`; adapters only call it."""

    def __init__(
        self,
        engine: AnswerEngine,
        store: SettingsStore,
        limits: LimitsConfig,
        rate_limiter: RateLimiter | None = None,
        search_results: int = 5,
    ) -> None:
        self.engine = engine
        self.store = store
        self._limits = limits
        self._rate = rate_limiter or RateLimiter(limits.place_questions_per_minute)
        self._search_results = search_results

    # -- everyone -------------------------------------------------------------------------

    async def ask(self, question: str, caller: Caller, where: Where) -> AnswerReply | Refusal:
        """Answer a question from the library, or decline and point at the closest sections.

        Recording a declined question is best effort: a failed write never costs the answer.
        """
        try:
            settings = await self.store.get(where.place)
        except StorageError as error:
            return _storage_refusal("read this place's settings", error)
        checked = self._check_question(question, settings, caller, where, "ask")
        if isinstance(checked, Refusal):
            return checked
        options = compose_options(
            brief=settings.answer_length is AnswerLength.BRIEF,
            strictness=settings.strictness.value,
            config=self.engine.config,
            max_sources=settings.sources_shown,
        )
        answer = await self.engine.aanswer(checked, options)
        if not answer.answered:
            if mostly_non_latin(checked):
                answer = answer.model_copy(
                    update={
                        "text": answer.text + " The library is in English: try asking in English."
                    }
                )
            try:
                await self.store.record_unanswered(
                    where.place, where.channel, caller.user_id, checked
                )
            except StorageError as error:
                log.warning("%s: unanswered question not recorded: %s", where.place, error.reason)
        return AnswerReply(
            answer=answer,
            show_quotes=settings.show_quotes,
            private=settings.visibility is Visibility.PRIVATE,
            in_thread=settings.answer_in_thread,
        )

    async def search(self, query: str, caller: Caller, where: Where) -> SearchReply | Refusal:
        try:
            settings = await self.store.get(where.place)
        except StorageError as error:
            return _storage_refusal("read this place's settings", error)
        checked = self._check_question(query, settings, caller, where, "search")
        if isinstance(checked, Refusal):
            return checked
        hits = await self.engine.asearch(checked, self._search_results)
        documents = self.engine.library
        return SearchReply(
            query=checked,
            hits=[
                RetrievedPassage(
                    passage_id=h.passage.id,
                    doc_id=h.passage.doc_id,
                    title=documents.document(h.passage.doc_id).info.title,
                    author=documents.document(h.passage.doc_id).info.author,
                    section=h.passage.section,
                    score=round(h.score, 3),
                    text=h.passage.text,
                )
                for h in hits
            ],
        )

    async def source(self, passage_id: str, where: Where | None = None) -> PassageView | Refusal:
        """A whole passage; refused where the bot is switched off or the channel is closed."""
        if where is not None:
            closed = await self._closed_here(where)
            if closed is not None:
                return closed
        # Ids are short: clip before cleaning, so a pasted page costs nothing.
        wanted = normalize_input(passage_id[: 4 * MAX_PASSAGE_ID]).strip("`'\"<>[]()").lower()
        if not wanted:
            return _refuse(RefusalReason.EMPTY, "Give a passage id, like `kuzbass:3`.")
        library = self.engine.library
        passage = library.passage(wanted[:MAX_PASSAGE_ID])
        if passage is None and ":" not in wanted:
            passage = library.passage(f"{wanted}:1")
        if passage is None:
            return _refuse(
                RefusalReason.NOT_FOUND,
                f"There is no passage {quote_typed(wanted)}. Ids look like `kuzbass:3`; "
                "`search` or `library` shows them.",
            )
        document = library.document(passage.doc_id)
        ordinals = {p.ordinal: p.id for p in document.passages}
        return PassageView(
            passage_id=passage.id,
            doc_id=passage.doc_id,
            title=document.info.title,
            author=document.info.author,
            section=passage.section,
            text=passage.text,
            previous_id=ordinals.get(passage.ordinal - 1),
            next_id=ordinals.get(passage.ordinal + 1),
        )

    async def library(self, where: Where | None = None) -> LibraryReply | Refusal:
        """The documents; refused where the bot is switched off or the channel is closed."""
        if where is not None:
            closed = await self._closed_here(where)
            if closed is not None:
                return closed
        return LibraryReply(
            documents=[
                DocumentSummary(
                    doc_id=d.info.id,
                    title=d.info.title,
                    author=d.info.author,
                    year=d.info.year,
                    passages=len(d.passages),
                )
                for d in self.engine.library.documents
            ]
        )

    def help(self, caller: Caller) -> HelpReply:
        return HelpReply(commands=[c for c in COMMANDS if caller.is_admin or not c.admin_only])

    def about(self) -> AboutReply:
        report = self.engine.report
        return AboutReply(
            version=__version__,
            documents=report.documents,
            passages=report.passages,
            indexed_at=report.built_at,
        )

    def complete_passage(self, prefix: str, limit: int = 25) -> list[tuple[str, str]]:
        """(passage id, label) pairs for autocomplete, matching ids and document titles."""
        wanted = normalize_input(prefix[: 4 * MAX_PASSAGE_ID]).lower()[:MAX_PASSAGE_ID]
        results: list[tuple[str, str]] = []
        for document in self.engine.library.documents:
            title_match = wanted in document.info.title.lower()
            for passage in document.passages:
                if passage.id.startswith(wanted) or (title_match and wanted) or not wanted:
                    results.append((passage.id, f"{passage.id} · {document.info.title}"))
                if len(results) >= limit:
                    return results
        return results

    # -- admins ---------------------------------------------------------------------------

    async def settings_for(self, where: Where) -> ServerSettings:
        """How adapters should listen here (prefix, mentions, visibility).

        When the database cannot be read this is the defaults, so the message still reaches
        a command, and the command's own read tells the person what went wrong.
        """
        try:
            return await self.store.get(where.place)
        except StorageError as error:
            log.warning("%s: settings unreadable, listening with defaults: %s", where.place, error)
            return ServerSettings()

    async def settings_show(self, caller: Caller, where: Where) -> SettingsReply | Refusal:
        if not caller.is_admin:
            return _refuse(RefusalReason.NOT_ADMIN, NOT_ADMIN)
        try:
            settings = await self.store.get(where.place)
            changes = await self.store.recent_changes(where.place, limit=5)
        except StorageError as error:
            return _storage_refusal("read this place's settings", error)
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

    async def settings_set(
        self, caller: Caller, where: Where, name: str, value: str
    ) -> Confirmation | Refusal:
        if not caller.is_admin:
            return _refuse(RefusalReason.NOT_ADMIN, NOT_ADMIN)
        if len(name) + len(value) > MAX_ADMIN_ARGUMENTS:
            return _arguments_too_long(len(name) + len(value))
        name = normalize_input(name).lower().replace("-", "_")
        try:
            parsed = parse_setting(name, normalize_input(value))
            old, new = await self.store.set(where.place, name, parsed, caller.user_id)
        except SettingValueError as exc:
            return _refuse(RefusalReason.INVALID, str(exc))
        except StorageError as error:
            return _storage_refusal("save that setting", error)
        if old == new:
            return Confirmation(message=f"`{name}` is already {_display(new)}.")
        return Confirmation(message=f"`{name}` is now {_display(new)} (was {_display(old)}).")

    async def settings_reset(
        self, caller: Caller, where: Where, name: str | None
    ) -> Confirmation | Refusal:
        if not caller.is_admin:
            return _refuse(RefusalReason.NOT_ADMIN, NOT_ADMIN)
        if name is not None:
            if len(name) > MAX_ADMIN_ARGUMENTS:
                return _arguments_too_long(len(name))
            name = normalize_input(name).lower().replace("-", "_")
            if name not in SETTABLE:
                return _refuse(
                    RefusalReason.INVALID,
                    f"Unknown setting {quote_typed(name)}. Settings: {', '.join(SETTABLE)}.",
                )
        try:
            changed = await self.store.reset(where.place, name, caller.user_id)
        except StorageError as error:
            return _storage_refusal("reset that setting", error)
        if not changed:
            return Confirmation(message="Nothing to reset: already the defaults.")
        return Confirmation(message=f"Reset to the default: {', '.join(changed)}.")

    async def channels(
        self, caller: Caller, where: Where, action: ChannelAction, channel: str | None
    ) -> Confirmation | Refusal:
        if not caller.is_admin:
            return _refuse(RefusalReason.NOT_ADMIN, NOT_ADMIN)
        if where.channel is None:
            return _refuse(
                RefusalReason.INVALID,
                "This place has no channels: the setting applies to it whole.",
            )
        if channel is not None and len(channel) > MAX_ADMIN_ARGUMENTS:
            return _arguments_too_long(len(channel))
        target = normalize_input(channel or "").lstrip("#<").rstrip(">") or None
        if target is None and action != "clear":
            return _refuse(RefusalReason.INVALID, f"Name the channel to {action}.")
        try:
            if action == "clear":
                await self.store.clear_channels(where.place, target, caller.user_id)
            elif action == "allow":
                await self.store.allow_channel(where.place, target or "", caller.user_id)
            else:
                await self.store.deny_channel(where.place, target or "", caller.user_id)
        except SettingValueError as exc:
            return _refuse(RefusalReason.INVALID, str(exc))
        except StorageError as error:
            return _storage_refusal("save the channel lists", error)
        shown = quote_typed(target or "", MAX_CHANNEL_NAME)
        if action == "clear":
            return Confirmation(
                message="The bot may answer in every channel again."
                if target is None
                else f"Channel {shown} is no longer listed."
            )
        if action == "allow":
            return Confirmation(message=f"The bot may answer in channel {shown}.")
        return Confirmation(message=f"The bot will not answer in channel {shown}.")

    async def unanswered(
        self, caller: Caller, where: Where, show_askers: bool = False
    ) -> UnansweredReply | Refusal:
        if not caller.is_admin:
            return _refuse(RefusalReason.NOT_ADMIN, NOT_ADMIN)
        try:
            items = await self.store.unanswered(where.place, limit=20, include_askers=show_askers)
        except StorageError as error:
            return _storage_refusal("read the unanswered questions", error)
        return UnansweredReply(items=items)

    async def feedback(
        self, caller: Caller, where: Where, question: str, passage_ids: Sequence[str], helpful: bool
    ) -> Confirmation | Refusal:
        try:
            await self.store.record_feedback(
                where.place,
                caller.user_id,
                question[: self._limits.max_question_chars],
                list(passage_ids)[:10],
                helpful,
            )
        except StorageError as error:
            return _storage_refusal("save your feedback", error)
        return Confirmation(message="Thanks for the feedback.")

    # -- typed commands -------------------------------------------------------------------

    async def dispatch_text(self, line: str, caller: Caller, where: Where) -> Reply:
        """Run a typed command line (without the prefix): `ask ...`, `settings set x y`, ...

        A line that names no command is a question. Used by the terminal and Matrix. Only the
        command word is read before the checks: the caller's rights and the line's length are
        settled before the rest is cleaned or split, so a long paste never holds the loop.
        """
        command, rest = _split_command(line)
        if command == "samizdat":  # `!samizdat settings show` on Matrix
            command, rest = _split_command(rest)
        if command in {"ask", "?"}:
            return await self.ask(rest, caller, where)
        if command == "search":
            return await self.search(rest, caller, where)
        if command == "source":
            return await self.source(rest, where)
        if command == "library" and _blank(rest):
            return await self.library(where)
        if command == "help" and _blank(rest):
            return self.help(caller)
        if command == "about" and _blank(rest):
            return self.about()
        if command not in _ADMIN_COMMANDS:
            return await self.ask(line, caller, where)
        if not caller.is_admin:
            return _refuse(RefusalReason.NOT_ADMIN, NOT_ADMIN)
        if len(rest) > MAX_ADMIN_ARGUMENTS:
            return _arguments_too_long(len(rest))
        arguments = normalize_input(rest)
        if command == "settings":
            return await self._settings_text(arguments, caller, where)
        if command == "channels":
            action, _, channel = arguments.partition(" ")
            if action.lower() not in {"allow", "deny", "clear"}:
                return _refuse(
                    RefusalReason.INVALID, "Usage: channels allow|deny|clear [<channel>]"
                )
            verb: ChannelAction = action.lower()  # type: ignore[assignment]
            return await self.channels(caller, where, verb, channel.strip() or None)
        return await self.unanswered(caller, where, show_askers=arguments.lower() == "askers")

    async def _settings_text(self, rest: str, caller: Caller, where: Where) -> Reply:
        try:
            parts = shlex.split(rest)
        except ValueError:
            parts = rest.split()
        verb = parts[0].lower() if parts else "show"
        if verb == "show":
            return await self.settings_show(caller, where)
        if verb == "set" and len(parts) >= 3:
            return await self.settings_set(caller, where, parts[1], " ".join(parts[2:]))
        if verb == "reset" and len(parts) <= 2:
            return await self.settings_reset(caller, where, parts[1] if len(parts) == 2 else None)
        return _refuse(
            RefusalReason.INVALID,
            "Usage: settings show | settings set <name> <value> | settings reset [<name>]. "
            f"Settings: {', '.join(SETTABLE)}.",
        )

    # -- checks ---------------------------------------------------------------------------

    async def _closed_here(self, where: Where) -> Refusal | None:
        """Why nothing is shown here: the place is closed, or its settings cannot be read."""
        try:
            settings = await self.store.get(where.place)
        except StorageError as error:
            return _storage_refusal("read this place's settings", error)
        return self._place_closed(settings, where)

    @staticmethod
    def _place_closed(settings: ServerSettings, where: Where) -> Refusal | None:
        """Why the bot stays quiet here (switched off, channel not allowed), if it does."""
        if not settings.enabled:
            return _refuse(RefusalReason.DISABLED, "The bot is switched off here.")
        if where.channel is not None and (
            where.channel in settings.denied_channels
            or (settings.allowed_channels and where.channel not in settings.allowed_channels)
        ):
            return _refuse(RefusalReason.CHANNEL, "The bot does not answer in this channel.")
        return None

    def _check_question(
        self, raw: str, settings: ServerSettings, caller: Caller, where: Where, verb: str
    ) -> str | Refusal:
        """The cleaned question, or the reason it will not be answered here and now."""
        closed = self._place_closed(settings, where)
        if closed is not None:
            return closed
        limit = self._limits.max_question_chars
        if len(raw) > RAW_QUESTION_FACTOR * limit:
            return _question_too_long(len(raw), limit)
        question = normalize_input(raw)
        if not question:
            return _refuse(
                RefusalReason.EMPTY,
                f"Ask something after `{verb}`, e.g. `{verb} why did the Kronstadt sailors rebel?`",
            )
        if len(question) > limit:
            return _question_too_long(len(question), limit)
        if not has_words(question):
            return _refuse(RefusalReason.EMPTY, "I could not find any words to look up in that.")
        # Admins are trusted with their own place: limits guard against everyone else.
        over = (
            None
            if caller.is_admin
            else self._rate.check(where.place, caller.user_id, settings.cooldown_seconds)
        )
        if over is not None:
            kind, wait = over
            seconds = max(1, round(wait + 0.49))
            message = (
                f"Slow down a little: try again in {seconds} s."
                if kind == "cooldown"
                else f"Many questions here just now: try again in {seconds} s."
            )
            reason = RefusalReason.COOLDOWN if kind == "cooldown" else RefusalReason.BUSY
            return _refuse(reason, message)
        return question


def _split_command(line: str) -> tuple[str, str]:
    """(command word, the rest as typed); only the short first word is cleaned."""
    match = _COMMAND_WORD.match(line)
    if match is None:
        return "", line
    return normalize_input(match.group(1)).lower(), line[match.end() :]


def _blank(text: str) -> bool:
    """True when nothing but spaces and invisible characters follows a command."""
    return not text.strip() or (len(text) <= 64 and not normalize_input(text))


def _question_too_long(length: int, limit: int) -> Refusal:
    return _refuse(
        RefusalReason.TOO_LONG,
        f"That is {length:,} characters; questions can be at most {limit:,}.",
    )


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
