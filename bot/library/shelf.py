"""A place's shelf on disk: the files admins added, and their passages, under generated names.

Layout, under `<data_dir>/shelves/<place-hash>/`:
  `shelf.json`                      the catalogue, and the index build that matches it
  `files/<token>.<kind>`            each upload as it was sent, named by a random token
  `passages/<doc-id>.passages.json` its cleaned passages, frozen when it was added
  `index/<key>/`                    the index and embeddings of one build of the place

No path here ever comes from a person: the folder is a hash of the place key, file names
are tokens, document ids are checked against the catalogue's pattern. A document's passages
are cleaned once, when it is added, with the shared library's vocabulary and its own, and
kept: adding or removing other documents never cleans it again, so its passage ids stay the
same for as long as it stays on the shelf (a `reindex` or a new cleaning pipeline aside).

`shelf.json` is the commit point of every change: it is replaced (atomically) only once the
new index is built, so a crash at any moment leaves the previous catalogue and its index,
and the files a half-done change left behind are pruned at the next load.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import shutil
import tempfile
import unicodedata
from collections.abc import Collection, Iterable
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.library import passage_cache
from bot.library._cleaning_common import Block, CleanText, Vocabulary
from bot.library.catalogue import DocumentInfo, doc_id_from_filename
from bot.library.cleaning import CleaningHints, DocFormat, clean, guess_format
from bot.library.formats import Extracted, Kind
from bot.library.loader import PIPELINE_VERSION, sections_of
from bot.library.segmentation import Passage, split_passages

SHELVES_FOLDER = "shelves"
STATE_FILE = "shelf.json"
_DOC_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_TOKEN = re.compile(r"^[0-9a-f]{32}\.[a-z]{2,8}$")
# A generated document id leaves room for a `-2` when the title's slug is taken.
_SLUG_CHARS = 48


def shelf_folder(data_dir: Path, place: str) -> Path:
    """The folder of a place's shelf: a hash of its key, never the key itself."""
    digest = hashlib.sha256(place.encode()).hexdigest()[:24]
    return data_dir / SHELVES_FOLDER / digest


class ShelfEntry(BaseModel):
    """One document on a shelf: its catalogue entry, where its bytes are, who added it."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    doc_id: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")
    title: str
    author: str = "Unknown author"
    year: int | None = None
    source: str = ""
    kind: Kind
    token: str = Field(pattern=r"^[0-9a-f]{32}\.[a-z]{2,8}$")
    size: int
    sha256: str
    passages_key: str
    passages: int
    added_by: str
    added_at: datetime

    def info(self) -> DocumentInfo:
        return DocumentInfo(
            id=self.doc_id,
            file=self.token,
            title=self.title,
            author=self.author,
            year=self.year,
            source=self.source,
        )


class ShelfState(BaseModel):
    """A shelf's catalogue, and the index folder built for exactly these documents."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    entries: tuple[ShelfEntry, ...] = ()
    index: str | None = None

    def entry(self, doc_id: str) -> ShelfEntry | None:
        return next((e for e in self.entries if e.doc_id == doc_id), None)

    @property
    def size(self) -> int:
        return sum(e.size for e in self.entries)


