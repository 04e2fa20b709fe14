"""BM25 scores exactly as rank-bm25 defines them, computed from postings so it scales.

rank-bm25's `get_scores` walks every passage for every query term, which costs about a
second per question at a million passages. Here each term keeps the list of passages that
contain it (CSR arrays), so a question only touches the passages that share a term with it,
and `top_k` prunes further (MaxScore over two impact layers per long list): once the k-th
best score found beats everything the unread parts of the lists could still add, passages
found only there are never visited. Pruning uses float32 gains with a safety margin; the
returned scores are recomputed exactly. The index saves to `.npy` files that load
memory-mapped, so a restart neither rebuilds nor reads the whole index.

The scores are rank-bm25 0.2.2's, operation for operation: Okapi's idf floor of
`epsilon * average_idf` for terms in more than half the passages, BM25+'s `idf * delta`
given to every passage for every known query term, a repeated query term counted twice.
"""

from __future__ import annotations

import functools
import itertools
import json
import math
import os
import threading
from array import array
from collections.abc import Callable, Iterable, Sequence, Sized
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, BinaryIO, Literal, cast

import numpy as np
from numpy.typing import NDArray

Variant = Literal["okapi", "plus", "l"]
Progress = Callable[[int, int], None]
FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
# Passage ids stay int32 like the postings: searchsorted of int64 ids in an int32 list would
# first copy the whole list to int64.
IdArray = NDArray[np.int32]

FORMAT_VERSION = 1
_VARIANTS: tuple[Variant, ...] = ("okapi", "plus", "l")
_DEFAULT_DELTA: dict[Variant, float] = {"okapi": 0.0, "plus": 1.0, "l": 0.5}
_HEADER = "header.json"
_TERMS = "terms.json"
_ARRAYS = ("indptr", "split", "doc_ids", "tfs", "gains", "doc_len", "idf", "max_gain", "max_low")
_PROGRESS_EVERY = 10_000
# Passages sorted together while building (see `_chunk`).
_CHUNK_PASSAGES = 16_384
# Pruning sums float32 gains; this relative slack keeps rounding from dropping a true top-k
# passage (the final order comes from exact float64 scores).
_SLACK = 1e-6
# Layers this short are merged without first checking whether pruning could skip them.
_MERGE_FREELY = 2048
# Candidates left this few go straight to exact scoring.
_FEW_CANDIDATES = 64
# Look a layer up by binary search unless it is shorter than this many times the candidates.
_SCATTER_RATIO = 4
# Lists this long get a top layer holding about 1/_LAYER_FRACTION of their postings.
_LAYER_MIN_POSTINGS = 2048
_LAYER_FRACTION = 32


@dataclass(frozen=True)
class BM25Parameters:
    """The knobs of the score; an index saved with other knobs is not reused."""

    variant: Variant = "okapi"
    k1: float = 1.5
    b: float = 0.75
    epsilon: float = 0.25
    delta: float = 0.0

    @classmethod
    def of(
        cls,
        variant: Variant,
        k1: float,
        b: float,
        epsilon: float,
        delta: float | None,
    ) -> BM25Parameters:
        if variant not in _VARIANTS:
            raise ValueError(f"unknown BM25 variant {variant!r}; expected one of {_VARIANTS}")
        if not (k1 >= 0 and 0 <= b <= 1 and epsilon >= 0):
            raise ValueError("BM25 needs k1 >= 0, 0 <= b <= 1 and epsilon >= 0")
        if delta is not None and delta < 0:
            raise ValueError("BM25 delta must not be negative")
        chosen = _DEFAULT_DELTA[variant] if delta is None else float(delta)
        return cls(variant, float(k1), float(b), float(epsilon), chosen)


@dataclass(frozen=True)
class _Arrays:
    """The index. Term `t`'s postings are `[indptr[t], indptr[t + 1])`, passage-ordered in
    two runs split at `split[t]`: the top layer (largest gains, bounded by `max_gain`),
    then the rest (bounded by `max_low`). Short lists have an empty top layer."""

    indptr: IntArray
    split: IntArray
    doc_ids: NDArray[np.int32]
    tfs: NDArray[np.unsignedinteger[Any]]
    gains: NDArray[np.float32]
    doc_len: NDArray[np.int32]
    idf: FloatArray
    max_gain: FloatArray
    max_low: FloatArray


