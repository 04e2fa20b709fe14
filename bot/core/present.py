"""The words of every reply, written once for every platform.

`present` turns a core reply into a `Document`: the answer's lead-in, its sources and
caveats, help lines, listings and notices. Renderers (Discord, Matrix, the terminal) lay the
document out in their markup and escape what came from outside; none of them writes a
sentence of its own. Lists longer than a chat message can carry are cut here, once, with a
line saying how many more there are.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from bot.answers.model import Citation, RetrievedPassage, SectionPointer
from bot.core.document import (
    Channel,
    Code,
    CommandName,
    Document,
    Inline,
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
    Section,
    Strong,
    Text,
    Tone,
)
from bot.core.replies import (
    AboutReply,
    AnswerReply,
    Confirmation,
    DocumentSummary,
    HelpReply,
    LibraryReply,
    PassageView,
    Refusal,
    Reply,
    SearchReply,
    SettingsReply,
    ShelfReply,
    UnansweredReply,
)

# A list longer than this is cut, with a last line counting the rest.
MAX_LISTED = 25
# Where a list cuts the library's words (before any escaping): one line each stays readable.
TITLE_CHARS = 150
NAME_CHARS = 100
PREVIEW_CHARS = 300
VALUE_CHARS = 200
CHANGE_CHARS = 80

ANSWER_FOOTER = "Quoted from the library; check the sources."
# A decline quotes nothing: it says where to read on instead.
DECLINE_FOOTER = (
    "Nothing was quoted. `source <passage id>` shows one of these whole; other words may find more."
)
# In a notice: `code` of ours, and “what someone typed” (see `quote_typed`, which keeps
# backticks and curly quotes out of it), shown literally.
_CODE_SPAN = re.compile(r"`([^`\n]+)`|“([^“”\n]*)”")


def present(reply: Reply) -> Document:
    """The document showing `reply`, with the place's command prefix for typed commands."""
    document = _present(reply)
    return Document(
        blocks=document.blocks,
        sections=document.sections,
        title=document.title,
        subject=document.subject,
        footer=document.footer,
        tone=document.tone,
        command_prefix=reply.command_prefix,
    )


def _present(reply: Reply) -> Document:
    match reply:
        case AnswerReply():
            return _answer(reply)
        case SearchReply():
            return _search(reply)
        case PassageView():
            return _passage(reply)
        case LibraryReply():
            return _library(reply)
        case ShelfReply():
            return _shelf(reply)
        case HelpReply():
            return _help(reply)
        case AboutReply():
            return _about(reply)
        case SettingsReply():
            return _settings(reply)
        case UnansweredReply():
            return _unanswered(reply)
        case Confirmation() | Refusal():
            return notice(reply.message)
    raise TypeError(f"nothing presents {type(reply).__name__}")  # pragma: no cover


def notice(message: str) -> Document:
    """A short message of the core's (a refusal, a confirmation); `x` in it is code."""
    return Document(blocks=(Paragraph(_with_code(message)),), tone=Tone.NOTICE)


def _with_code(message: str) -> Line:
    """The notice's spans: code as code, typed text quoted inertly (no Markdown, no live
    mentions on any platform), the rest as our words."""
    spans: list[Inline] = []
    last = 0
    for match in _CODE_SPAN.finditer(message):
        if match.start() > last:
            spans.append(Text(message[last : match.start()]))
        if match.group(1) is not None:
            spans.append(Code(match.group(1)))
        else:
            spans += [Text("“"), Literal(match.group(2)), Text("”")]
        last = match.end()
    if last < len(message):
        spans.append(Text(message[last:]))
    return tuple(spans)


def origin(title: str, author: str, section: str) -> Line:
    """Where a passage comes from: its document's title, the author, the section. A section
    named like the document (the text before its first heading) is not named twice."""
    spans: list[Inline] = [Literal(title, TITLE_CHARS, emphasis=True)]
    if author:
        spans += [Text(", "), Literal(author, NAME_CHARS)]
    if section and _plain_name(section) != _plain_name(title):
        spans += [Text(", § "), Literal(section, NAME_CHARS)]
    return tuple(spans)


def _plain_name(name: str) -> str:
    return " ".join(name.casefold().split())


def shelf_mark(shelf: str) -> Line:
    """Which shelf a passage is on, said only of a place's own (the shared one is the rule)."""
    return (Text(" · added here"),) if shelf == "place" else ()


# -------------------------------------------------------------------------- answers


