"""Reads folders of documents into a library of passages.

A document that cannot be read is reported by name and skipped: one bad file never
stops the rest of the library from loading. A few bytes that are not UTF-8 do not make a
document unreadable: it is kept, and the warning says where the bytes are.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Literal

from bot.library import passage_cache
from bot.library.catalogue import DocumentInfo, catalogue_for
from bot.library.cleaning import (
    CleaningHints,
    CleanText,
    DocFormat,
    Vocabulary,
    clean,
    guess_format,
)
from bot.library.segmentation import Passage, SectionText, split_passages

log = logging.getLogger(__name__)

# Bump when cleaning or splitting changes, so cached passages and indexes are rebuilt.
PIPELINE_VERSION = "1"
NOTES_SECTION = "Notes"
MAX_DOCUMENT_BYTES = 20_000_000

Shelf = Literal["shared", "place"]
_LINE_END = re.compile(rb"\r\n|\r|\n")


@dataclass(frozen=True)
class Document:
    """A catalogued document and its passages; `shelf` says whether every place reads it
    (the shared library) or only the place whose admins added it."""

    info: DocumentInfo
    passages: tuple[Passage, ...]
    shelf: Shelf = "shared"


@dataclass(frozen=True)
class SkippedDocument:
    file: str
    reason: str


@dataclass(frozen=True)
class Library:
    """The documents and their passages, in a fixed order, with a content fingerprint."""

    documents: tuple[Document, ...]
    skipped: tuple[SkippedDocument, ...]
    fingerprint: str
    # Documents whose passages were read from the cache instead of being cleaned.
    from_cache: frozenset[str] = field(default=frozenset(), compare=False)
    _by_id: dict[str, Passage] = field(default_factory=dict, repr=False, compare=False)
    _docs: dict[str, Document] = field(default_factory=dict, repr=False, compare=False)
    _all: list[Passage] = field(default_factory=list, repr=False, compare=False)

    def __post_init__(self) -> None:
        for document in self.documents:
            self._docs[document.info.id] = document
            for passage in document.passages:
                self._by_id[passage.id] = passage
                self._all.append(passage)

    @property
    def passages(self) -> list[Passage]:
        """Every passage in library order (the index's order)."""
        return self._all

    def passage(self, passage_id: str) -> Passage | None:
        return self._by_id.get(passage_id)

    def document(self, doc_id: str) -> Document:
        return self._docs[doc_id]


def bundled_library_dir() -> Path:
    """The library shipped with the package (a wheel) or beside it (a source checkout)."""
    installed = Path(str(resources.files("bot"))) / "knowledge"
    if installed.is_dir():
        return installed
    return Path(__file__).resolve().parents[2] / "knowledge"


def sections_of(cleaned: CleanText, title: str) -> list[SectionText]:
    """Group the cleaner's blocks under their nearest heading; notes form their own section."""
    sections: list[SectionText] = []
    heading = title
    paragraphs: list[str] = []
    for block in cleaned.blocks:
        if block.kind == "heading":
            if paragraphs:
                sections.append(SectionText(heading, tuple(paragraphs)))
            heading, paragraphs = block.text, []
        elif block.text.strip():
            paragraphs.append(block.text)
    if paragraphs:
        sections.append(SectionText(heading, tuple(paragraphs)))
    notes = tuple(n for n in cleaned.notes if n.strip())
    if notes:
        sections.append(SectionText(NOTES_SECTION, notes))
    return sections


@dataclass(frozen=True)
class BadBytes:
    """Where a document stops being UTF-8: how many bad byte sequences, the first's line."""

    count: int
    first_line: int


def decode_document(data: bytes) -> tuple[str, BadBytes | None]:
    """The text of a document's bytes, with each invalid UTF-8 sequence read as U+FFFD.

    One stray byte (a Latin-1 `é` pasted into a UTF-8 file) must not cost the whole
    document, so the text is kept and the caller reports where to look.
    """
    body = data.removeprefix(codecs.BOM_UTF8)
    try:
        return body.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        first = exc.start
    text = body.decode("utf-8", errors="replace")
    # Each invalid sequence becomes one U+FFFD; a real U+FFFD in the file is EF BF BD.
    count = text.count("\ufffd") - body.count("\ufffd".encode())
    line = len(_LINE_END.findall(body, 0, first)) + 1
    return text, BadBytes(count, line)


def _read_text(path: Path) -> str:
    """A document's text; raises ValueError with the reason for a file that cannot be one."""
    with path.open("rb") as file:
        data = file.read(MAX_DOCUMENT_BYTES + 1)  # never more than the cap into memory
    if len(data) > MAX_DOCUMENT_BYTES:
        raise ValueError(f"is larger than {MAX_DOCUMENT_BYTES // 1_000_000} MB")
    if b"\x00" in data:
        raise ValueError("is not a text file")
    text, bad = decode_document(data)
    if bad is not None:
        log.warning(
            "document %s is not valid UTF-8 in %d place(s), the first on line %d: "
            "kept, with each invalid byte sequence read as U+FFFD (\ufffd)",
            path,
            bad.count,
            bad.first_line,
        )
    return text


@dataclass(frozen=True)
class RawDocument:
    """A readable document before cleaning: its file, catalogue entry and text."""

    path: Path
    info: DocumentInfo
    text: str
    text_hash: bytes  # sha256 of the text


def _read_sources(
    entries: Sequence[tuple[Path, DocumentInfo]], skipped: list[SkippedDocument]
) -> list[RawDocument]:
    """The documents that can be read, in order; the others are added to `skipped`."""
    sources: list[RawDocument] = []
    seen: set[str] = set()
    for path, info in entries:
        if info.id in seen:
            skipped.append(SkippedDocument(path.name, f"repeats the document id `{info.id}`"))
            continue
        try:
            raw = _read_text(path)
        except (OSError, ValueError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            skipped.append(SkippedDocument(path.name, reason))
            continue
        if not raw.strip():
            skipped.append(SkippedDocument(path.name, "is empty"))
            continue
        seen.add(info.id)
        sources.append(RawDocument(path, info, raw, hashlib.sha256(raw.encode()).digest()))
    return sources


def library_fingerprint(sources: Sequence[RawDocument], passage_max_chars: int) -> str:
    """Changes whenever any document, its entry, the pipeline or the passage size does."""
    digest = hashlib.sha256(f"pipeline {PIPELINE_VERSION} max {passage_max_chars}".encode())
    for source in sources:
        digest.update(source.info.model_dump_json().encode())
        digest.update(source.text_hash)
    return digest.hexdigest()


def texts_key(text_hashes: Iterable[bytes]) -> str:
    """A hash of every document's text, in any order: all the vocabulary is built from."""
    return hashlib.sha256(b"".join(sorted(text_hashes))).hexdigest()


def document_cache_key(
    info: DocumentInfo, text_hash: bytes, library_texts: str, passage_max_chars: int
) -> str:
    """Everything one document's cleaned passages depend on, hashed.

    Its own text and catalogue entry (title, format, cleaning hints), the pipeline version
    and the passage size, and also every other document's text (`library_texts`): cleaning
    mends broken and glued words by the vocabulary of the whole library, so adding,
    changing or removing any document can change how this one is cleaned. A library change
    therefore cleans every document once more; an unchanged library cleans none.
    """
    shape = {
        "pipeline": PIPELINE_VERSION,
        "passage_max_chars": passage_max_chars,
        "entry": info.model_dump(mode="json"),
        "text": text_hash.hex(),
        "library_texts": library_texts,
    }
    return hashlib.sha256(json.dumps(shape, sort_keys=True).encode()).hexdigest()


def clean_document(
    source: RawDocument, vocabulary: Vocabulary, passage_max_chars: int
) -> tuple[Passage, ...]:
    """One document's passages, from its raw text to quotable sentences."""
    info = source.info
    fmt = DocFormat(info.format) if info.format else guess_format(source.path.name, source.text)
    hints = CleaningHints(end_marker=info.end_marker, drop_lines=info.drop_lines)
    cleaned = clean(source.text, fmt, vocabulary, hints)
    return tuple(split_passages(info.id, sections_of(cleaned, info.title), passage_max_chars))


def load_library(
    folders: Sequence[Path], passage_max_chars: int, cache_dir: Path | None = None
) -> Library:
    """Load every document of `folders`; report and skip what cannot be used.

    With `cache_dir` (a folder of its own), each document's cleaned passages are kept there
    and reused while nothing they depend on changes, so a start with an unchanged library
    reads and hashes its files but cleans none of them.
    """
    entries: list[tuple[Path, DocumentInfo]] = []
    skipped: list[SkippedDocument] = []
    for folder in folders:
        if not folder.is_dir():
            skipped.append(SkippedDocument(str(folder), "is not a folder"))
            continue
        entries.extend(catalogue_for(folder))
    sources = _read_sources(entries, skipped)

    library_texts = texts_key(s.text_hash for s in sources)
    vocabulary: Vocabulary | None = None  # built only if some document must be cleaned
    documents: list[Document] = []
    from_cache: set[str] = set()
    for source in sources:
        doc_id = source.info.id
        key = document_cache_key(source.info, source.text_hash, library_texts, passage_max_chars)
        passages = (
            passage_cache.load_passages(cache_dir, doc_id, key) if cache_dir is not None else None
        )
        if passages is not None:
            from_cache.add(doc_id)
        else:
            if vocabulary is None:
                vocabulary = Vocabulary.from_texts(s.text for s in sources)
            passages = clean_document(source, vocabulary, passage_max_chars)
            if cache_dir is not None:
                passage_cache.save_passages(cache_dir, doc_id, key, passages)
        if not passages:
            skipped.append(SkippedDocument(source.path.name, "has no readable text"))
            continue
        documents.append(Document(source.info, passages))
    if cache_dir is not None:
        passage_cache.prune(cache_dir, {s.info.id for s in sources})
    for item in skipped:
        log.warning("skipped document %s: %s", item.file, item.reason)
    fingerprint = library_fingerprint(sources, passage_max_chars)
    return Library(tuple(documents), tuple(skipped), fingerprint, frozenset(from_cache))
