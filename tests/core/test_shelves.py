"""A place's own shelf through the core: admins add, list, show and remove documents; the
place's questions search them and no other place's do; refusals change nothing."""

from __future__ import annotations

import io
import itertools
import zipfile
from pathlib import Path

import pytest

from bot.answers.engine import AnswerEngine
from bot.answers.shelves import DocumentFields, Upload
from bot.app import App, open_app
from bot.config import Config, LibraryConfig, RetrievalConfig
from bot.core.parse import parse
from bot.core.places import CONSOLE_PLACE, Caller, Where
from bot.core.replies import (
    AnswerReply,
    LibraryReply,
    PassageView,
    Refusal,
    RefusalReason,
    Reply,
    SearchReply,
    ShelfReply,
)
from bot.core.requests import (
    Ask,
    Library,
    LibraryAdd,
    LibraryList,
    LibraryReindex,
    LibraryRemove,
    LibraryShow,
    Request,
    Search,
    Source,
    Unusable,
)
from bot.library.shelf import shelf_folder

SHELVES = Path(__file__).resolve().parents[1] / "data" / "shelves"
ADMIN = Caller("admin-1", is_admin=True)
MEMBER = Caller("member-1")
_READERS = itertools.count()


def reader() -> Caller:
    """A new reader each question, so no cooldown applies."""
    return Caller(f"reader-{next(_READERS)}")


HERE = Where("discord:1", channel="100")
ELSEWHERE = Where("discord:2", channel="200")
TERMINAL = Where(CONSOLE_PLACE, private_replies=True)
ARAGON = "Who presided over the Regional Defence Council of Aragon?"


def upload(name: str, title: str | None = None, year: int | None = None) -> LibraryAdd:
    data = (SHELVES / name).read_bytes()
    return LibraryAdd(Upload(data, name), DocumentFields(title=title, year=year))


async def run(app: App, request: Request, caller: Caller = ADMIN, where: Where = HERE) -> Reply:
    reply = await app.core.handle(request, caller, where)
    assert reply is not None
    return reply


def cited(reply: Reply) -> list[tuple[str, str]]:
    """(passage id, shelf) of each citation of an answer; empty when it declined."""
    assert isinstance(reply, AnswerReply)
    if not reply.answer.answered:
        return []
    return [(c.passage_id, c.shelf) for c in reply.answer.citations]


def shelf_files(config: Config, place: str) -> list[str]:
    root = shelf_folder(config.data_dir, place)
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


async def test_an_added_document_answers_here_only_and_is_gone_once_removed(
    console_app: App,
) -> None:
    added = await run(console_app, upload("aragon-collectives.epub"))
    assert isinstance(added, ShelfReply) and added.change == "added"
    (entry,) = added.documents
    assert (entry.doc_id, entry.title, entry.year) == (
        "the-council-of-aragon",
        "The Council of Aragon",
        2026,
    )
    assert entry.added_by == ADMIN.user_id

    here = await run(console_app, Ask(ARAGON), reader())
    assert cited(here) and all(
        passage.startswith("the-council-of-aragon:") and shelf == "place"
        for passage, shelf in cited(here)
    )
    assert "Joaquín Ascaso" in here.answer.text  # type: ignore[union-attr]
    elsewhere = await run(console_app, Ask(ARAGON), reader(), ELSEWHERE)
    assert not any(p.startswith("the-council-of-aragon") for p, _ in cited(elsewhere))
    assert isinstance(
        await run(console_app, Source("the-council-of-aragon:1"), reader(), ELSEWHERE), Refusal
    )

    removed = await run(console_app, LibraryRemove("the-council-of-aragon"))
    assert isinstance(removed, ShelfReply) and removed.change == "removed"
    after = await run(console_app, Ask(ARAGON), reader())
    assert not any(p.startswith("the-council-of-aragon") for p, _ in cited(after))
    assert shelf_files(console_app.config, HERE.place) == ["shelf.json"]


async def test_the_admin_given_catalogue_entry_wins_over_the_files_own(plain_app: App) -> None:
    reply = await run(plain_app, upload("diggers.md", title="Winstanley's Diggers", year=1649))
    assert isinstance(reply, ShelfReply)
    (entry,) = reply.documents
    assert (entry.doc_id, entry.title, entry.year) == (
        "winstanley-s-diggers",
        "Winstanley's Diggers",
        1649,
    )
    assert entry.author == "Samizdat contributors"  # from the front matter
    assert entry.source == "Written for the Samizdat test suite"