class PostingsBM25:
    """rank-bm25's BM25 over tokenized passages, served from an inverted index.

    Passage ids are positions in the corpus given to the constructor. Instances are
    read-only after construction and safe to query from several threads.
    """

    def __init__(
        self,
        corpus: Iterable[Sequence[str]],
        variant: Variant = "okapi",
        k1: float = 1.5,
        b: float = 0.75,
        epsilon: float = 0.25,
        delta: float | None = None,
        progress: Progress | None = None,
    ) -> None:
        """Index `corpus` in one pass; `progress(done, total)` is called every few thousand
        passages (`total` is 0 when the corpus has no length)."""
        params = BM25Parameters.of(variant, k1, b, epsilon, delta)
        terms, arrays, total_len = _build(corpus, params, progress)
        self._attach(params, terms, arrays, total_len)

    def _attach(
        self, params: BM25Parameters, terms: list[str], arrays: _Arrays, total_len: int
    ) -> None:
        self.params = params
        self._terms = terms
        self._vocab = {term: row for row, term in enumerate(terms)}
        self._a = arrays
        self._n = int(arrays.doc_len.shape[0])
        self._total_len = total_len
        self._avgdl = total_len / self._n
        # Same operations as rank-bm25: (1 - b) + (b * doc_len) / avgdl.
        self._norm: FloatArray = (1 - params.b) + params.b * arrays.doc_len.astype(
            np.float64
        ) / self._avgdl
        self._k1norm: FloatArray = params.k1 * self._norm
        self._local = threading.local()

    def __len__(self) -> int:
        return self._n

    @property
    def vocabulary_size(self) -> int:
        return len(self._terms)

    @property
    def average_length(self) -> float:
        return self._avgdl

    def document_frequency(self, term: str) -> int:
        """How many passages contain `term`."""
        row = self._vocab.get(term)
        return 0 if row is None else int(self._a.indptr[row + 1] - self._a.indptr[row])

    def terms(self) -> list[str]:
        """Every indexed term, sorted."""
        return sorted(self._terms)

    def idf(self, term: str) -> float:
        """The term's idf as rank-bm25 uses it (0 for a term no passage contains)."""
        row = self._vocab.get(term)
        return 0.0 if row is None else float(self._a.idf[row])

    # -- scoring ---------------------------------------------------------------------------

    def scores(self, query_tokens: Sequence[str]) -> FloatArray:
        """The score of every passage, equal to rank-bm25's `get_scores` (dense, O(passages))."""
        score = np.zeros(self._n)
        for token in query_tokens:
            row = self._vocab.get(token)
            if row is None:
                continue
            ids, tfs = self._postings(row)
            tf = np.zeros(self._n)
            tf[ids] = tfs
            score += self._contribution(float(self._a.idf[row]), tf, self._norm, self._k1norm)
        return score

    def top_k(self, query_tokens: Sequence[str], k: int) -> list[tuple[int, float]]:
        """The `k` best (passage id, score) pairs, best first, ties to the lower id.

        The same pairs as sorting rank-bm25's `get_scores`; an empty query gives [].
        """
        if k <= 0:
            raise ValueError("k must be positive")
        if not query_tokens:
            return []
        rows, mults = self._known_rows(query_tokens)
        if k >= self._n or any(self._a.idf[row] <= 0 for row in rows):
            # Every passage is returned, or a matching passage may score at or below one
            # that matches nothing: the pruning below would be unsound, so rank them all.
            return self._dense_top_k(query_tokens, k)
        if not rows:
            return [(i, 0.0) for i in range(k)]
        candidates = self._candidates(rows, mults, k)
        if len(candidates) < k:
            # Fewer passages match than asked for: the rest score the baseline, ties by id.
            pool = np.arange(min(self._n, k + len(candidates)), dtype=np.int32)
            filler = np.setdiff1d(pool, candidates, assume_unique=True)[: k - len(candidates)]
            candidates = np.concatenate([candidates, filler])
        exact = self._exact(query_tokens, candidates)
        order = np.lexsort((candidates, -exact))[:k]
        return [(int(candidates[i]), float(exact[i])) for i in order]

    def _dense_top_k(self, query_tokens: Sequence[str], k: int) -> list[tuple[int, float]]:
        score = self.scores(query_tokens)
        k = min(k, self._n)
        if k < self._n:
            kth = np.partition(score, self._n - k)[self._n - k]
            pool = np.flatnonzero(score >= kth)
        else:
            pool = np.arange(self._n)
        order = pool[np.lexsort((pool, -score[pool]))][:k]
        return [(int(i), float(score[i])) for i in order]

    def _known_rows(self, query_tokens: Sequence[str]) -> tuple[list[int], list[int]]:
        counts: dict[int, int] = {}
        for token in query_tokens:
            row = self._vocab.get(token)
            if row is not None:
                counts[row] = counts.get(row, 0) + 1
        return list(counts), list(counts.values())

    def _candidates(self, rows: list[int], mults: list[int], k: int) -> IdArray:
        """Passages that may belong to the top k, all if fewer than k match (MaxScore).

        Gains are scores above the baseline every passage gets (0, or BM25+'s idf * delta),
        so a passage only gains from the terms it contains. Long posting lists are stored in
        two layers, the few postings with the largest gains first, so each term has a tight
        bound on what it can still add once its top layer is merged. Layers are merged into
        a scratch accumulator, shortest first. Once k passages are known, the k-th best of
        their full scores is a floor `theta` for the top k; terms whose remaining bounds add
        up to less than `theta` cannot lift a passage that has none of the others into the
        top k, so their (usually long) layers are never merged, only looked up for the
        candidates found.
        """
        a = self._a
        layers: list[list[tuple[int, int, float]]] = []  # per term: (start, end, bound)
        for row, m in zip(rows, mults, strict=True):
            start, mid, end = int(a.indptr[row]), int(a.split[row]), int(a.indptr[row + 1])
            top = [(start, mid, m * float(a.max_gain[row]))] if mid > start else []
            layers.append([*top, (mid, end, m * float(a.max_low[row]))])
        live = list(range(len(rows)))
        acc, seen = self._scratch()
        parts: list[IdArray] = []
        found = 0
        theta = -math.inf
        try:
            while live:
                choice = live
                cheapest = min(layers[t][0][1] - layers[t][0][0] for t in live)
                if found >= k and cheapest >= _MERGE_FREELY:
                    cand = np.concatenate(parts)
                    parts = [cand]
                    partial = acc[cand]
                    best = np.argpartition(partial, len(partial) - k)[len(partial) - k :]
                    full = partial[best] + self._probe(layers, mults, live, cand[best])
                    theta = max(theta, float(full.min()))
                    choice = _essential(live, [_bound(layer) for layer in layers], theta)
                    if not choice:
                        break
                i = min(choice, key=lambda t: layers[t][0][1] - layers[t][0][0])
                start, end, _ = layers[i].pop(0)
                if not layers[i]:
                    live.remove(i)
                ids = a.doc_ids[start:end]
                acc[ids] += mults[i] * a.gains[start:end]
                fresh = ids[~seen[ids]]
                seen[fresh] = True
                parts.append(fresh)
                found += len(fresh)
            cand = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int32)
            partial = acc[cand]
        finally:
            for part in parts:
                acc[part] = 0.0
                seen[part] = False
        if found < k:
            return cand
        # Look the remaining layers up for the candidates, dropping those that can no longer
        # reach theta even with every remaining layer. Next is the layer that lowers the
        # remaining bound most for its cost: usually a short top layer, then the long rest.
        while live:
            remaining = sum(_bound(layers[t]) for t in live)
            keep = partial + remaining >= theta - _slack(theta)
            cand, partial = cand[keep], partial[keep]
            if len(cand) <= _FEW_CANDIDATES:
                return cand  # cheaper to score these exactly than to prune them further
            i = max(live, key=lambda t: _drop(layers[t]) / _lookup_cost(layers[t][0], len(cand)))
            start, end, _ = layers[i].pop(0)
            if not layers[i]:
                live.remove(i)
            partial += mults[i] * self._lookup(start, end, cand, acc)
            theta = max(theta, _kth_largest(partial, k))
        kth = _kth_largest(partial, k)
        return cand[partial >= kth - _slack(kth)]

    def _probe(
        self,
        layers: list[list[tuple[int, int, float]]],
        mults: list[int],
        terms: list[int],
        ids: IdArray,
    ) -> FloatArray:
        """The gains of passages `ids` in the unmerged layers of `terms` (binary search)."""
        total = np.zeros(len(ids))
        for i in terms:
            for start, end, _ in layers[i]:
                docs = self._a.doc_ids[start:end]
                pos = np.minimum(np.searchsorted(docs, ids), len(docs) - 1)
                hit = docs[pos] == ids
                total[hit] += mults[i] * self._a.gains[start + pos[hit]]
        return total

    def _lookup(self, start: int, end: int, ids: IdArray, acc: FloatArray) -> FloatArray:
        """The gains of passages `ids` in one layer: by binary search for few candidates,
        else by scattering the layer into `acc` (left zeroed) and reading it back."""
        if _SCATTER_RATIO * len(ids) < end - start:
            return self._probe([[(start, end, 0.0)]], [1], [0], ids)
        docs = self._a.doc_ids[start:end]
        try:
            acc[docs] = self._a.gains[start:end]
            return acc[ids]
        finally:
            acc[docs] = 0.0

    def _scratch(self) -> tuple[FloatArray, NDArray[np.bool_]]:
        """Per-thread accumulators, left all zero/False after every query."""
        scratch = getattr(self._local, "scratch", None)
        if scratch is None:
            scratch = (np.zeros(self._n), np.zeros(self._n, dtype=np.bool_))
            self._local.scratch = scratch
        return cast(tuple[FloatArray, NDArray[np.bool_]], scratch)

    def _postings(self, row: int) -> tuple[NDArray[np.int32], NDArray[np.unsignedinteger[Any]]]:
        start, end = int(self._a.indptr[row]), int(self._a.indptr[row + 1])
        return self._a.doc_ids[start:end], self._a.tfs[start:end]

    def _exact(self, query_tokens: Sequence[str], ids: IdArray) -> FloatArray:
        """rank-bm25's `get_batch_scores` for `ids`, operation for operation."""
        score = np.zeros(len(ids))
        norm, k1norm = self._norm[ids], self._k1norm[ids]
        known: dict[int, FloatArray] = {}
        a = self._a
        for token in query_tokens:
            row = self._vocab.get(token)
            if row is None:
                continue
            if row not in known:
                tf = np.zeros(len(ids))
                runs = (int(a.indptr[row]), int(a.split[row]), int(a.indptr[row + 1]))
                for start, end in itertools.pairwise(runs):
                    if end > start:
                        docs = a.doc_ids[start:end]
                        pos = np.minimum(np.searchsorted(docs, ids), len(docs) - 1)
                        hit = docs[pos] == ids
                        tf[hit] = a.tfs[start + pos[hit]]
                known[row] = self._contribution(float(a.idf[row]), tf, norm, k1norm)
            score += known[row]  # in query order, repeats included, as rank-bm25 adds them
        return score

    def _contribution(
        self, idf: float, tf: FloatArray, norm: FloatArray, k1norm: FloatArray
    ) -> FloatArray:
        """One query term's score, written exactly as rank-bm25 writes it."""
        p = self.params
        if p.variant == "okapi":
            return idf * (tf * (p.k1 + 1) / (tf + k1norm))
        if p.variant == "plus":
            return idf * (p.delta + (tf * (p.k1 + 1)) / (k1norm + tf))
        ctd = tf / norm
        return idf * tf * (p.k1 + 1) * (ctd + p.delta) / (p.k1 + ctd + p.delta)

    # -- persistence -----------------------------------------------------------------------

    def save(self, folder: Path, content_hash: str) -> None:
        """Write the index to `folder`; the header goes last, so a half-written index
        never loads."""
        folder.mkdir(parents=True, exist_ok=True)
        (folder / _HEADER).unlink(missing_ok=True)
        for name in _ARRAYS:
            data: NDArray[np.generic] = getattr(self._a, name)
            _replace(folder / f"{name}.npy", functools.partial(np.save, arr=data))
        _replace(folder / _TERMS, lambda f: f.write(json.dumps(self._terms).encode()))
        header = {
            "format_version": FORMAT_VERSION,
            "parameters": asdict(self.params),
            "content_hash": content_hash,
            "passages": self._n,
            "terms": len(self._terms),
            "postings": int(self._a.doc_ids.shape[0]),
            "total_length": self._total_len,
        }
        _replace(folder / _HEADER, lambda f: f.write(json.dumps(header, indent=2).encode()))

    @classmethod
    def load(
        cls,
        folder: Path,
        content_hash: str,
        variant: Variant = "okapi",
        k1: float = 1.5,
        b: float = 0.75,
        epsilon: float = 0.25,
        delta: float | None = None,
    ) -> PostingsBM25 | None:
        """The index saved in `folder`, or None (rebuild) when it is missing, damaged, of
        another format version, built with other parameters or from other content."""
        params = BM25Parameters.of(variant, k1, b, epsilon, delta)
        try:
            header = json.loads((folder / _HEADER).read_text(encoding="utf-8"))
            if (
                header.get("format_version") != FORMAT_VERSION
                or header.get("content_hash") != content_hash
                or header.get("parameters") != asdict(params)
            ):
                return None
            terms = json.loads((folder / _TERMS).read_text(encoding="utf-8"))
            # Plain ndarray views of the maps: slicing a np.memmap runs Python code each time.
            loaded = {
                n: np.load(folder / f"{n}.npy", mmap_mode="r").view(np.ndarray) for n in _ARRAYS
            }
            arrays = _Arrays(**loaded)
            n, v, postings = int(header["passages"]), int(header["terms"]), header["postings"]
            if not _consistent(arrays, terms, n, v, postings):
                return None
            index = cls.__new__(cls)
            index._attach(params, terms, arrays, int(header["total_length"]))
        except (OSError, ValueError, KeyError, TypeError, AttributeError, EOFError):
            return None
        return index


