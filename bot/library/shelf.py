"""A place's shelf on disk: the files admins added, and their passages, under generated names.

Layout, under `<data_dir>/shelves/<place-hash>/`:
  `files/<token>.<kind>`            each upload as it was sent, named by a random token
  `passages/<doc-id>.passages.json` its cleaned passages, frozen when it was added
  `index/<key>/`                    the index and embeddings of one build of the place

No path here ever comes from a person: the folder is a hash of the place key, file names
are tokens, document ids are checked against the catalogue's pattern. A document's passages
are cleaned once, when it is added, with the shared library's vocabulary and its own, and
kept: adding or removing other documents never cleans it again, so its passage ids stay the
same for as long as it stays on the shelf (a `reindex` or a new cleaning pipeline aside).
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
from collections.abc import Collection, Iterable
from pathlib import Path

from bot.library import passage_cache
from bot.library._cleaning_common import Block, CleanText, Vocabulary
from bot.library.catalogue import doc_id_from_filename
from bot.library.cleaning import CleaningHints, DocFormat, clean, guess_format
from bot.library.formats import Extracted, Kind
from bot.library.loader import PIPELINE_VERSION, sections_of
from bot.library.segmentation import Passage, split_passages

SHELVES_FOLDER = "shelves"
_DOC_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_TOKEN = re.compile(r"^[0-9a-f]{32}\.[a-z]{2,8}$")
# A generated document id leaves room for a `-2` when the title's slug is taken.
_SLUG_CHARS = 48


def shelf_folder(data_dir: Path, place: str) -> Path:
    """The folder of a place's shelf: a hash of its key, never the key itself."""
    digest = hashlib.sha256(place.encode()).hexdigest()[:24]
    return data_dir / SHELVES_FOLDER / digest


class ShelfFolder:
    """One shelf's files on disk; every name in it is generated here."""

    def __init__(self, root: Path) -> None:
        self.root = root

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

    def save_passages(self, doc_id: str, key: str, passages: Iterable[Passage]) -> None:
        _check_id(doc_id)
        data = passage_cache.encode_passages(doc_id, key, list(passages))
        _write_atomically(self.passages, passage_cache.cache_file(self.passages, doc_id).name, data)

    def load_passages(self, doc_id: str, key: str) -> tuple[Passage, ...] | None:
        _check_id(doc_id)
        try:
            data = passage_cache.cache_file(self.passages, doc_id).read_bytes()
        except OSError:
            return None
        return passage_cache.decode_passages(data, doc_id, key)

    def remove(self, token: str, doc_id: str) -> None:
        """Delete a document's upload and passages; a file already gone is no error."""
        _check_id(doc_id)
        with contextlib.suppress(FileNotFoundError):
            self.file(token).unlink()
        with contextlib.suppress(FileNotFoundError):
            passage_cache.cache_file(self.passages, doc_id).unlink()

    def prune(self, tokens: Collection[str], doc_ids: Collection[str]) -> list[str]:
        """Delete what no catalogue entry names (a crash between storing and cataloguing
        leaves such files); returns the names deleted."""
        removed: list[str] = []
        for folder, keep in ((self.files, set(tokens)), (self.passages, None)):
            if not folder.is_dir():
                continue
            for path in folder.iterdir():
                name = path.name
                wanted = (
                    name in keep
                    if keep is not None
                    else name.removesuffix(passage_cache.SUFFIX) in doc_ids
                )
                if not wanted:
                    with contextlib.suppress(OSError):
                        if path.is_dir():
                            shutil.rmtree(path)
                        else:
                            path.unlink()
                    removed.append(name)
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
    base = doc_id_from_filename(title.replace(".", " ") + ".x")[:_SLUG_CHARS].strip("-._")
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