async def test_list_show_and_the_audit_log(plain_app: App) -> None:
    await run(plain_app, upload("luddites.html"))
    listed = await run(plain_app, LibraryList())
    assert isinstance(listed, ShelfReply)
    assert [d.doc_id for d in listed.documents] == ["the-luddite-rising-in-the-west-riding"]
    shown = await run(plain_app, LibraryShow("the-luddite-rising-in-the-west-riding"))
    assert isinstance(shown, ShelfReply) and shown.documents[0].kind == "html"
    missing = await run(plain_app, LibraryShow("no-such-document"))
    assert isinstance(missing, Refusal) and missing.reason is RefusalReason.NOT_FOUND
    await run(plain_app, LibraryRemove("the-luddite-rising-in-the-west-riding"))
    changes = await plain_app.store.recent_changes(HERE.place)
    assert [(c.setting, c.user_id) for c in changes] == [
        ("library.remove", ADMIN.user_id),
        ("library.add", ADMIN.user_id),
    ]
    assert changes[1].new_value is not None and "the-luddite-rising" in changes[1].new_value


async def test_the_whole_library_lists_the_places_documents_with_their_shelf(
    plain_app: App,
) -> None:
    await run(plain_app, upload("diggers.md"))
    here = await run(plain_app, _library(), reader())
    elsewhere = await run(plain_app, _library(), reader(), ELSEWHERE)
    assert isinstance(here, LibraryReply) and isinstance(elsewhere, LibraryReply)
    shelves = {d.doc_id: d.shelf for d in here.documents}
    assert shelves["the-diggers-of-surrey"] == "place" and shelves["kuzbass"] == "shared"
    assert "the-diggers-of-surrey" not in {d.doc_id for d in elsewhere.documents}
    search = await run(plain_app, Search("Winstanley common treasury"), reader())
    assert isinstance(search, SearchReply)
    assert search.hits[0].doc_id == "the-diggers-of-surrey" and search.hits[0].shelf == "place"


def _library() -> Request:
    return Library()


async def test_non_admins_are_refused_and_nothing_changes(plain_app: App) -> None:
    for request in (
        upload("diggers.md"),
        LibraryRemove("kuzbass"),
        LibraryList(),
        LibraryShow("kuzbass"),
        LibraryReindex(),
    ):
        refusal = await run(plain_app, request, MEMBER)
        assert isinstance(refusal, Refusal) and refusal.reason is RefusalReason.NOT_ADMIN
    assert shelf_files(plain_app.config, HERE.place) == []
    assert await plain_app.store.recent_changes(HERE.place) == []


def _zip_bomb() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("mimetype", "application/epub+zip", zipfile.ZIP_STORED)
        archive.writestr("OEBPS/chapter.xhtml", bytes(5_000_000))
    return buffer.getvalue()


HOSTILE = {
    "empty file": (b"", "notes.txt", "empty"),
    "0-byte PDF": (b"", "book.pdf", "empty"),
    "no text layer": ((SHELVES / "scanned.pdf").read_bytes(), "scan.pdf", "no text layer"),
    "renamed binary": (
        b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 20,
        "a.pdf",
        "not a document",
    ),
    "zip bomb EPUB": (_zip_bomb(), "book.epub", "zip bomb"),
    "50 MB web page": (b"<html><body>" + b"<p>word</p>" * 4_600_000, "page.html", "larger than"),
}


@pytest.mark.parametrize("case", list(HOSTILE), ids=list(HOSTILE))
async def test_a_hostile_upload_is_refused_with_its_reason_and_changes_nothing(
    plain_app: App, case: str
) -> None:
    data, name, words = HOSTILE[case]
    refusal = await run(plain_app, LibraryAdd(Upload(data, name)))
    assert isinstance(refusal, Refusal) and words in refusal.message
    assert shelf_files(plain_app.config, HERE.place) == []
    assert await plain_app.store.recent_changes(HERE.place) == []
    answered = await run(plain_app, Ask("What was the Kuzbass colony?"), reader())
    assert isinstance(answered, AnswerReply) and answered.answer.answered


async def test_a_full_shelf_refuses_another_file(
    tmp_path: Path, plain_engine: AnswerEngine
) -> None:
    pdf = (SHELVES / "paris-commune.pdf").read_bytes()
    config = Config(
        data_dir=tmp_path / "data",
        library=LibraryConfig(shelf_max_bytes=len(pdf) + 2_000),
        retrieval=RetrievalConfig(semantic="off"),
    )
    async with open_app(config, engine=plain_engine) as app:
        assert isinstance(await run(app, upload("paris-commune.pdf")), ShelfReply)
        before = shelf_files(config, HERE.place)
        refusal = await run(app, upload("luddites.html"))
        assert isinstance(refusal, Refusal) and "shelf is full" in refusal.message
        assert shelf_files(config, HERE.place) == before


async def test_passage_ids_stay_when_other_documents_come_and_go(plain_app: App) -> None:
    await run(plain_app, upload("paris-commune.pdf"))
    engine = await plain_app.core.shelves.engine_for(HERE.place, True)  # type: ignore[union-attr]
    assert engine is not None
    before = {p.id: p.text for p in engine.library.passages if p.doc_id.startswith("the-fall")}
    await run(plain_app, upload("diggers.md"))
    engine = await plain_app.core.shelves.engine_for(HERE.place, True)  # type: ignore[union-attr]
    assert engine is not None
    after = {p.id: p.text for p in engine.library.passages if p.doc_id.startswith("the-fall")}
    assert before and after == before
    view = await run(plain_app, Source(next(iter(before))), reader())
    assert isinstance(view, PassageView) and view.text == next(iter(before.values()))


