"""The passages worth a closer look: BM25's best, and in a small library the embedding's best.

BM25 stays the retriever; the embedding model re-scores its candidates. Only where scanning
every passage's vector is cheap does it also propose candidates BM25 missed (a paraphrase, a
question in another language), so the cost stays bounded as the library grows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from bot.library.segmentation import Passage
from bot.retrieval.retriever import Retriever
from bot.semantic.encoder import Vectors
from bot.semantic.vectors import SemanticIndex, StoredVectors

# How many passages each ranking proposes.
POOL = 20
# Up to this many passages every passage vector is scanned for candidates (a few ms).
DENSE_SCAN_MAX_PASSAGES = 50_000


@dataclass(frozen=True)
class Candidate:
    """A passage proposed for a question, with what each ranking thought of it."""

    index: int  # position in the library
    passage: Passage
    bm25: float
    bm25_rank: int | None
    dense: float  # cosine of question and passage; 0 without the semantic layer
    sentence_dense: NDArray[np.float32]  # cosine of question and each sentence
    pair_dense: NDArray[np.float32]  # ... and each two consecutive sentences
    previous_dense: float = 0.0  # ... and the passage before it in the same document


def gather(
    retriever: Retriever,
    terms: Sequence[str],
    vector: Vectors | None,
    semantic: SemanticIndex | None,
    pool: int = POOL,
) -> list[Candidate]:
    """BM25's `pool` best, then (small libraries) the embedding's `pool` best, no repeats."""
    hits = retriever.search_terms(terms, pool) if terms else []
    order = [h.index for h in hits]
    bm25 = {h.index: h.score for h in hits}
    rank = {h.index: h.rank for h in hits}
    if semantic is None or vector is None:
        return [
            Candidate(
                i,
                retriever.passages[i],
                bm25[i],
                rank[i],
                0.0,
                np.zeros(len(retriever.passages[i].sentences), dtype=np.float32),
                np.zeros(max(0, len(retriever.passages[i].sentences) - 1), dtype=np.float32),
            )
            for i in order
        ]
    if len(retriever.passages) <= DENSE_SCAN_MAX_PASSAGES:
        extra = [i for i in _nearest(semantic, vector, pool) if i not in bm25]
        bm25.update(zip(extra, retriever.scores_of(terms, extra), strict=True))
        order.extend(extra)
    if not order:
        return []
    own = np.array(order, dtype=np.int64)
    # The passage before each (itself where there is none: its cosine is then set to 0).
    before = np.array(
        [
            -1 if j is None else j
            for j in (previous_in_document(retriever.passages, i) for i in order)
        ],
        dtype=np.int64,
    )
    dense = _row_cosines(semantic.passages, own, vector)
    previous_dense = np.where(
        before >= 0,
        _row_cosines(semantic.passages, np.where(before >= 0, before, own), vector),
        0.0,
    )
    sentences = _run_cosines(semantic.sentences, [semantic.sentence_rows(i) for i in order], vector)
    pairs = _run_cosines(semantic.pairs, [semantic.pair_rows(i) for i in order], vector)
    return [
        Candidate(
            i,
            retriever.passages[i],
            bm25[i],
            rank.get(i),
            float(dense[n]),
            sentences[n],
            pairs[n],
            float(previous_dense[n]),
        )
        for n, i in enumerate(order)
    ]


def _row_cosines(
    stored: StoredVectors, rows: NDArray[np.int64], vector: Vectors
) -> NDArray[np.float32]:
    """The cosines of `vector` with the given stored rows, from one product: a product and a
    clean-up per candidate cost more in numpy calls (~2 ms a question) than in arithmetic.
    A damaged vector file must not turn every feature into NaN: it reads as unrelated (0)."""
    values = np.asarray(stored[rows], dtype=np.float32) @ vector
    cleaned = np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0)
    return np.asarray(cleaned, dtype=np.float32)


def _run_cosines(
    stored: StoredVectors, runs: Sequence[slice], vector: Vectors
) -> list[NDArray[np.float32]]:
    """`_row_cosines` of each run of rows (a passage's sentences or pairs), one run each."""
    starts = np.array([run.start for run in runs], dtype=np.int64)
    lengths = np.array([run.stop - run.start for run in runs], dtype=np.int64)
    ends = np.cumsum(lengths)
    # Every run's rows in one array: each run's start, then counting up within it.
    rows = np.repeat(starts - (ends - lengths), lengths) + np.arange(int(ends[-1]))
    values = _row_cosines(stored, rows, vector)
    bounds = [0, *ends.tolist()]
    return [values[bounds[n] : bounds[n + 1]] for n in range(len(runs))]


def previous_in_document(passages: Sequence[Passage], index: int) -> int | None:
    """The passage just before `index` in reading order, if the same document has one: a
    story often runs over a passage boundary, so the answer's own passage may not name what
    the question is about while the one before it does."""
    if index <= 0 or passages[index - 1].doc_id != passages[index].doc_id:
        return None
    return index - 1


def _nearest(semantic: SemanticIndex, vector: Vectors, k: int) -> list[int]:
    """The `k` passages whose vectors are nearest the question's, nearest first."""
    sims = np.nan_to_num(np.asarray(semantic.passages, dtype=np.float32) @ vector, nan=-1.0)
    k = min(k, len(sims))
    best = np.argpartition(-sims, k - 1)[:k]
    return [int(i) for i in best[np.lexsort((best, -sims[best]))]]