def _answer(reply: AnswerReply) -> Document:
    answer = reply.answer
    if not answer.answered:
        pointers: tuple[Section, ...] = ()
        if answer.closest:
            pointers = (Section("Closest sections", (_pointers(answer.closest),)),)
        return Document(
            blocks=(Paragraph((Literal(answer.text),)),),
            sections=pointers,
            subject=answer.question,
            footer=_with_code(DECLINE_FOOTER) if answer.closest else (),
            tone=Tone.DECLINED,
        )
    # The core numbers citations 1..n and never gives more than the place shows.
    citations = answer.citations
    if reply.show_quotes or not citations:
        lead: Line = (Literal(answer.text),)
    else:
        markers: list[Inline] = [Text("The library answers this in ")]
        for index, citation in enumerate(citations):
            if index:
                markers.append(Text(" "))
            markers.append(Text(f"[{citation.marker}]"))
        lead = (*markers, Text("."))
    sections: tuple[Section, ...] = ()
    if citations:
        sections = (Section("Sources", (_sources(citations),)),)
        caveats = sorted({c.caveat for c in citations if c.caveat})
        if caveats:
            notes = tuple(Paragraph((Text("Note: "), Literal(caveat))) for caveat in caveats)
            sections += (Section("Read with care", notes),)
    return Document(
        blocks=(Paragraph(lead),),
        sections=sections,
        subject=answer.question,
        footer=(Text(ANSWER_FOOTER),),
        tone=Tone.ANSWER,
    )


def _sources(citations: Iterable[Citation]) -> Items:
    """Where each quote comes from; the quotes themselves are in the answer, once."""
    return Items(
        tuple(
            Item(
                (
                    *origin(c.title, c.author, c.section),
                    *shelf_mark(c.shelf),
                    PassageRef(c.passage_id),
                )
            )
            for c in citations
        ),
        ListStyle.CITED,
    )


def _pointers(pointers: Iterable[SectionPointer]) -> Items:
    return Items(
        tuple(
            Item(
                (
                    *origin(p.title, p.author, p.section),
                    *shelf_mark(p.shelf),
                    PassageRef(p.passage_id),
                )
            )
            for p in pointers
        )
    )


# -------------------------------------------------------------------------- the library


def _search(reply: SearchReply) -> Document:
    query = Literal(reply.query, PREVIEW_CHARS)
    if not reply.hits:
        return Document(
            blocks=(Paragraph((Text("Nothing in the library matches “"), query, Text("”."))),),
            tone=Tone.NOTICE,
        )
    hits = _capped(
        [
            Item(
                (
                    *origin(h.title, h.author, h.section),
                    *shelf_mark(h.shelf),
                    PassageRef(h.passage_id),
                    Text(f" · score {h.score:.2f}"),
                ),
                quote=_preview(h.text),
            )
            for h in reply.hits
        ]
    )
    return Document(
        blocks=(Items(hits, ListStyle.NUMBERED),),
        title=(Text("Passages for “"), query, Text("”")),
        footer=(
            CommandName("source", "source <passage id>"),
            Text(" shows a whole passage."),
        ),
    )