async def test_reindex_cleans_the_shelf_again_and_it_still_answers(plain_app: App) -> None:
    added = await run(plain_app, upload("diggers.md"))
    reindexed = await run(plain_app, LibraryReindex())
    assert isinstance(added, ShelfReply) and isinstance(reindexed, ShelfReply)
    assert reindexed.change == "reindexed"
    assert [d.passages for d in reindexed.documents] == [d.passages for d in added.documents]
    assert cited(await run(plain_app, Ask("Who led the Diggers on St George's Hill?"), reader()))
    changes = await plain_app.store.recent_changes(HERE.place)
    assert changes[0].setting == "library.reindex"
    # The passages of the first cleaning are gone with the index that used them.
    passages = [f for f in shelf_files(plain_app.config, HERE.place) if f.startswith("passages/")]
    assert len(passages) == 1


async def test_a_place_without_the_shared_library_reads_only_its_shelf(plain_app: App) -> None:
    await plain_app.store.set(HERE.place, "shared_library", False, ADMIN.user_id)
    nothing = await run(plain_app, Ask("What was the Kuzbass colony?"), reader())
    assert isinstance(nothing, Refusal) and "reads no documents" in nothing.message
    await run(plain_app, upload("diggers.md"))
    own = await run(plain_app, _library(), reader())
    assert isinstance(own, LibraryReply)
    assert [d.doc_id for d in own.documents] == ["the-diggers-of-surrey"]
    answer = await run(plain_app, Ask("Where did the Diggers dig in April 1649?"), reader())
    assert cited(answer)


async def test_a_shelf_is_read_again_after_a_restart(
    tmp_path: Path, plain_engine: AnswerEngine
) -> None:
    config = Config(data_dir=tmp_path / "data", retrieval=RetrievalConfig(semantic="off"))
    async with open_app(config, engine=plain_engine) as app:
        await run(app, upload("aragon-collectives.epub"))
        first = cited(await run(app, Ask(ARAGON), reader()))
    async with open_app(config, engine=plain_engine) as app:
        again = cited(await run(app, Ask(ARAGON), reader()))
        assert again and again == first


async def test_the_operator_publishes_to_the_shared_library_from_the_terminal_only(
    plain_app: App,
) -> None:
    chat = await run(plain_app, LibraryAdd(upload("luddites.html").upload, shared=True))
    assert isinstance(chat, Refusal) and "terminal" in chat.message
    published = await run(
        plain_app, LibraryAdd(upload("luddites.html").upload, shared=True), where=TERMINAL
    )
    assert isinstance(published, ShelfReply) and published.shared
    question = "How many Luddites were hanged at York Castle?"
    for where in (HERE, ELSEWHERE):
        citations = cited(await run(plain_app, Ask(question), reader(), where))
        assert citations and citations[0][1] == "shared"
    await run(plain_app, LibraryRemove(published.documents[0].doc_id, shared=True), where=TERMINAL)
    after = cited(await run(plain_app, Ask(question), reader(), ELSEWHERE))
    assert not any(passage.startswith("the-luddite") for passage, _ in after)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("library", Library()),
        ("library list", LibraryList()),
        ("library show kuzbass", LibraryShow("kuzbass")),
        ("library remove kuzbass", LibraryRemove("kuzbass")),
        ("library unpublish kuzbass", LibraryRemove("kuzbass", shared=True)),
        ("library reindex", LibraryReindex()),
        (
            'library add ~/a b.pdf title="A Book" year=1920',
            LibraryAdd(None, DocumentFields(title="A Book", year=1920), reference="~/a"),
        ),
        ("library add", LibraryAdd(None)),
        ("library publish x.md", LibraryAdd(None, reference="x.md", shared=True)),
    ],
)
def test_library_lines_parse_to_their_requests(line: str, expected: Request) -> None:
    parsed = parse(line)
    if line.startswith("library add ~/a b.pdf"):
        # Two references: not a command as written, answered with the usage.
        assert isinstance(parsed, Unusable) and parsed.command == "library add"
        assert parse('library add ~/a title="A Book" year=1920') == expected
    else:
        assert parsed == expected


@pytest.mark.parametrize("line", ["library burn", "library add a year=soon", "library show"])
def test_malformed_library_lines_get_the_usage(line: str) -> None:
    parsed = parse(line)
    assert isinstance(parsed, Unusable) and "library add" in parsed.usage


def test_an_overlong_library_line_is_not_read() -> None:
    parsed = parse("library add " + "x" * 5000)
    assert isinstance(parsed, Unusable) and parsed.length > 1000
