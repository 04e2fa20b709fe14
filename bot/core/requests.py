"""What someone asks the bot for, as typed values, and the one table of commands.

A platform turns its events into these requests (Discord's slash commands build them
directly; the terminal and Matrix type them, and `bot.core.parse` reads the line), and
`Core.handle` answers every one of them. The table below is the only list of commands:
dispatch, help and "not in this place" all read it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from bot.answers.shelves import DocumentFields, Upload, UploadFetch

ChannelAction = Literal["allow", "deny", "clear"]


@dataclass(frozen=True)
class Ask:
    question: str


@dataclass(frozen=True)
class Search:
    query: str


@dataclass(frozen=True)
class Source:
    passage_id: str


@dataclass(frozen=True)
class Library:
    pass


@dataclass(frozen=True)
class Help:
    pass


@dataclass(frozen=True)
class About:
    pass


@dataclass(frozen=True)
class SettingsShow:
    pass


@dataclass(frozen=True)
class SettingsSet:
    name: str
    value: str


@dataclass(frozen=True)
class SettingsReset:
    name: str | None = None


@dataclass(frozen=True)
class Channels:
    action: ChannelAction
    channel: str | None = None


@dataclass(frozen=True)
class Unanswered:
    show_askers: bool = False


@dataclass(frozen=True)
class Feedback:
    """A reader's verdict on an answer; `question` and passages are the answer's own."""

    question: str
    passage_ids: tuple[str, ...]
    helpful: bool


@dataclass(frozen=True)
class ForgetMe:
    """Delete what the bot stored about the person asking, everywhere."""


@dataclass(frozen=True)
class ForgetPlace:
    """Delete what the bot stored about the people of this place (an admin's request)."""


@dataclass(frozen=True)
class LibraryAdd:
    """Add a file to this place's shelf (or, `shared`, the operator's shared shelf).

    `upload` is the file as the platform delivered it (Discord's attachment, the Matrix file
    replied to, the terminal's file at `reference`); None when the adapter found none.
    """

    upload: Upload | None
    fields: DocumentFields = field(default_factory=DocumentFields)
    reference: str = ""  # what was typed to name the file (the terminal's path)
    shared: bool = False
    not_opened: str | None = None  # why the adapter could not open `reference`, if it could not
    # A platform's attachment is fetched by the core, after it acknowledged the command, and
    # only when the size the platform declares for it is within the limit.
    fetch: UploadFetch | None = None
    declared_size: int | None = None


@dataclass(frozen=True)
class LibraryRemove:
    doc_id: str
    shared: bool = False


@dataclass(frozen=True)
class LibraryList:
    """The documents on this place's shelf, with who added them and when."""


@dataclass(frozen=True)
class LibraryShow:
    doc_id: str


@dataclass(frozen=True)
class LibraryReindex:
    """Clean every document on this place's shelf again and rebuild its index."""


@dataclass(frozen=True)
class Mention:
    """A message that names the bot; `text` is what follows the name, maybe nothing."""

    text: str


@dataclass(frozen=True)
class Typed:
    """A chat message on a platform with typed commands, which the core reads.

    `mention` is the text after the bot's name when the message names the bot, else None.
    Whether the text is a command depends on the place's prefix, which only the core reads.
    """

    text: str
    mention: str | None = None
    # The file the message replies to, if it replies to one (Matrix's `m.file`): what a
    # `library add` typed in reply to it adds.
    attachment: UploadFetch | None = None


@dataclass(frozen=True)
class Unusable:
    """A typed command that cannot run as written: too long to read, or not as its usage says.

    Kept apart from the command's own request so the caller's rights are checked first, and
    a non-admin's overlong line is refused before anything reads it whole.
    """

    command: str
    length: int = 0  # > 0: the arguments were this long, past the limit
    usage: str = ""


Request = (
    Ask
    | Search
    | Source
    | Library
    | Help
    | About
    | SettingsShow
    | SettingsSet
    | SettingsReset
    | Channels
    | Unanswered
    | Feedback
    | ForgetMe
    | ForgetPlace
    | LibraryAdd
    | LibraryRemove
    | LibraryList
    | LibraryShow
    | LibraryReindex
    | Mention
    | Typed
    | Unusable
)


@dataclass(frozen=True)
class Command:
    """One command: how it is typed, what help says of it, and where it may run.

    `gated` commands stay quiet where the bot is switched off or the channel is closed;
    admin commands are not gated, so an admin can always switch the bot back on.
    `needs_channels` commands mean nothing in a place without channels (a Matrix room, the
    terminal) and are left out of help there. `slow` ones may take longer than a platform
    waits for an acknowledgement (ranking, a database write), so the core acknowledges them
    first. `only_on` and `menu` describe what exists on one platform only (Discord's
    message menu, the terminal's `quit`), so help names it there and nowhere else.
    """

    name: str
    usage: str
    summary: str
    request: type | None  # None: the platform handles it itself (the terminal's `quit`)
    admin_only: bool = False
    gated: bool = False
    needs_channels: bool = False
    slow: bool = False
    in_help: bool = True
    only_on: frozenset[str] = frozenset()  # platforms that have it; empty: every platform
    menu: bool = False

    @property
    def word(self) -> str:
        """The first word typed for it: `settings` for `settings set`."""
        return self.name.split(" ", 1)[0]


COMMANDS: tuple[Command, ...] = (
    Command(
        "ask",
        "ask <question>",
        "Answer a history question from the library, citing sources.",
        Ask,
        gated=True,
        slow=True,
    ),
    Command(
        "search",
        "search <words>",
        "List the passages that best match, with ids and scores.",
        Search,
        gated=True,
        slow=True,
    ),
    Command(
        "source",
        "source <passage id>",
        "Show a whole passage, its document and its neighbours.",
        Source,
        gated=True,
        slow=True,
    ),
    Command("library", "library", "List the documents in the library.", Library, gated=True),
    Command("help", "help", "Show this help.", Help),
    Command("about", "about", "Version, library size and index date.", About),
    Command(
        "forget me",
        "forget me",
        "Delete your questions and feedback, and your name in the settings' history.",
        ForgetMe,
        slow=True,
    ),
    Command(
        "settings show",
        "settings show",
        "Show this place's settings and recent changes.",
        SettingsShow,
        admin_only=True,
        slow=True,
    ),
    Command(
        "settings set",
        "settings set <name> <value>",
        "Change a setting.",
        SettingsSet,
        admin_only=True,
        slow=True,
    ),
    Command(
        "settings reset",
        "settings reset [<name>]",
        "Restore one setting, or all, to the default.",
        SettingsReset,
        admin_only=True,
        slow=True,
    ),
    Command(
        "channels",
        "channels allow|deny|clear [<channel>]",
        "Choose the channels where the bot answers (empty = everywhere).",
        Channels,
        admin_only=True,
        needs_channels=True,
        slow=True,
    ),
    Command(
        "unanswered",
        "unanswered [askers]",
        "Recent questions the library did not answer.",
        Unanswered,
        admin_only=True,
        slow=True,
    ),
    Command(
        "forget place",
        "forget place",
        "Delete the questions and feedback of everyone in this place.",
        ForgetPlace,
        admin_only=True,
        slow=True,
    ),
    Command(
        "library add",
        "library add <file> [title=… author=… year=… source=…]",
        "Add a file (PDF, EPUB, web page, Markdown, text) to this place's own shelf.",
        LibraryAdd,
        admin_only=True,
        slow=True,
    ),
    Command(
        "library remove",
        "library remove <document id>",
        "Remove a document from this place's shelf.",
        LibraryRemove,
        admin_only=True,
        slow=True,
    ),
    Command(
        "library list",
        "library list",
        "The documents added to this place's shelf, by whom and when.",
        LibraryList,
        admin_only=True,
        slow=True,
    ),
    Command(
        "library show",
        "library show <document id>",
        "One added document: its catalogue entry, passages, who added it and when.",
        LibraryShow,
        admin_only=True,
        slow=True,
    ),
    Command(
        "library reindex",
        "library reindex",
        "Clean this place's documents again and rebuild its index.",
        LibraryReindex,
        admin_only=True,
        slow=True,
    ),
    Command(
        "library publish",
        "library publish <file> [title=… author=… year=… source=…]",
        "Add a file to the shared library every place reads.",
        None,
        admin_only=True,
        only_on=frozenset({"console"}),
    ),
    Command(
        "library unpublish",
        "library unpublish <document id>",
        "Remove a document from the shared library.",
        None,
        admin_only=True,
        only_on=frozenset({"console"}),
    ),
    Command(
        "Ask Samizdat",
        "message menu › Apps",
        "ask about a message's text.",
        None,
        only_on=frozenset({"discord"}),
        menu=True,
    ),
    Command("quit", "quit", "Leave the chat.", None, only_on=frozenset({"console"})),
    Command(
        "feedback",
        "feedback",
        "Whether an answer helped (the buttons under an answer).",
        Feedback,
        slow=True,
        in_help=False,
    ),
)

_BY_REQUEST: dict[type, Command] = {
    command.request: command for command in COMMANDS if command.request is not None
}
_BY_NAME: dict[str, Command] = {command.name: command for command in COMMANDS}
# The words that start a command; `samizdat` is the namespace in front of any of them.
COMMAND_WORDS = frozenset(
    command.word
    for command in COMMANDS
    if command.in_help and command.request is not None and not command.only_on
)
NAMESPACE = "samizdat"


def command_of(request: Request) -> Command | None:
    """The table's entry for a request; None for a mention or a typed message."""
    if isinstance(request, Unusable):
        return _BY_NAME.get(request.command) or next(
            (c for c in COMMANDS if c.word == request.command), None
        )
    return _BY_REQUEST.get(type(request))