class _Vocabulary(dict[str, int]):
    """Term -> row, numbered in order of first appearance (rank-bm25's order for idf)."""

    def __missing__(self, term: str) -> int:
        row = self[term] = len(self)
        return row


_Chunk = tuple[NDArray[np.int32], NDArray[np.int32], NDArray[np.int64]]


def _chunk(rows_buffer: array[int], lengths_buffer: array[int], first: int, v: int) -> _Chunk:
    """(term, passage, tf) of a run of passages, in (term, passage) order.

    Sorting a chunk at a time keeps the keys small (32 bits while terms * passages fit)
    and the sort in cache; `_merge` then places the chunks by counting.
    """
    rows = np.frombuffer(rows_buffer, dtype=np.int32)
    lengths = np.frombuffer(lengths_buffer, dtype=np.int32)
    m = len(lengths)
    key_type = np.uint32 if v * m < 2**32 else np.uint64
    keys: NDArray[np.unsignedinteger[Any]] = rows.astype(key_type)
    keys *= m
    keys += np.repeat(np.arange(m, dtype=key_type), lengths)
    keys.sort()
    starts = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))
    counts = np.diff(np.append(starts, len(keys)))
    unique = keys[starts]
    terms = (unique // m).astype(np.int32)
    docs = (unique % m).astype(np.int32) + np.int32(first)
    return terms, docs, counts.astype(np.int64)


def _merge(
    chunks: list[_Chunk], v: int
) -> tuple[IntArray, NDArray[np.int32], NDArray[np.unsignedinteger[Any]]]:
    """Concatenate per-chunk postings into one CSR, term-major and passage-ordered.

    Chunks cover increasing passages, so each term's postings from chunk c go right after
    those from earlier chunks: a running offset per term places them without a global sort.
    """
    counts = [np.bincount(terms, minlength=v) for terms, _, _ in chunks]
    indptr = np.zeros(v + 1, dtype=np.int64)
    np.cumsum(np.sum(counts, axis=0, dtype=np.int64) if counts else 0, out=indptr[1:])
    total = int(indptr[-1])
    largest = max((int(tf.max()) for _, _, tf in chunks if len(tf)), default=1)
    doc_ids = np.empty(total, dtype=np.int32)
    tfs: NDArray[np.unsignedinteger[Any]] = np.empty(
        total, dtype=np.uint16 if largest < 2**16 else np.uint32
    )
    running = indptr[:-1].copy()
    for count in counts:
        terms, docs, tf = chunks.pop(0)
        within = np.arange(len(terms), dtype=np.int64) - (np.cumsum(count) - count)[terms]
        dest = running[terms] + within
        doc_ids[dest] = docs
        tfs[dest] = tf
        running += count
    return indptr, doc_ids, tfs


def _build(
    corpus: Iterable[Sequence[str]], params: BM25Parameters, progress: Progress | None
) -> tuple[list[str], _Arrays, int]:
    total = len(corpus) if isinstance(corpus, Sized) else 0
    vocab = _Vocabulary()
    doc_len = array("i")
    chunks: list[_Chunk] = []
    token_rows = array("i")
    first = 0
    for done, doc in enumerate(corpus, start=1):
        token_rows.extend(map(vocab.__getitem__, doc))
        doc_len.append(len(doc))
        if done - first == _CHUNK_PASSAGES:
            chunks.append(_chunk(token_rows, doc_len[first:], first, len(vocab)))
            token_rows, first = array("i"), done
        if progress is not None and done % _PROGRESS_EVERY == 0:
            progress(done, total)
    n = len(doc_len)
    if n == 0:
        raise ValueError("cannot index an empty corpus")
    if first < n:
        chunks.append(_chunk(token_rows, doc_len[first:], first, len(vocab)))
    if progress is not None and n % _PROGRESS_EVERY:
        progress(n, total)
    del token_rows
    lengths = np.frombuffer(doc_len, dtype=np.int32).copy()
    indptr, doc_ids, tfs = _merge(chunks, len(vocab))
    df = np.diff(indptr)
    total_len = int(lengths.sum())
    idf = _idf(params, df.tolist(), n)
    # The largest gain of each term bounds what it can add to any passage (for pruning).
    avgdl = total_len / n
    norm = (1 - params.b) + params.b * lengths.astype(np.float64) / avgdl
    gains = _gain_of(params, np.repeat(idf, df), tfs.astype(np.float64), norm[doc_ids])
    max_gain = (
        np.maximum.reduceat(gains, indptr[:-1]) if len(gains) else np.zeros(0, dtype=np.float64)
    )
    split, max_low = _layer(indptr, doc_ids, tfs, gains, max_gain)
    arrays = _Arrays(
        indptr, split, doc_ids, tfs, gains.astype(np.float32), lengths, idf, max_gain, max_low
    )
    return list(vocab), arrays, total_len


def _layer(
    indptr: IntArray,
    doc_ids: NDArray[np.int32],
    tfs: NDArray[np.unsignedinteger[Any]],
    gains: FloatArray,
    max_gain: FloatArray,
) -> tuple[IntArray, FloatArray]:
    """Move the largest gains of each long list to its front (in place), keeping both runs
    in passage order; return where the runs split and the bound of the second run.

    A few passages with a high term frequency set a term's largest gain; without them the
    bound of the bulk of the list is much tighter, which is what lets pruning skip it.
    """
    split = indptr[:-1].copy()
    max_low = max_gain.copy()
    for row in np.flatnonzero(np.diff(indptr) >= _LAYER_MIN_POSTINGS):
        start, end = int(indptr[row]), int(indptr[row + 1])
        g = gains[start:end]
        size = end - start
        top = size // _LAYER_FRACTION
        cut = np.partition(g, size - top)[size - top]
        high = g >= cut
        if high.sum() > 2 * top:  # many ties at the cut: keep only what is strictly above
            high = g > cut
        count = int(high.sum())
        if count == 0:
            continue
        order = np.concatenate([np.flatnonzero(high), np.flatnonzero(~high)])
        doc_ids[start:end] = doc_ids[start:end][order]
        tfs[start:end] = tfs[start:end][order]
        max_low[row] = g[~high].max()
        g[:] = g[order]
        split[row] = start + count
    return split, max_low


def _idf(params: BM25Parameters, df: list[int], n: int) -> FloatArray:
    """Per-term idf with rank-bm25's formulas, in its order (first appearance), in floats."""
    if params.variant == "plus":
        return np.array([math.log((n + 1) / f) for f in df], dtype=np.float64)
    if params.variant == "l":
        return np.array([math.log(n + 1) - math.log(f + 0.5) for f in df], dtype=np.float64)
    values = [math.log(n - f + 0.5) - math.log(f + 0.5) for f in df]
    average = sum(values) / len(values) if values else 0.0
    floor = params.epsilon * average
    return np.array([floor if v < 0 else v for v in values], dtype=np.float64)


def _gain_of(
    params: BM25Parameters, idf: FloatArray, tf: FloatArray, norm: FloatArray
) -> FloatArray:
    """Score above the every-passage baseline (BM25+'s idf * delta), for bounds and pruning."""
    if params.variant == "l":
        ctd = tf / norm
        return idf * tf * (params.k1 + 1) * (ctd + params.delta) / (params.k1 + ctd + params.delta)
    return idf * (tf * (params.k1 + 1) / (tf + params.k1 * norm))


def _essential(pending: list[int], bound: list[float], theta: float) -> list[int]:
    """The pending terms a passage must contain to reach `theta`, shortest list first.

    The terms with the smallest bounds are left out for as long as their bounds add up to
    less than `theta`: a passage with only those cannot reach it.
    """
    by_bound = sorted(pending, key=lambda i: bound[i])
    total = 0.0
    for cut, i in enumerate(by_bound):
        total += bound[i]
        if total >= theta - _slack(theta):
            needed = set(by_bound[cut:])
            return [i for i in pending if i in needed]
    return []


def _bound(layers: list[tuple[int, int, float]]) -> float:
    """What a term can still add to a passage not found in its merged layers."""
    return layers[0][2] if layers else 0.0


def _drop(layers: list[tuple[int, int, float]]) -> float:
    """How much a term's bound falls once its next layer is looked up."""
    return layers[0][2] - (layers[1][2] if len(layers) > 1 else 0.0)


def _lookup_cost(layer: tuple[int, int, float], candidates: int) -> float:
    size = layer[1] - layer[0]
    return float(min(size, candidates * max(1, size.bit_length())))


def _kth_largest(values: FloatArray, k: int) -> float:
    if len(values) < k:
        return -math.inf
    return float(np.partition(values, len(values) - k)[len(values) - k])


def _slack(theta: float) -> float:
    return _SLACK * max(1.0, abs(theta))


def _consistent(arrays: _Arrays, terms: object, n: int, v: int, postings: object) -> bool:
    return (
        isinstance(terms, list)
        and len(terms) == v
        and all(isinstance(t, str) for t in terms)
        and n > 0
        and arrays.indptr.shape == (v + 1,)
        and arrays.indptr.dtype == np.int64
        and arrays.split.shape == (v,)
        and arrays.split.dtype == np.int64
        and arrays.max_low.shape == (v,)
        and arrays.max_low.dtype == np.float64
        and arrays.doc_ids.dtype == np.int32
        and arrays.tfs.dtype in (np.uint16, np.uint32)
        and arrays.gains.dtype == np.float32
        and arrays.gains.shape == (postings,)
        and arrays.doc_len.dtype == np.int32
        and arrays.idf.dtype == np.float64
        and arrays.max_gain.dtype == np.float64
        and arrays.doc_ids.shape == (postings,)
        and arrays.tfs.shape == (postings,)
        and arrays.doc_len.shape == (n,)
        and arrays.idf.shape == (v,)
        and arrays.max_gain.shape == (v,)
        and int(arrays.indptr[0]) == 0
        and int(arrays.indptr[-1]) == postings
    )


def _replace(path: Path, write: Callable[[BinaryIO], object]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        write(f)
    os.replace(tmp, path)