class ShelfFolder:
    """One shelf's files on disk; every name in it is generated here."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def load_state(self) -> ShelfState:
        """The committed catalogue; no file means an empty shelf. A damaged one raises
        ValueError: it is never silently read as empty (that would lose the shelf)."""
        try:
            data = (self.root / STATE_FILE).read_bytes()
        except FileNotFoundError:
            return ShelfState()
        try:
            return ShelfState.model_validate_json(data)
        except ValidationError as error:
            raise ValueError(f"{self.root / STATE_FILE} is damaged: {error}") from None

    def save_state(self, state: ShelfState) -> None:
        """Commit a change: the new catalogue replaces the old one whole, or not at all."""
        _write_atomically(self.root, STATE_FILE, state.model_dump_json(indent=1).encode())

    @property
    def files(self) -> Path:
        return self.root / "files"

    @property
    def passages(self) -> Path:
        return self.root / "passages"

    @property
    def index(self) -> Path:
        return self.root / "index"

    def file(self, token: str) -> Path:
        if not _TOKEN.fullmatch(token):
            raise ValueError(f"not a shelf file name: {token!r}")
        return self.files / token

    def store(self, data: bytes, kind: Kind) -> str:
        """Keep an upload under a new random name; returns the name. Written whole or not at all."""
        token = f"{secrets.token_hex(16)}.{kind.value}"
        _write_atomically(self.files, token, data)
        return token

    def read(self, token: str) -> bytes:
        return self.file(token).read_bytes()

    def size(self) -> int:
        """Bytes the shelf's uploads take."""
        try:
            return sum(p.stat().st_size for p in self.files.iterdir() if p.is_file())
        except FileNotFoundError:
            return 0

    def passages_file(self, doc_id: str, key: str) -> Path:
        """A document's passages of one cleaning: named by id and key, so a re-cleaning
        (`reindex`) writes beside the committed file rather than over it."""
        _check_id(doc_id)
        if not re.fullmatch(r"[0-9a-f]{16,64}", key):
            raise ValueError(f"not a passages key: {key!r}")
        return self.passages / f"{doc_id}.{key[:16]}{passage_cache.SUFFIX}"

    def save_passages(self, doc_id: str, key: str, passages: Iterable[Passage]) -> None:
        data = passage_cache.encode_passages(doc_id, key, list(passages))
        _write_atomically(self.passages, self.passages_file(doc_id, key).name, data)

    def load_passages(self, doc_id: str, key: str) -> tuple[Passage, ...] | None:
        try:
            data = self.passages_file(doc_id, key).read_bytes()
        except OSError:
            return None
        return passage_cache.decode_passages(data, doc_id, key)

    def remove(self, token: str, doc_id: str, key: str) -> None:
        """Delete a document's upload and passages; a file already gone is no error."""
        with contextlib.suppress(FileNotFoundError):
            self.file(token).unlink()
        with contextlib.suppress(FileNotFoundError):
            self.passages_file(doc_id, key).unlink()

    def prune(self, state: ShelfState) -> list[str]:
        """Delete every file and passages file the catalogue does not name (a crash between
        storing and committing leaves such files, as does a finished change); returns the
        names deleted."""
        keep = {
            self.files: {e.token for e in state.entries},
            self.passages: {
                self.passages_file(e.doc_id, e.passages_key).name for e in state.entries
            },
        }
        removed: list[str] = []
        for folder, names in keep.items():
            if not folder.is_dir():
                continue
            for path in folder.iterdir():
                if path.name in names:
                    continue
                with contextlib.suppress(OSError):
                    if path.is_dir():
                        shutil.rmtree(path)
                    else:
                        path.unlink()
                removed.append(path.name)
        return removed

    def prune_indexes(self, keep: str) -> None:
        """Delete every index folder but `keep` (an old engine's memory-mapped files stay
        readable until it is dropped: Linux frees an unlinked file only when it is closed)."""
        if not self.index.is_dir():
            return
        for path in self.index.iterdir():
            if path.name != keep:
                shutil.rmtree(path, ignore_errors=True)


def _check_id(doc_id: str) -> None:
    if not _DOC_ID.fullmatch(doc_id):
        raise ValueError(f"not a document id: {doc_id!r}")


def _write_atomically(folder: Path, name: str, data: bytes) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=folder, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, folder / name)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def new_doc_id(title: str, taken: Collection[str]) -> str:
    """A readable id from the title (`the-council-of-aragon`), unique among `taken`."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    base = doc_id_from_filename(ascii_title.replace(".", " ") + ".x")[:_SLUG_CHARS].strip("-._")
    base = base or "document"
    if base not in taken:
        return base
    for number in range(2, 10_000):
        candidate = f"{base}-{number}"
        if candidate not in taken:
            return candidate
    return f"{base}-{secrets.token_hex(4)}"


def passages_key(content_sha256: str, title: str, passage_max_chars: int) -> str:
    """What an added document's passages depend on: its bytes, its title (the first
    section's heading), the cleaning pipeline and the passage size."""
    shape = {
        "pipeline": PIPELINE_VERSION,
        "passage_max_chars": passage_max_chars,
        "content": content_sha256,
        "title": title,
    }
    return hashlib.sha256(json.dumps(shape, sort_keys=True).encode()).hexdigest()


def words_of(extracted: Extracted) -> str:
    """All the text of an extracted file, for the vocabulary that judges its broken words."""
    if extracted.text:
        return extracted.text
    return "\n\n".join(block.text for block in extracted.blocks)


def passages_of(
    extracted: Extracted,
    doc_id: str,
    title: str,
    furniture: Collection[str],
    vocabulary: Vocabulary,
    passage_max_chars: int,
) -> tuple[Passage, ...]:
    """An extracted file's passages: PDF text through the PDF cleaner (reflow,
    de-hyphenation, glued words, page-end notes), plain text through the text cleaner,
    structured formats as their blocks. Lines that only repeat the title, the author or the
    year (a title page) are not prose and are dropped."""
    if extracted.kind is Kind.PDF:
        cleaned = clean(extracted.text, DocFormat.PDF_TEXT, vocabulary)
    elif extracted.kind is Kind.TEXT:
        fmt = guess_format("upload.txt", extracted.text)
        cleaned = clean(extracted.text, fmt, vocabulary, CleaningHints())
    else:
        cleaned = CleanText(blocks=extracted.blocks)
    repeated = {item.casefold() for item in furniture if item}
    blocks = tuple(
        block
        for block in cleaned.blocks
        if block.text.casefold() not in repeated and not _only_number(block)
    )
    cleaned = CleanText(blocks, cleaned.notes)
    return tuple(split_passages(doc_id, sections_of(cleaned, title), passage_max_chars))


def _only_number(block: Block) -> bool:
    return block.kind == "paragraph" and block.text.strip().isdigit()
