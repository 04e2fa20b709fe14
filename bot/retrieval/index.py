"""The search index: each passage's indexed terms, cached on disk between starts.

The cache is keyed by the library's content fingerprint and everything that shapes the
terms (tokenizer options, what is indexed besides the text, BM25 parameters), so changing a
document or that configuration rebuilds it, and nothing else does.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bot.config import RetrievalConfig
from bot.library.loader import Library
from bot.library.segmentation import Passage
from bot.retrieval.tokenize import Tokenizer

log = logging.getLogger(__name__)

INDEX_FORMAT = 1


@dataclass(frozen=True)
class PassageIndex:
    """Indexed terms of every passage, in library order, and when they were built."""

    key: str
    tokens: list[list[str]]
    built_at: datetime
    loaded_from_cache: bool


def index_key(library: Library, config: RetrievalConfig) -> str:
    """Changes whenever the passages (however they were cleaned) or the configuration do."""
    passages = hashlib.sha256()
    for passage in library.passages:
        passages.update(f"{passage.id}\x00{passage.section}\x00{passage.text}\x01".encode())
    shape = json.dumps(
        {
            "format": INDEX_FORMAT,
            "library": library.fingerprint,
            "passages": passages.hexdigest(),
            "retrieval": config.model_dump(exclude={"top_k"}),
        },
        sort_keys=True,
    )
    return hashlib.sha256(shape.encode()).hexdigest()


def indexed_text(passage: Passage, library: Library, config: RetrievalConfig) -> str:
    """What a passage is found by: its text, and optionally its section and document."""
    parts = [passage.text]
    if config.index_section:
        parts.append(passage.section)
    if config.index_title:
        info = library.document(passage.doc_id).info
        parts.extend([info.title, info.author])
    return "\n".join(parts)


def build_tokens(
    library: Library, config: RetrievalConfig, tokenizer: Tokenizer
) -> list[list[str]]:
    return [tokenizer(indexed_text(p, library, config)) for p in library.passages]


def _cache_file(cache_dir: Path) -> Path:
    return cache_dir / "passage-index.json"


def load_or_build(
    library: Library, config: RetrievalConfig, tokenizer: Tokenizer, cache_dir: Path
) -> PassageIndex:
    """The cached index when it matches the library and configuration, else a fresh one."""
    key = index_key(library, config)
    path = _cache_file(cache_dir)
    passage_ids = [p.id for p in library.passages]
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("key") == key and data.get("passage_ids") == passage_ids:
            return PassageIndex(key, data["tokens"], datetime.fromisoformat(data["built_at"]), True)
        log.info("index is out of date; rebuilding")
    except FileNotFoundError:
        log.info("no index yet; building")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("index cache unreadable (%s); rebuilding", exc)
    tokens = build_tokens(library, config, tokenizer)
    built = PassageIndex(key, tokens, datetime.now(UTC), False)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        payload = {
            "key": key,
            "built_at": built.built_at.isoformat(),
            "passage_ids": passage_ids,
            "tokens": tokens,
        }
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(payload), encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        log.warning("could not save the index to %s: %s", path, exc.strerror)
    return built