def _preview(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= PREVIEW_CHARS else flat[: PREVIEW_CHARS - 1].rstrip() + "…"


def _passage(view: PassageView) -> Document:
    around: list[Inline] = [Code(view.passage_id)]
    if view.author:
        around += [Text(" · "), Literal(view.author, NAME_CHARS)]
    if view.section:
        around += [Text(" · § "), Literal(view.section, NAME_CHARS)]
    if view.previous_id:
        around += [Text(" · previous: "), Code(view.previous_id)]
    if view.next_id:
        around += [Text(" · next: "), Code(view.next_id)]
    return Document(
        blocks=(Quote(view.text or "(empty passage)", whole=True),),
        title=(Literal(view.title),),
        footer=tuple(around),
    )


def passage_page(passage: RetrievedPassage, index: int, total: int) -> Document:
    """One retrieved passage as a page of an answer's passages, for paging through them."""
    return Document(
        blocks=(Quote(passage.text),),
        title=(Literal(passage.title),),
        footer=(
            Text(f"Passage {index + 1} of {total} · "),
            Code(passage.passage_id),
            Text(" · "),
            Literal(passage.author or "unknown author", NAME_CHARS),
            Text(" · § "),
            Literal(passage.section or "—", NAME_CHARS),
            Text(f" · score {passage.score:.2f}"),
        ),
    )


def _library(reply: LibraryReply) -> Document:
    documents = _capped(
        [
            Item(
                (
                    Code(d.doc_id),
                    Text(" "),
                    Literal(d.title, TITLE_CHARS, emphasis=True),
                    Text(f"{f' ({d.year})' if d.year else ''} — "),
                    Literal(d.author or "unknown author", NAME_CHARS),
                    Text(f" · {d.passages} passages"),
                    *shelf_mark(d.shelf),
                )
            )
            for d in reply.documents
        ]
    )
    return Document(
        blocks=(Items(documents or (Item((Text("(no documents)"),)),)),),
        title=(Text("The library"),),
        footer=(Text(f"{len(reply.documents)} documents"),),
    )


_SHELF_TITLES = {
    "added": "Added",
    "removed": "Removed",
    "reindexed": "Reindexed",
    "listed": "Documents added here",
    "shown": "An added document",
}
_SHELF_FOOTERS = {
    "added": "Questions here search it now.",
    "removed": "Questions here no longer search it.",
    "reindexed": "Questions here search the new index now.",
}


def _shelf(reply: ShelfReply) -> Document:
    """A shelf's documents after a change, its listing, or one document in full."""
    where = "the shared shelf" if reply.shared else "this place's shelf"
    items = _capped([_shelf_item(d, reply.change == "shown") for d in reply.documents])
    if not items:
        return notice(EMPTY_SHELF)
    footer = _SHELF_FOOTERS.get(reply.change)
    total = sum(d.passages for d in reply.documents)
    return Document(
        blocks=(Items(items),),
        title=(Text(f"{_SHELF_TITLES[reply.change]} · {where}"),),
        footer=(Text(footer if footer else f"{len(reply.documents)} documents, {total} passages"),),
        tone=Tone.NOTICE if footer else Tone.INFO,
    )


def _shelf_item(d: DocumentSummary, details: bool) -> Item:
    line: list[Inline] = [
        Code(d.doc_id),
        Text(" "),
        Literal(d.title, TITLE_CHARS, emphasis=True),
        Text(f"{f' ({d.year})' if d.year else ''} — "),
        Literal(d.author or "unknown author", NAME_CHARS),
        Text(f" · {d.passages} passages"),
    ]
    if d.added_by is not None:
        line += [Text(" · added by "), Person(d.added_by)]
    if d.added_at is not None:
        line += [Text(" "), Moment(d.added_at)]
    if details:
        if d.kind:
            line.append(Text(f" · from a {d.kind} file"))
        if d.source:
            line += [Text(" · source: "), Literal(d.source, NAME_CHARS)]
    return Item(tuple(line))


def _help(reply: HelpReply) -> Document:
    lines: list[Item] = []
    for c in reply.commands:
        if c.menu:
            lines.append(Item((Strong(c.name), Text(f" ({c.usage}) — {c.summary}"))))
            continue
        admins = " (admins)" if c.admin_only else ""
        lines.append(
            Item((CommandName(c.name, c.usage, c.admin_only), Text(f" — {c.summary}{admins}")))
        )
    return Document(
        blocks=(
            Items(tuple(lines)),
            Paragraph((Text("Or mention me with a question: I answer it where you asked."),)),
        ),
        title=(Text("Commands"),),
        footer=(Text("Answers quote the library and cite it."),),
    )


def _about(reply: AboutReply) -> Document:
    return Document(
        blocks=(
            Paragraph(
                (
                    Text(
                        f"Samizdat {reply.version}: {reply.documents} documents, "
                        f"{reply.passages} passages, indexed "
                    ),
                    Moment(reply.indexed_at),
                    Text("."),
                )
            ),
            Paragraph(
                (Text("Answers come only from the library, quoted, and cite every source."),)
            ),
        ),
        title=(Text("About Samizdat"),),
    )


# -------------------------------------------------------------------------- admins


def _settings(reply: SettingsReply) -> Document:
    values = tuple(
        Item((Code(name), Text(": "), Literal(value, VALUE_CHARS)))
        for name, value in reply.values.items()
    )
    sections: tuple[Section, ...] = ()
    if reply.recent_changes:
        changes = tuple(
            Item(
                (
                    Moment(c.at),
                    Text(" "),
                    Person(c.user_id),
                    Text(" "),
                    Code(c.setting),
                    Text(": "),
                    Literal(c.old_value or "—", CHANGE_CHARS),
                    Text(" → "),
                    Literal(c.new_value or "—", CHANGE_CHARS),
                )
            )
            for c in reply.recent_changes
        )
        sections = (Section("Recent changes", (Items(changes),)),)
    return Document(
        blocks=(Items(values),), sections=sections, title=(Text("Settings for this place"),)
    )


def _unanswered(reply: UnansweredReply) -> Document:
    if not reply.items:
        return notice("No unanswered questions recorded here.")
    questions = []
    for q in reply.items:
        line: list[Inline] = [Moment(q.at)]
        if q.channel:
            line += [Text(" "), Channel(q.channel)]
        if q.user_id:
            line += [Text(" "), Person(q.user_id)]
        line += [Text(": "), Literal(q.question, PREVIEW_CHARS)]
        questions.append(Item(tuple(line)))
    return Document(
        blocks=(Items(_capped(questions)),),
        title=(Text("Questions the library did not answer"),),
        footer=(Text("Newest first."),),
    )


def _capped(items: Sequence[Item]) -> tuple[Item, ...]:
    if len(items) <= MAX_LISTED:
        return tuple(items)
    more = Item((Text(f"and {len(items) - MAX_LISTED} more"),))
    return (*items[:MAX_LISTED], more)


# -------------------------------------------------------------------------- the core's notices
# Refusals and confirmations, worded here and carried as `Refusal.message` or
# `Confirmation.message`; `x` in them is code. Text a person typed arrives already quoted
# (`quote_typed`), so it cannot open a code span.

NOT_ADMIN = "Only admins of this server or room can do that."
SWITCHED_OFF = "The bot is switched off here."
CHANNEL_CLOSED = "The bot does not answer in this channel."
NO_CHANNELS_HERE = "This place has no channels: the setting applies to it whole."
EMPTY_MENTION = "Ask me a history question after my name, or use the `ask` command."
PRIVATE_HERE = "Answers are private here: ask with the `ask` command."
NO_WORDS = "I could not find any words to look up in that."
TRY_ENGLISH = "The library is in English: try asking in English."
NO_PASSAGE_ID = "Give a passage id, like `kuzbass:3`."
THANKS = "Thanks for the feedback."
NOTHING_ABOUT_YOU = "Nothing was stored about you."
NOTHING_ABOUT_PLACE = "Nothing was stored about the people of this place."
NOTHING_TO_RESET = "Nothing to reset: already the defaults."
ALL_CHANNELS_AGAIN = "The bot may answer in every channel again."
NO_CHANNEL = "A channel is needed."
SETTINGS_USAGE = "Usage: settings show | settings set <name> <value> | settings reset [<name>]."
CHANNELS_USAGE = "Usage: channels allow|deny|clear [<channel>]"

# What the database could not do, for `could_not`.
READ_SETTINGS = "read this place's settings"
SAVE_SETTING = "save that setting"
RESET_SETTING = "reset that setting"
SAVE_CHANNELS = "save the channel lists"
READ_UNANSWERED = "read the unanswered questions"
SAVE_FEEDBACK = "save your feedback"
FORGET_YOU = "forget what was stored about you"
FORGET_PLACE = "forget this place's records"


def could_not(doing: str, reason: str) -> str:
    return f"Could not {doing}: {reason}."


def arguments_too_long(length: int, limit: int) -> str:
    return f"That is {length:,} characters; an admin command takes at most {limit}."


def question_too_long(length: int, limit: int) -> str:
    return f"That is {length:,} characters; questions can be at most {limit:,}."


def ask_something(verb: str) -> str:
    return f"Ask something after `{verb}`, e.g. `{verb} why did the Kronstadt sailors rebel?`"


def no_passage(quoted: str) -> str:
    return (
        f"There is no passage {quoted}. Ids look like `kuzbass:3`; "
        "`search` or `library` shows them."
    )


def forgot_you(removed: int) -> str:
    return f"Forgotten: {removed} records of your questions, feedback and changes."


def forgot_place(removed: int) -> str:
    return f"Forgotten: {removed} records of this place's questions and feedback."


def setting_unchanged(name: str, value: str) -> str:
    return f"`{name}` is already {value}."


def setting_changed(name: str, new: str, old: str) -> str:
    return f"`{name}` is now {new} (was {old})."


def reset_done(names: Sequence[str]) -> str:
    return f"Reset to the default: {', '.join(names)}."


def unknown_setting(quoted: str, settable: Sequence[str]) -> str:
    return f"Unknown setting {quoted}. Settings: {', '.join(settable)}."


def not_allowed(name: str, allowed: str, quoted: str) -> str:
    return f"`{name}` must be {allowed}; got {quoted}."


def not_a_channel(quoted: str, longest: int) -> str:
    return (
        f"{quoted} is not a channel: give a channel id or name of at most "
        f"{longest} letters, digits and - _ . : !"
    )


def too_many_channels(name: str, most: int) -> str:
    return f"`{name}` can hold at most {most} channels; clear some first."


def name_the_channel(action: str) -> str:
    return f"Name the channel to {action}."


def channel_allowed(quoted: str) -> str:
    return f"The bot may answer in channel {quoted}."


def channel_denied(quoted: str) -> str:
    return f"The bot will not answer in channel {quoted}."


def channel_unlisted(quoted: str) -> str:
    return f"Channel {quoted} is no longer listed."


# -------------------------------------------------------------------------- shelves

NO_FILE = (
    "Attach the file to add (on Discord, the `file` option; on Matrix, reply to the file "
    "with the command; in the terminal, give its path)."
)
NO_SHELVES = "Adding documents is not set up here."
NOTHING_HERE = (
    "This place reads no documents: add some with `library add`, or turn `shared_library` back on."
)
SHARED_ONLY_IN_TERMINAL = "Only the operator can change the shared library, from the terminal."
EMPTY_SHELF = "Nothing has been added to this place's shelf yet: `library add` adds a file."
SAVE_AUDIT = "record that change in the audit log"
LIBRARY_HEADING = "The library"
SHELF_HEADING = "This place's shelf"
SHARED_SHELF_HEADING = "The shared shelf"

_UNREADABLE = {
    "empty": "That file is empty.",
    "not_a_document": "That is not a document I can read{detail}. "
    "Send a PDF, an EPUB, a web page (HTML), Markdown or plain text.",
    "no_text_layer": "This PDF has no text layer (a scan?): I read text, not pictures of it.",
    "encrypted": "That PDF is encrypted: send one without a password.",
    "damaged": "That file could not be read{detail}: it looks damaged, or needed more "
    "memory than a file may take.",
    "unpacks_too_large": "That file unpacks to far more than any book (a zip bomb?): refused.",
    "no_text": "No text could be found in that file.",
    "too_much_text": "That file holds more text than one document may.",
    "too_slow": "Reading that file took too long: refused.",
    "too_much_memory": "Reading that file needed too much memory: refused.",
}


def unreadable(problem: str, detail: str) -> str:
    """Why a file was refused, in words; `detail` is what it is (or claimed to be)."""
    if problem == "too_large":
        return f"That file is larger than the limit of {_megabytes(detail)}."
    template = _UNREADABLE.get(problem, "That file could not be read.")
    if problem == "damaged":
        shown = f" as a {detail}" if detail else ""
    else:
        shown = f": it is {detail}" if detail else ""
    return template.format(detail=shown)


def cannot_open(quoted: str, reason: str) -> str:
    return f"Could not open {quoted}: {reason}."


def shelf_full(limit: str) -> str:
    return f"This place's shelf is full (at most {_megabytes(limit)}): remove a document first."


def not_on_shelf(quoted: str) -> str:
    return f"There is no document {quoted} on this shelf; `library list` shows them."


def shelf_damaged() -> str:
    return "This shelf could not be read; the operator will find the reason in the log."


def _megabytes(value: str) -> str:
    try:
        return f"{int(value) / 1_000_000:g} MB"
    except ValueError:
        return "the limit"


# -------------------------------------------------------------------------- what adapters say
# Replies that never reach the core: a failure while answering, and the platform's own
# events (Discord's stale commands, permission checks, expired buttons).

# The heading of a reply's later messages, where one message cannot hold it all.
CONTINUED = "(continued)"
TERMINAL_BANNER = (
    "Samizdat — ask a history question about workers' self-management in revolutionary "
    "Russia.\nType `help` for commands, `quit` to leave."
)
APOLOGY = "Sorry, something went wrong answering that. The error has been logged."
EXPIRED_BUTTON = "This button has expired: ask again with /ask."
NOT_YOUR_PASSAGES = (
    "Only the person who asked can page through these passages. Ask with /ask to see your own."
)
NO_TEXT_TO_ASK = "That message has no text to ask about."
OUT_OF_DATE = (
    "That command has changed since it was published to Discord. Try again later; "
    "if it keeps failing, tell the server's admins."
)
NEEDS_MANAGE_SERVER = "You need the Manage Server permission for that."
SERVER_ONLY = "That command works only in a server."
CANNOT_USE_HERE = "You cannot use that command here."


def slow_down(seconds: float) -> str:
    return f"Slow down a little: try again in {max(1, round(seconds + 0.49))} s."


def busy(seconds: float) -> str:
    return f"Many questions here just now: try again in {max(1, round(seconds + 0.49))} s."


def not_understood(value: str) -> Document:
    return Document(
        blocks=(
            Paragraph((Text("I could not understand “"), Literal(value, 100), Text("” there."))),
        ),
        tone=Tone.NOTICE,
    )
