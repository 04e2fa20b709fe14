"""Embeddings of every passage and sentence, computed once and memory-mapped after that.

They are saved beside the BM25 index under the index's key and the model's name, so a
change of the passages or of the model recomputes them and nothing else does. Texts the
package already carries vectors for (the bundled library) are never encoded again.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from bot.library.segmentation import Passage
from bot.semantic.encoder import Encoder, Vectors

log = logging.getLogger(__name__)

StoredVectors = NDArray[np.float16]
Progress = Callable[[int, int], None]

BATCH = 32
FORMAT = 1


def passage_text(passage: Passage) -> str:
    """What a passage is embedded as: its section heading gives the text its subject."""
    return f"{passage.section}. {passage.text}"


def text_keys(texts: Sequence[str]) -> NDArray[np.uint64]:
    """A 64-bit content hash per text, the key of the shipped vectors."""
    return np.array(
        [
            int.from_bytes(hashlib.blake2b(t.encode(), digest_size=8).digest(), "little")
            for t in texts
        ],
        dtype=np.uint64,
    )


@dataclass(frozen=True)
class KnownVectors:
    """Vectors looked up by text hash (`keys` sorted ascending, rows aligned)."""

    keys: NDArray[np.uint64]
    vectors: StoredVectors

    def lookup(self, keys: NDArray[np.uint64]) -> tuple[NDArray[np.bool_], NDArray[np.intp]]:
        if len(self.keys) == 0:
            return np.zeros(len(keys), dtype=bool), np.zeros(len(keys), dtype=np.intp)
        at = np.searchsorted(self.keys, keys).clip(0, len(self.keys) - 1)
        return self.keys[at] == keys, at


def shipped_vectors(model: str) -> KnownVectors | None:
    """The vectors the package carries for the bundled library, if made with `model`."""
    folder = Path(str(resources.files("bot"))) / "semantic" / "shipped" / model
    try:
        keys = np.load(folder / "keys.npy")
        vectors = np.load(folder / "vectors.npy", mmap_mode="r")
    except (OSError, ValueError):
        return None
    if keys.shape[0] != vectors.shape[0]:
        return None
    return KnownVectors(keys, vectors)


def known_of(texts: Sequence[str], vectors: StoredVectors) -> KnownVectors:
    """Texts' vectors as a lookup table by text hash."""
    keys = text_keys(texts)
    order = np.argsort(keys, kind="stable")
    keys, unique = np.unique(keys[order], return_index=True)
    return KnownVectors(keys, np.asarray(vectors)[order][unique].astype(np.float16))


def known_from(index: SemanticIndex, passages: Sequence[Passage]) -> KnownVectors:
    """Every vector an index holds (passages, sentences, pairs), by the hash of its text,
    so another index over some of the same passages never encodes them again."""
    texts = [passage_text(p) for p in passages]
    texts += [s for p in passages for s in p.sentences]
    texts += pair_texts(passages)
    vectors = np.concatenate([index.passages, index.sentences, index.pairs])
    return known_of(texts, vectors)


def merge_known(*tables: KnownVectors | None) -> KnownVectors | None:
    """One lookup table of several; where two know a text, the first one's vector is kept."""
    present = [t for t in tables if t is not None and len(t.keys)]
    if not present:
        return None
    if len(present) == 1:
        return present[0]
    dim = present[0].vectors.shape[1]
    present = [t for t in present if t.vectors.shape[1:] == (dim,)]
    keys = np.concatenate([t.keys for t in present])
    vectors = np.concatenate([np.asarray(t.vectors) for t in present])
    order = np.argsort(keys, kind="stable")
    keys, unique = np.unique(keys[order], return_index=True)
    return KnownVectors(keys, vectors[order][unique])


def save_known(folder: Path, texts: Sequence[str], vectors: Vectors) -> None:
    """Write texts' vectors as a lookup table (how the shipped vectors are made)."""
    keys = text_keys(texts)
    order = np.argsort(keys, kind="stable")
    keys, unique = np.unique(keys[order], return_index=True)
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / "keys.npy", keys)
    np.save(folder / "vectors.npy", vectors[order][unique].astype(np.float16))


