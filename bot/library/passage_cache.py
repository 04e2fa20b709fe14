"""Each document's cleaned passages, saved between starts.

Cleaning is the slow part of a start (a 19 MB book takes about a minute to reflow, mend and
split) and its result depends only on things the loader can hash, so an unchanged document
need not be cleaned twice. The loader decides what a document's passages depend on and
passes it here as a key; this module only keeps passages under that key, safely.

A cache file is a single line of JSON naming the document, the key and the checksum of the
rest, followed by the passages as JSON. It is used only when all three match and the
passages have the right shape: a stale, damaged, truncated or foreign file is ignored and
rebuilt, never trusted and never fatal. Files are written under a temporary name and renamed
into place, so another process reading the folder sees the old file or the new one, never
half of one; a file cut short by a crash fails its checksum.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

from bot.library.segmentation import Passage

log = logging.getLogger(__name__)

CACHE_FORMAT = 1
SUFFIX = ".passages.json"


def cache_file(folder: Path, doc_id: str) -> Path:
    """Where a document's passages are kept (document ids are safe file names)."""
    return folder / f"{doc_id}{SUFFIX}"


def encode_passages(doc_id: str, key: str, passages: Sequence[Passage]) -> bytes:
    """The file's bytes: a header line with the checksum of the body, then the body."""
    body = json.dumps(
        [[p.id, p.ordinal, p.section, list(p.sentences)] for p in passages],
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode()
    header = {
        "format": CACHE_FORMAT,
        "doc_id": doc_id,
        "key": key,
        "sha256": hashlib.sha256(body).hexdigest(),
    }
    return json.dumps(header).encode() + b"\n" + body


def decode_passages(data: bytes, doc_id: str, key: str) -> tuple[Passage, ...] | None:
    """The passages in `data` if it is a whole file for this document and key, else None."""
    head, newline, body = data.partition(b"\n")
    if not newline:
        return None
    try:
        header = json.loads(head)
    except (ValueError, RecursionError):
        return None
    expected = {"format": CACHE_FORMAT, "doc_id": doc_id, "key": key}
    if not isinstance(header, dict) or any(header.get(k) != v for k, v in expected.items()):
        return None
    if header.get("sha256") != hashlib.sha256(body).hexdigest():
        return None
    try:
        rows = json.loads(body)
    except (ValueError, RecursionError):
        return None
    return _passages_of(rows, doc_id)


def _passages_of(rows: Any, doc_id: str) -> tuple[Passage, ...] | None:
    """Passages rebuilt from decoded JSON, or None if anything has the wrong shape."""
    if not isinstance(rows, list):
        return None
    passages: list[Passage] = []
    for row in rows:
        if not (isinstance(row, list) and len(row) == 4):
            return None
        passage_id, ordinal, section, sentences = row
        if not (
            isinstance(passage_id, str)
            and passage_id.startswith(f"{doc_id}:")
            and isinstance(ordinal, int)
            and isinstance(section, str)
            and isinstance(sentences, list)
            and sentences
            and all(isinstance(s, str) and s for s in sentences)
        ):
            return None
        passages.append(Passage(passage_id, doc_id, ordinal, section, tuple(sentences)))
    return tuple(passages)


def load_passages(folder: Path, doc_id: str, key: str) -> tuple[Passage, ...] | None:
    """The saved passages of `doc_id` under `key`, or None: then the caller cleans again."""
    path = cache_file(folder, doc_id)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        log.warning("cannot read the cached passages %s: %s", path, exc.strerror or exc)
        return None
    passages = decode_passages(data, doc_id, key)
    if passages is None:
        log.info("cleaning %s again: its cached passages are out of date or damaged", doc_id)
    return passages


def save_passages(folder: Path, doc_id: str, key: str, passages: Sequence[Passage]) -> None:
    """Keep the passages for the next start; a folder that cannot be written costs only time."""
    path = cache_file(folder, doc_id)
    tmp: Path | None = None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=folder, prefix=f".{doc_id}.", suffix=".tmp")
        tmp = Path(name)
        with os.fdopen(fd, "wb") as file:
            file.write(encode_passages(doc_id, key, passages))
        os.replace(tmp, path)
    except OSError as exc:
        log.warning("cannot save the cleaned passages to %s: %s", folder, exc.strerror or exc)
        if tmp is not None:
            with contextlib.suppress(OSError):
                tmp.unlink()


def prune(folder: Path, keep: Collection[str]) -> None:
    """Delete the cached passages of documents no longer in the library."""
    try:
        stale = [
            path for path in folder.glob(f"*{SUFFIX}") if path.name.removesuffix(SUFFIX) not in keep
        ]
    except OSError:
        return
    for path in stale:
        with contextlib.suppress(OSError):
            path.unlink()
