"""The conversation core: every request of every platform, answered by one dispatcher.

Adapters turn a platform's events into requests (`bot.core.requests`), call `Core.handle`,
and lay out what comes back. Every rule of the conversation is decided here, once: whether
a mention counts, what an empty one gets, when to stay silent rather than refuse, whether a
reply is private or goes in a thread, who may run admin commands. The place's settings are
read once per request, here; no adapter reads them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from bot import __version__
from bot.answers.engine import AnswerEngine, compose_options
from bot.answers.model import retrieved_passage
from bot.answers.shelves import ShelfError, Shelves
from bot.config import LimitsConfig
from bot.core import present as words
from bot.core.activity import ActivityLog
from bot.core.admin import PlaceAdmin
from bot.core.database import StorageError
from bot.core.followups import Followups
from bot.core.kept_answers import KeptAnswers
from bot.core.limits import Limiter, RateLimiter
from bot.core.parse import parse, read_typed
from bot.core.places import Caller, Where
from bot.core.refusals import arguments_too_long, refuse, storage_refusal
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
)
from bot.core.requests import (
    COMMANDS,
    About,
    Ask,
    ChannelAction,
    Channels,
    Command,
    Feedback,
    ForgetMe,
    ForgetPlace,
    Help,
    Library,
    LibraryAdd,
    LibraryList,
    LibraryReindex,
    LibraryRemove,
    LibraryShow,
    Mention,
    Request,
    Search,
    SettingsReset,
    SettingsSet,
    SettingsShow,
    Source,
    Typed,
    Unanswered,
    Unusable,
    command_of,
)
from bot.core.settings import (
    AnswerLength,
    ServerSettings,
    Visibility,
)
from bot.core.shelf_admin import ShelfAdmin
from bot.core.store import SettingsStore
from bot.core.text import (
    has_words,
    mostly_non_latin,
    normalize_input,
    quote_typed,
    without_references,
)
from bot.library.loader import Library as LoadedLibrary
from bot.observability.metrics import Metrics

log = logging.getLogger(__name__)

MAX_PASSAGE_ID = 100
# Cleaning can shorten a line (runs of spaces, invisible characters), so a question is
# measured again once clean; a raw line this many times the limit is too long whatever it
# holds, and is refused before any per-character work.
RAW_QUESTION_FACTOR = 4

Acknowledge = Callable[[bool], Awaitable[None]]
"""Called once before slow work with whether the reply will be private (Discord defers)."""


class Core:
    """Platform-neutral conversation. Built by `bot.app.open_app`; adapters call `handle`."""

    def __init__(
        self,
        engine: AnswerEngine,
        store: SettingsStore,
        activity: ActivityLog,
        limits: LimitsConfig,
        rate_limiter: Limiter | None = None,
        search_results: int = 5,
        metrics: Metrics | None = None,
        kept_answers: KeptAnswers | None = None,
        shelves: Shelves | None = None,
    ) -> None:
        self._engine = engine
        self.shelves = shelves
        self.store = store
        self.activity = activity
        self._admin = PlaceAdmin(store, activity)
        self._shelf_admin = ShelfAdmin(shelves, store)
        self._limits = limits
        self._rate = rate_limiter or RateLimiter(limits.place_questions_per_minute)
        self._search_results = search_results
        self.metrics = metrics or Metrics()
        self._followups = (
            None if kept_answers is None else Followups(kept_answers, self._library_of)
        )

    @property
    def followups(self) -> Followups:
        """Answers kept for their buttons (built by `open_app`)."""
        if self._followups is None:
            raise RuntimeError("this core was built without a place to keep answers")
        return self._followups

    @property
    def engine(self) -> AnswerEngine:
        """The shared library's engine (with the operator's shared shelf, once loaded)."""
        return self._engine if self.shelves is None else self.shelves.shared

    async def _engine_here(
        self, where: Where, settings: ServerSettings | StorageError
    ) -> AnswerEngine | Refusal:
        """The engine this place's questions are answered from: the shared library (unless
        the place turned it off) and the place's own shelf, never another place's."""
        if self.shelves is None:
            return self._engine
        listening = settings if isinstance(settings, ServerSettings) else ServerSettings()
        try:
            engine = await self.shelves.engine_for(where.place, listening.shared_library)
        except ShelfError as error:
            log.error("%s: shelf unreadable: %s", where.place, error)
            return refuse(RefusalReason.STORAGE, words.shelf_damaged())
        if engine is None:
            return refuse(RefusalReason.NOT_FOUND, words.NOTHING_HERE)
        return engine

    async def _library_of(self, place: str) -> LoadedLibrary | None:
        """The library `place` is answered from now (for an answer's buttons)."""
        try:
            settings: ServerSettings | StorageError = await self.store.get(place)
        except StorageError as error:
            settings = error
        engine = await self._engine_here(Where(place), settings)
        return None if isinstance(engine, Refusal) else engine.library

    @staticmethod
    def _reads_shared(settings: ServerSettings | StorageError) -> bool:
        return settings.shared_library if isinstance(settings, ServerSettings) else True

    # -- the dispatcher -------------------------------------------------------------------

    async def handle(
        self,
        request: Request,
        caller: Caller,
        where: Where,
        acknowledge: Acknowledge | None = None,
        *,
        revising: bool = False,
    ) -> Reply | None:
        """The reply to `request`, or None when the bot stays silent.

        Silence is for messages that are not for the bot (another bot's `!command`, a
        mention where mentions are off) and for mentions where the place chose quiet
        (switched off, channel closed). A command typed on purpose always gets a reply.
        `revising` says the request replaces one already answered (an edited question): it
        counts against the place's budget but not the asker's cooldown, so fixing a typo at
        once does not turn the answer into "slow down".
        """
        try:
            settings: ServerSettings | StorageError = await self.store.get(where.place)
        except StorageError as error:
            settings = error
        listening = settings if isinstance(settings, ServerSettings) else ServerSettings()
        if isinstance(request, Typed):
            resolved = read_typed(request, listening.command_prefix)
            if resolved is None:
                return None
            request = resolved
        from_mention = isinstance(request, Mention)
        if isinstance(request, Mention):
            asked = self._mention(request, settings, where)
            if not isinstance(asked, Ask):
                return asked
            request = asked
        reply = await self._run(
            request, caller, where, settings, from_mention, acknowledge, revising
        )
        if isinstance(request, Ask):
            self.metrics.question(where.place, _outcome(reply))
        return self._addressed(reply, request, where, listening, from_mention)

    def _mention(
        self, mention: Mention, settings: ServerSettings | StorageError, where: Where
    ) -> Ask | Refusal | None:
        """What a mention asks: a question, a hint, or nothing where the place chose quiet."""
        if isinstance(settings, StorageError):
            return storage_refusal(words.READ_SETTINGS, settings)
        if not settings.respond_to_mentions or _place_closed(settings, where) is not None:
            return None
        if not mention.text.strip():
            return refuse(RefusalReason.EMPTY, words.EMPTY_MENTION)
        if _wants_private(settings, where):
            # A reply to a mention is seen by everyone in the channel.
            return refuse(RefusalReason.PRIVATE, words.PRIVATE_HERE)
        return Ask(mention.text)

    async def _run(
        self,
        request: Request,
        caller: Caller,
        where: Where,
        settings: ServerSettings | StorageError,
        from_mention: bool,
        acknowledge: Acknowledge | None,
        revising: bool = False,
    ) -> Reply:
        command = command_of(request)
        if command is None:  # pragma: no cover - typed messages and mentions are resolved
            raise TypeError(f"no command for {type(request).__name__}")
        if command.needs_channels and where.channel is None:
            return refuse(RefusalReason.NOT_HERE, words.NO_CHANNELS_HERE)
        if command.admin_only and not caller.is_admin:
            return refuse(RefusalReason.NOT_ADMIN, words.NOT_ADMIN)
        if isinstance(request, Unusable):
            if request.length:
                return arguments_too_long(request.length)
            return refuse(RefusalReason.INVALID, request.usage)
        if command.gated:
            if isinstance(settings, StorageError):
                return storage_refusal(words.READ_SETTINGS, settings)
            closed = _place_closed(settings, where)
            if closed is not None:
                return closed
        if isinstance(request, Ask | Search):
            assert isinstance(settings, ServerSettings)  # gated: read above
            verb = "ask" if isinstance(request, Ask) else "search"
            text = request.question if isinstance(request, Ask) else request.query
            checked = await self._check_question(text, settings, caller, where, verb, revising)
            if isinstance(checked, Refusal):
                return checked
            await self._acknowledge(acknowledge, command, settings, where, from_mention)
            engine = await self._engine_here(where, settings)
            if isinstance(engine, Refusal):
                return engine
            if isinstance(request, Ask):
                return await self._ask(engine, checked, settings, caller, where)
            return await self._search(engine, checked)
        await self._acknowledge(acknowledge, command, settings, where, from_mention)
        return await self._command(request, caller, where, settings)

    async def _acknowledge(
        self,
        acknowledge: Acknowledge | None,
        command: Command,
        settings: ServerSettings | StorageError,
        where: Where,
        from_mention: bool,
    ) -> None:
        if acknowledge is not None and command.slow:
            await acknowledge(_private(command, settings, where, from_mention))

    async def _command(
        self,
        request: Request,
        caller: Caller,
        where: Where,
        settings: ServerSettings | StorageError,
    ) -> Reply:
        match request:
            case Source() | Library():
                engine = await self._engine_here(where, settings)
                if isinstance(engine, Refusal):
                    return engine
                if isinstance(request, Source):
                    return self._source(engine, request.passage_id)
                return self._library(engine)
            case LibraryAdd():
                shared = self._reads_shared(settings)
                return await self._shelf_admin.add(request, caller, where, shared)
            case LibraryRemove():
                shared = self._reads_shared(settings)
                return await self._shelf_admin.remove(request, caller, where, shared)
            case LibraryList():
                return await self._shelf_admin.list(where)
            case LibraryShow():
                return await self._shelf_admin.show(request.doc_id, where)
            case LibraryReindex():
                shared = self._reads_shared(settings)
                return await self._shelf_admin.reindex(caller, where, shared)
            case Help():
                return self.help(caller, where)
            case About():
                return self.about()
            case SettingsShow():
                return await self._admin.show(where, settings)
            case SettingsSet():
                return await self._admin.set(caller, where, request.name, request.value)
            case SettingsReset():
                return await self._admin.reset(caller, where, request.name)
            case Channels():
                return await self._admin.channels(caller, where, request.action, request.channel)
            case Unanswered():
                return await self._admin.unanswered(where, request.show_askers)
            case Feedback():
                return await self._feedback(caller, where, request)
            case ForgetMe():
                return await self._forget_me(caller)
            case ForgetPlace():
                return await self._admin.forget_place(where)
        raise TypeError(f"no handler for {type(request).__name__}")  # pragma: no cover

    @staticmethod
    def _addressed(
        reply: Reply,
        request: Request,
        where: Where,
        settings: ServerSettings,
        from_mention: bool,
    ) -> Reply:
        """The reply marked private or public, and in a thread or not, by one rule."""
        command = command_of(request)
        if isinstance(reply, Refusal):
            private = where.private_replies and not from_mention
        elif command is None:  # pragma: no cover
            private = False
        else:
            private = _private(command, settings, where, from_mention)
        in_thread = isinstance(reply, AnswerReply) and settings.answer_in_thread and not private
        return reply.model_copy(
            update={
                "private": private,
                "in_thread": in_thread,
                "command_prefix": settings.command_prefix,
            }
        )

    # -- conveniences for scripts and tests: one request each ----------------------------

    async def ask(self, question: str, caller: Caller, where: Where) -> Reply:
        return _sure(await self.handle(Ask(question), caller, where))

    async def search(self, query: str, caller: Caller, where: Where) -> Reply:
        return _sure(await self.handle(Search(query), caller, where))

    async def source(self, passage_id: str, caller: Caller, where: Where) -> Reply:
        return _sure(await self.handle(Source(passage_id), caller, where))

    async def library(self, caller: Caller, where: Where) -> Reply:
        return _sure(await self.handle(Library(), caller, where))

    async def dispatch_text(self, line: str, caller: Caller, where: Where) -> Reply:
        """A typed line (the terminal's): a command, or else a question."""
        return _sure(await self.handle(parse(line), caller, where))

    async def settings_show(self, caller: Caller, where: Where) -> Reply:
        return _sure(await self.handle(SettingsShow(), caller, where))

    async def settings_set(self, caller: Caller, where: Where, name: str, value: str) -> Reply:
        return _sure(await self.handle(SettingsSet(name, value), caller, where))

    async def settings_reset(self, caller: Caller, where: Where, name: str | None) -> Reply:
        return _sure(await self.handle(SettingsReset(name), caller, where))

    async def channels(
        self, caller: Caller, where: Where, action: ChannelAction, channel: str | None
    ) -> Reply:
        return _sure(await self.handle(Channels(action, channel), caller, where))

    async def unanswered(self, caller: Caller, where: Where, show_askers: bool = False) -> Reply:
        return _sure(await self.handle(Unanswered(show_askers), caller, where))

    # -- everyone -------------------------------------------------------------------------

    async def _ask(
        self,
        engine: AnswerEngine,
        question: str,
        settings: ServerSettings,
        caller: Caller,
        where: Where,
    ) -> AnswerReply:
        """Answer a question from the library, or decline and point at the closest sections.

        Recording a declined question is best effort: a failed write never costs the answer.
        """
        options = compose_options(
            brief=settings.answer_length is AnswerLength.BRIEF,
            strictness=settings.strictness.value,
            config=engine.config,
            max_sources=settings.sources_shown,
        )
        started = time.perf_counter()
        answer, retrieval = await engine.aanswer_timed(question, options)
        self.metrics.answered_in(where.place, time.perf_counter() - started, retrieval)
        if not answer.answered:
            if mostly_non_latin(question):
                answer = answer.model_copy(update={"text": f"{answer.text} {words.TRY_ENGLISH}"})
            try:
                await self.activity.record_unanswered(
                    where.place, where.channel, caller.user_id, question
                )
            except StorageError as error:
                log.warning("%s: unanswered question not recorded: %s", where.place, error.reason)
        return AnswerReply(answer=answer, show_quotes=settings.show_quotes)

    async def _search(self, engine: AnswerEngine, query: str) -> SearchReply:
        hits = await engine.asearch(query, self._search_results)
        documents = engine.library
        return SearchReply(
            query=query,
            hits=[retrieved_passage(documents, h.passage, round(h.score, 3)) for h in hits],
        )

    def _source(self, engine: AnswerEngine, passage_id: str) -> PassageView | Refusal:
        # Ids are short: clip before cleaning, so a pasted page costs nothing.
        wanted = normalize_input(passage_id[: 4 * MAX_PASSAGE_ID]).strip("`'\"<>[]()").lower()
        if not wanted:
            return refuse(RefusalReason.EMPTY, words.NO_PASSAGE_ID)
        library = engine.library
        passage = library.passage(wanted[:MAX_PASSAGE_ID])
        if passage is None and ":" not in wanted:
            passage = library.passage(f"{wanted}:1")
        if passage is None:
            return refuse(RefusalReason.NOT_FOUND, words.no_passage(quote_typed(wanted)))
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

    @staticmethod
    def _library(engine: AnswerEngine) -> LibraryReply:
        return LibraryReply(
            documents=[
                DocumentSummary(
                    doc_id=d.info.id,
                    title=d.info.title,
                    author=d.info.author,
                    year=d.info.year,
                    passages=len(d.passages),
                    shelf=d.shelf,
                )
                for d in engine.library.documents
            ]
        )

    def help(self, caller: Caller, where: Where) -> HelpReply:
        """The commands this caller can run here, from the one table."""
        platform = where.place.split(":", 1)[0]
        return HelpReply(
            commands=[
                CommandHelp(
                    name=c.name,
                    usage=c.usage,
                    summary=c.summary,
                    admin_only=c.admin_only,
                    menu=c.menu,
                )
                for c in COMMANDS
                if c.in_help
                and (caller.is_admin or not c.admin_only)
                and (where.channel is not None or not c.needs_channels)
                and (not c.only_on or platform in c.only_on)
            ]
        )

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

    async def _feedback(self, caller: Caller, where: Where, feedback: Feedback) -> Reply:
        try:
            await self.activity.record_feedback(
                where.place,
                caller.user_id,
                feedback.question[: self._limits.max_question_chars],
                list(feedback.passage_ids)[:10],
                feedback.helpful,
            )
        except StorageError as error:
            return storage_refusal(words.SAVE_FEEDBACK, error)
        return Confirmation(message=words.THANKS)

    async def _forget_me(self, caller: Caller) -> Reply:
        """Red's `red_delete_data_for_user`: everything kept about one person, everywhere."""
        try:
            removed = await self.activity.forget_user(caller.user_id)
        except StorageError as error:
            return storage_refusal(words.FORGET_YOU, error)
        if not removed:
            return Confirmation(message=words.NOTHING_ABOUT_YOU)
        return Confirmation(message=words.forgot_you(removed))

    # -- admins ---------------------------------------------------------------------------

    # -- checks ---------------------------------------------------------------------------

    async def _check_question(
        self,
        raw: str,
        settings: ServerSettings,
        caller: Caller,
        where: Where,
        verb: str,
        revising: bool = False,
    ) -> str | Refusal:
        """The cleaned question, or the reason it will not be answered here and now."""
        limit = self._limits.max_question_chars
        if len(raw) > RAW_QUESTION_FACTOR * limit:
            return _question_too_long(len(raw), limit)
        question = without_references(normalize_input(raw))
        if not question:
            return refuse(RefusalReason.EMPTY, words.ask_something(verb))
        if len(question) > limit:
            return _question_too_long(len(question), limit)
        if not has_words(question):
            return refuse(RefusalReason.EMPTY, words.NO_WORDS)
        # Admins are trusted with their own place: limits guard against everyone else.
        over = (
            None
            if caller.is_admin
            else await self._rate.check(
                where.place, caller.user_id, 0 if revising else settings.cooldown_seconds
            )
        )
        if over is not None:
            kind, wait = over
            if kind == "cooldown":
                return refuse(RefusalReason.COOLDOWN, words.slow_down(wait))
            return refuse(RefusalReason.BUSY, words.busy(wait))
        return question


def _place_closed(settings: ServerSettings, where: Where) -> Refusal | None:
    """Why the bot stays quiet here (switched off, channel not allowed), if it does."""
    if not settings.enabled:
        return refuse(RefusalReason.DISABLED, words.SWITCHED_OFF)
    if where.channel is not None and (
        where.channel in settings.denied_channels
        or (settings.allowed_channels and where.channel not in settings.allowed_channels)
    ):
        return refuse(RefusalReason.CHANNEL, words.CHANNEL_CLOSED)
    return None


def _wants_private(settings: ServerSettings, where: Where) -> bool:
    """The place asked for private answers, and its platform can give them."""
    return where.private_replies and settings.visibility is Visibility.PRIVATE


def _private(
    command: Command,
    settings: ServerSettings | StorageError,
    where: Where,
    from_mention: bool,
) -> bool:
    """Library content follows the place's visibility; help, settings and personal replies
    go to the asker alone wherever the platform can do that. A mention's reply is public."""
    if from_mention or not where.private_replies:
        return False
    if command.gated:
        return isinstance(settings, ServerSettings) and _wants_private(settings, where)
    return True


def _outcome(reply: Reply) -> str:
    """How a question went, for the metrics: answered, declined or refused."""
    if isinstance(reply, AnswerReply):
        return "answered" if reply.answer.answered else "declined"
    return "refused"


def _sure(reply: Reply | None) -> Reply:
    """A command's reply: only typed messages and mentions can go unanswered."""
    if reply is None:  # pragma: no cover - commands always get a reply
        raise AssertionError("a command went unanswered")
    return reply


def _question_too_long(length: int, limit: int) -> Refusal:
    return refuse(RefusalReason.TOO_LONG, words.question_too_long(length, limit))
