"""The search index of the library's passages, saved between starts.

The saved index is keyed by a hash of the passages (however they were cleaned) and of
everything that shapes their terms (tokenizer options, what is indexed besides the text,
BM25 parameters), so changing a document or that configuration rebuilds it, and nothing
else does.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bot.config import RetrievalConfig
from bot.library.loader import Library
from bot.library.segmentation import Passage
from bot.retrieval.fast_bm25 import PostingsBM25
from bot.retrieval.retriever import BM25Engine, BM25Params, build_bm25, choose_engine
from bot.retrieval.tokenize import Tokenizer

log = logging.getLogger(__name__)

INDEX_FORMAT = 2
PROGRESS_EVERY = 50_000


@dataclass(frozen=True)
class PassageIndex:
    """The BM25 index of every passage, in library order, and when it was built."""

    key: str
    bm25: BM25Engine
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
            "retrieval": config.model_dump(exclude={"top_k", "engine", "semantic"}),
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


def _tokens(
    library: Library,
    config: RetrievalConfig,
    tokenizer: Tokenizer,
    progress: Callable[[int, int], None] | None = None,
) -> Iterator[list[str]]:
    """Each passage's terms, made one at a time so the whole text is never held twice."""
    total = len(library.passages)
    for done, passage in enumerate(library.passages, start=1):
        yield tokenizer(indexed_text(passage, library, config))
        if progress is not None:
            progress(done, total)


_PAST = {"indexing": "indexed", "embedding": "embedded", "fitting": "fitted"}


def progress_reporter(
    total: int, noun: str = "passages", verb: str = "indexing", every: int = PROGRESS_EVERY
) -> Callable[[int, int], None]:
    """A progress line on a terminal, periodic log lines otherwise."""
    interactive = sys.stderr.isatty()
    logged = [0]

    def report(done: int, _: int) -> None:
        if interactive:
            width = 30
            filled = width * done // max(total, 1)
            sys.stderr.write(
                f"\r{verb} [{'#' * filled}{'.' * (width - filled)}] {done:,}/{total:,} {noun}"
            )
            if done >= total:
                sys.stderr.write("\n")
            sys.stderr.flush()
        elif done - logged[0] >= every or done >= total:
            logged[0] = done
            log.info("%s %d of %d %s", _PAST.get(verb, verb), done, total, noun)

    return report


def _saved_tokens(path: Path, key: str) -> list[list[str]] | None:
    """The passages' terms saved with the index (a small library's index is its terms)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("key") != key:
        return None
    tokens = data.get("tokens")
    if not isinstance(tokens, list) or not all(
        isinstance(t, list) and all(isinstance(w, str) for w in t) for t in tokens
    ):
        return None
    return tokens


def _save_tokens(path: Path, key: str, tokens: list[list[str]]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"key": key, "tokens": tokens}), encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        log.warning("could not save the index to %s: %s", path.parent, exc.strerror or exc)


def params_of(config: RetrievalConfig) -> BM25Params:
    return BM25Params(config.variant, config.k1, config.b)


def load_or_build(
    library: Library,
    config: RetrievalConfig,
    tokenizer: Tokenizer,
    cache_dir: Path,
    progress: Callable[[int, int], None] | None = None,
) -> PassageIndex:
    """The saved index when it matches the library and configuration, else a fresh one.

    A small library is ranked by rank-bm25 itself, built from its tokens at every start
    (that takes well under a second); a large one by the postings index saved here.
    `progress(done, total)` hears of every passage tokenized, when it is built.
    """
    key = index_key(library, config)
    folder = cache_dir / "bm25"
    info_file = cache_dir / "index-info.json"
    params = params_of(config)
    total = len(library.passages)
    engine = choose_engine(config.engine, total)
    saved: datetime | None = None
    try:
        info = json.loads(info_file.read_text(encoding="utf-8"))
        if info.get("key") == key:
            saved = datetime.fromisoformat(info["built_at"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    bm25: BM25Engine
    if engine == "rank-bm25":
        tokens = _saved_tokens(cache_dir / "tokens.json", key) if saved is not None else None
        if tokens is not None:
            bm25 = build_bm25(tokens, params, engine=engine)
            return PassageIndex(key, bm25, saved or datetime.now(UTC), True)
        tokens = list(_tokens(library, config, tokenizer, progress))
        bm25 = build_bm25(tokens, params, engine=engine)
        _save_tokens(cache_dir / "tokens.json", key, tokens)
    else:
        loaded = PostingsBM25.load(folder, key, variant=params.variant, k1=params.k1, b=params.b)
        if loaded is not None and len(loaded) == total and saved is not None:
            return PassageIndex(key, loaded, saved, True)
        log.info("building the index of %d passages", total)
        report = progress_reporter(total) if total >= PROGRESS_EVERY else None
        bm25 = build_bm25(_tokens(library, config, tokenizer, progress), params, report)
    built = PassageIndex(key, bm25, datetime.now(UTC), False)
    try:
        if isinstance(bm25, PostingsBM25):
            bm25.save(folder, key)
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = info_file.with_suffix(".tmp")
        tmp.write_text(json.dumps({"key": key, "built_at": built.built_at.isoformat()}))
        os.replace(tmp, info_file)
    except OSError as exc:
        log.warning("could not save the index to %s: %s", cache_dir, exc.strerror or exc)
    return built