def embed(
    texts: Sequence[str],
    encoder: Encoder,
    known: KnownVectors | None,
    progress: Progress | None = None,
) -> StoredVectors:
    """Every text's vector: looked up where known, else encoded in batches."""
    out = np.zeros((len(texts), encoder.dim), dtype=np.float16)
    missing = np.arange(len(texts))
    if known is not None and known.vectors.shape[1:] == (encoder.dim,):
        found, at = known.lookup(text_keys(texts))
        out[found] = known.vectors[at[found]]
        missing = np.flatnonzero(~found)
    for start in range(0, len(missing), BATCH):
        rows = missing[start : start + BATCH]
        out[rows] = encoder.passages([texts[i] for i in rows])
        if progress is not None:
            progress(min(start + BATCH, len(missing)), len(missing))
    return out


@dataclass(frozen=True)
class SemanticIndex:
    """Unit vectors of the passages, of their sentences and of each two consecutive
    sentences (the quotes a brief answer is made of), in library order.

    Passage `i`'s sentences are rows `sentence_start[i]:sentence_start[i + 1]`; its pairs
    are the same rows minus `i` (a passage of n sentences has n - 1 pairs).
    """

    encoder: Encoder
    passages: StoredVectors
    sentences: StoredVectors
    pairs: StoredVectors
    sentence_start: NDArray[np.int64]

    def sentence_rows(self, passage: int) -> slice:
        return slice(int(self.sentence_start[passage]), int(self.sentence_start[passage + 1]))

    def pair_rows(self, passage: int) -> slice:
        start = int(self.sentence_start[passage]) - passage
        return slice(
            start,
            start
            + max(0, self.sentence_rows(passage).stop - self.sentence_rows(passage).start - 1),
        )


def _starts(passages: Sequence[Passage]) -> NDArray[np.int64]:
    return np.concatenate([[0], np.cumsum([len(p.sentences) for p in passages])]).astype(np.int64)


def pair_texts(passages: Sequence[Passage]) -> list[str]:
    """Each two consecutive sentences of each passage, as a brief answer quotes them."""
    return [" ".join(p.sentences[i : i + 2]) for p in passages for i in range(len(p.sentences) - 1)]


def load_or_build_semantic(
    passages: Sequence[Passage],
    encoder: Encoder,
    cache_dir: Path,
    key: str,
    progress: Callable[[str, int], Progress] | None = None,
    known: KnownVectors | None = None,
) -> SemanticIndex:
    """The saved vectors when they match `key` and the model, else freshly computed ones.

    Texts the package ships vectors for, or found in `known` (another index's vectors),
    are looked up rather than encoded.
    """
    folder = cache_dir / "semantic"
    stamp = f"{FORMAT} {encoder.name} {key}"
    starts = _starts(passages)
    shapes = {
        "passages": (len(passages), encoder.dim),
        "sentences": (int(starts[-1]), encoder.dim),
        "pairs": (int(starts[-1]) - len(passages), encoder.dim),
    }
    try:
        if (folder / "key.txt").read_text(encoding="utf-8") == stamp:
            saved = {name: np.load(folder / f"{name}.npy", mmap_mode="r") for name in shapes}
            if all(saved[name].shape == shape for name, shape in shapes.items()):
                return SemanticIndex(
                    encoder, saved["passages"], saved["sentences"], saved["pairs"], starts
                )
    except (OSError, ValueError):
        pass
    known = merge_known(known, shipped_vectors(encoder.name))
    sentence_texts = [s for p in passages for s in p.sentences]
    log.info("embedding %d passages and their %d sentences", len(passages), len(sentence_texts))
    p_vectors = embed(
        [passage_text(p) for p in passages],
        encoder,
        known,
        progress("passages", len(passages)) if progress else None,
    )
    s_vectors = embed(
        sentence_texts,
        encoder,
        known,
        progress("sentences", len(sentence_texts)) if progress else None,
    )
    pairs = pair_texts(passages)
    pair_vectors = embed(
        pairs, encoder, known, progress("sentence pairs", len(pairs)) if progress else None
    )
    built = SemanticIndex(encoder, p_vectors, s_vectors, pair_vectors, starts)
    tmp = folder.with_name(f".semantic.tmp-{os.getpid()}")
    try:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        np.save(tmp / "passages.npy", p_vectors)
        np.save(tmp / "sentences.npy", s_vectors)
        np.save(tmp / "pairs.npy", pair_vectors)
        (tmp / "key.txt").write_text(stamp, encoding="utf-8")
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(tmp, folder)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        log.warning("could not save the embeddings to %s: %s", folder, exc.strerror or exc)
    return built
