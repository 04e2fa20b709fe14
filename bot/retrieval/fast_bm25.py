"""BM25 scores exactly as rank-bm25 defines them, computed from postings so it scales.

rank-bm25's `get_scores` walks every passage for every query term, which costs about a
second per question at a million passages. Here each term keeps the list of passages that
contain it (CSR arrays), so a question only touches the passages that share a term with it,
and `top_k` prunes further: a compiled document-at-a-time MaxScore (`_compiled.py`) over
one or two passage-ordered runs per term (long lists keep their largest gains in a short
first run, so the bound on the rest is tight). Once the k-th best sum beats what the runs
left could add, passages found only there are never visited; block-max bounds (each long
term's largest gain in every window of 128 passages, saved with the index) let it jump over
whole windows no passage of which can reach the k best, and a second level (the commonest
terms' largest gains in windows of 16 passages, a byte each) over parts of the windows it
cannot jump over whole. Pruning sums gains with a safety
margin; the returned scores are recomputed exactly, the counts looked up in the same
lists. The index saves to `.npy` files that load memory-mapped, so a
restart neither rebuilds nor reads the whole index.

The scores are rank-bm25 0.2.2's, operation for operation: Okapi's idf floor of
`epsilon * average_idf` for terms in more than half the passages, BM25+'s `idf * delta`
given to every passage for every known query term, a repeated query term counted twice.
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import itertools
import json
import logging
import math
import os
import shutil
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence, Sized
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, BinaryIO, Literal

import numpy as np
from numpy.typing import NDArray

from bot.retrieval._terms import TermTable

log = logging.getLogger(__name__)

Variant = Literal["okapi", "plus", "l"]
Progress = Callable[[int, int], None]
FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
# Passage ids stay int32 like the postings: searchsorted of int64 ids in an int32 list would
# first copy the whole list to int64.
IdArray = NDArray[np.int32]
Float32Array = NDArray[np.float32]

FORMAT_VERSION = 8
_VARIANTS: tuple[Variant, ...] = ("okapi", "plus", "l")
_DEFAULT_DELTA: dict[Variant, float] = {"okapi": 0.0, "plus": 1.0, "l": 0.5}
_HEADER = "header.json"
_ARRAYS = (
    "indptr",
    "split",
    "doc_ids",
    "tfs",
    "gains",
    "doc_len",
    "idf",
    "max_gain",
    "max_low",
    "window_rows",
    "window_max",
    "fine_rows",
    "fine_max",
)
# Passages encoded, numbered and grouped together while building (see `_build`): enough to
# amortise a run's calls, few enough that its arrays stay small (~1.4M tokens of prose).
_CHUNK_PASSAGES = 16_384
# Pruning sums gains stored as float32, one per query term a passage holds; this relative
# slack per term keeps their rounding (about 6e-8 each) from dropping a true top-k
# passage. The final order comes from exact scores computed in rank-bm25's order.
_SLACK = 1e-6
# Lists this long get a top layer holding about 1/_LAYER_FRACTION of their postings.
_LAYER_MIN_POSTINGS = 2048
_LAYER_FRACTION = 32
# Postings whose gains are computed at once while building (bounds the float64 temporaries).
_GAIN_BLOCK = 1 << 22
# Passages per window of the block-max bounds. Smaller windows bound more tightly but cost
# more to sum per question and to store: a term gets a row of bounds (4 bytes a window) when
# it has at least as many postings as there are windows, so they add at most 40% to its
# postings; shorter lists are gathered per question. 128 measured best at a million
# passages (64 and 256 were each about 5% slower on the synthetic corpus).
_WINDOW_PASSAGES = 128
# Passages per fine window, the second level. A question whose terms are each in 5-15% of
# the passages reaches the k best from nearly every window of 128 (every term is in it),
# but from only a few percent of windows of 16: such questions walked most of their lists.
# Summing bounds as fine for every window costs more than most questions take, so fine
# bounds are summed only inside the windows the walk enters, and only while the lists it
# walks are dense (`_DENSE`). A term gets a row of fine bounds (a byte a window) when it has
# at least one posting per `_FINE_SPARSITY` fine windows: at most 40% of its postings' size,
# as for the windows above; the question's other terms count their bound over the window.
_FINE_PASSAGES = 16
_FINE_SPARSITY = 4
# Fine bounds are consulted while the lists still walked hold more than this many postings
# a window of `_WINDOW_PASSAGES`; in sparser walks, summing the fine bounds of a window for
# the few passages met there costs more than it saves. Measured on real prose: at 2, p50
# was 6-10% slower at 100,000 passages; at 16 the slowest questions at a million no longer
# used fine bounds; 4 and 8 kept both, 8 with the lower p99.
_DENSE = 8.0


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
    then the rest (bounded by `max_low`). Short lists have an empty top layer. A passage's
    count of a term is found by binary search in both runs, so no forward index is kept:
    the index is ten bytes a posting. `window_max[window_rows[t] * windows + w]` is term
    `t`'s largest gain among passages `[w * window_passages, (w + 1) * window_passages)`,
    for terms with at least `windows` postings (the others have row -1). The fine bounds
    `fine_max[fine_rows[t] * fine_windows + f]` are the same over `fine_passages`-passage
    windows, in 1/255ths of `max_gain[t]` rounded up, for terms with at least
    `fine_windows / _FINE_SPARSITY` postings.
    """

    indptr: IntArray
    split: IntArray
    doc_ids: NDArray[np.int32]
    tfs: NDArray[np.unsignedinteger[Any]]
    gains: NDArray[np.float32]
    doc_len: NDArray[np.int32]
    idf: FloatArray
    max_gain: FloatArray
    max_low: FloatArray
    window_rows: NDArray[np.int32]
    window_max: NDArray[np.float32]
    fine_rows: NDArray[np.int32]
    fine_max: NDArray[np.uint8]
    window_passages: int
    fine_passages: int

    @property
    def windows(self) -> int:
        return -(-len(self.doc_len) // self.window_passages)

    @property
    def fine_windows(self) -> int:
        return -(-len(self.doc_len) // self.fine_passages)


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
        """Index `corpus` in one pass; `progress(done, total)` is called after every run of
        passages built (`total` is 0 when the corpus has no length)."""
        params = BM25Parameters.of(variant, k1, b, epsilon, delta)
        terms, arrays, total_len = _build(corpus, params, progress)
        self._attach(params, {term: row for row, term in enumerate(terms)}, arrays, total_len)

    def _attach(
        self,
        params: BM25Parameters,
        vocab: dict[str, int] | TermTable,
        arrays: _Arrays,
        total_len: int,
    ) -> None:
        """`vocab` maps each term to its row: a dict when built here, a table when loaded."""
        self.params = params
        self._vocab = vocab
        self._a = arrays
        self._n = int(arrays.doc_len.shape[0])
        self._total_len = total_len
        self._avgdl = total_len / self._n
        # Same operations as rank-bm25: (1 - b) + (b * doc_len) / avgdl.
        self._norm: FloatArray = (1 - params.b) + params.b * arrays.doc_len.astype(
            np.float64
        ) / self._avgdl
        self._k1norm: FloatArray = params.k1 * self._norm

    def __len__(self) -> int:
        return self._n

    @property
    def vocabulary_size(self) -> int:
        return len(self._vocab)

    @property
    def average_length(self) -> float:
        return self._avgdl

    def document_frequency(self, term: str) -> int:
        """How many passages contain `term`."""
        row = self._vocab.get(term)
        return 0 if row is None else int(self._a.indptr[row + 1] - self._a.indptr[row])

    def terms(self) -> list[str]:
        """Every indexed term, sorted."""
        if isinstance(self._vocab, TermTable):
            return self._vocab.sorted_terms()
        return sorted(self._vocab)

    def terms_starting_with(self, prefix: str, limit: int) -> list[str] | None:
        """The indexed terms that begin with `prefix`, sorted; None when more than `limit`."""
        if isinstance(self._vocab, TermTable):
            return self._vocab.starting_with(prefix, limit)
        return _prefixed(self._sorted_terms, prefix, limit)

    def longest_term(self) -> int:
        if isinstance(self._vocab, TermTable):
            return self._vocab.longest()
        return max(map(len, self._vocab), default=0)

    @functools.cached_property
    def _sorted_terms(self) -> list[str]:
        return sorted(self._vocab) if not isinstance(self._vocab, TermTable) else []

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
        row_of = {t: self._vocab.get(t) for t in set(query_tokens)}
        rows, mults = self._known_rows(query_tokens, row_of)
        if k >= self._n or any(self._a.idf[row] <= 0 for row in rows):
            # Every passage is returned, or a matching passage may score at or below one
            # that matches nothing: pruning would be unsound, so rank them all.
            return self._dense_top_k(query_tokens, k)
        if not rows:
            return [(i, 0.0) for i in range(k)]
        kernels = _kernels()
        a, p = self._a, self.params
        query_rows = np.array(
            [-1 if (row := row_of[t]) is None else row for t in query_tokens], dtype=np.int64
        )
        ids, scores, matched = kernels.search(
            np.array(rows, dtype=np.int64),
            np.array(mults, dtype=np.float64),
            query_rows,
            k,
            _SLACK * (len(rows) + 1),
            a.indptr,
            a.split,
            a.max_gain,
            a.max_low,
            a.doc_ids,
            a.tfs,
            a.gains,
            a.idf,
            self._norm,
            self._k1norm,
            _VARIANT_CODES[p.variant],
            p.k1,
            p.delta,
            a.window_rows,
            a.window_max,
            a.window_passages,
            a.fine_rows,
            a.fine_max,
            a.fine_passages,
            _DENSE,
        )
        if matched < k:
            # Fewer passages match than asked for: the rest score the baseline, ties by id.
            pool = np.arange(min(self._n, k + len(ids)), dtype=np.int32)
            filler = np.setdiff1d(pool, ids)[: k - len(ids)]
            candidates = np.concatenate([ids, filler])
            exact = kernels.exact(
                candidates,
                query_rows,
                a.idf,
                a.indptr,
                a.split,
                a.doc_ids,
                a.tfs,
                self._norm,
                self._k1norm,
                _VARIANT_CODES[p.variant],
                p.k1,
                p.delta,
            )
            order = np.lexsort((candidates, -exact))[:k]
            ids, scores = candidates[order], exact[order]
        return [(int(i), float(s)) for i, s in zip(ids, scores, strict=True)]

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

    def _known_rows(
        self, query_tokens: Sequence[str], row_of: dict[str, int | None]
    ) -> tuple[list[int], list[int]]:
        """The query's distinct known rows (first-seen order) and how often each is asked."""
        counts: dict[int, int] = {}
        for token in query_tokens:
            row = row_of[token]
            if row is not None:
                counts[row] = counts.get(row, 0) + 1
        return list(counts), list(counts.values())

    def _postings(self, row: int) -> tuple[NDArray[np.int32], NDArray[np.unsignedinteger[Any]]]:
        start, end = int(self._a.indptr[row]), int(self._a.indptr[row + 1])
        return self._a.doc_ids[start:end], self._a.tfs[start:end]

    def _contribution(
        self, idf: float | FloatArray, tf: FloatArray, norm: FloatArray, k1norm: FloatArray
    ) -> FloatArray:
        """A query term's score, written exactly as rank-bm25 writes it (with arrays, each
        element goes through the same operations)."""
        p = self.params
        if p.variant == "okapi":
            return idf * (tf * (p.k1 + 1) / (tf + k1norm))
        if p.variant == "plus":
            return idf * (p.delta + (tf * (p.k1 + 1)) / (k1norm + tf))
        ctd = tf / norm
        return idf * tf * (p.k1 + 1) * (ctd + p.delta) / (p.k1 + ctd + p.delta)

    # -- persistence -----------------------------------------------------------------------

    def save(self, folder: Path, content_hash: str) -> None:
        """Write the index to a temporary folder beside `folder`, then put it in its place.

        A save that fails (a full disk) leaves the previous index or none, never half of a
        new one and no stray files; the OSError it raises says why.
        """
        _remove_leftovers(folder)
        tmp = folder.with_name(f".{folder.name}.tmp-{os.getpid()}")
        try:
            tmp.mkdir(parents=True)
            self._write(tmp, content_hash)
            old = folder.with_name(f".{folder.name}.old-{os.getpid()}")
            if folder.exists():
                os.replace(folder, old)
            os.replace(tmp, folder)
            shutil.rmtree(old, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    def _write(self, folder: Path, content_hash: str) -> None:
        for name in _ARRAYS:
            data: NDArray[np.generic] = getattr(self._a, name)
            _replace(folder / f"{name}.npy", functools.partial(np.save, arr=data))
        table = (
            self._vocab if isinstance(self._vocab, TermTable) else TermTable.of(list(self._vocab))
        )
        for name, data in table.arrays().items():
            _replace(folder / f"{name}.npy", functools.partial(np.save, arr=data))
        header = {
            "saved_files": _stamps(folder),
            "format_version": FORMAT_VERSION,
            "parameters": asdict(self.params),
            "content_hash": content_hash,
            "passages": self._n,
            "terms": len(self._vocab),
            "postings": int(self._a.doc_ids.shape[0]),
            "total_length": self._total_len,
            "window_passages": self._a.window_passages,
            "fine_passages": self._a.fine_passages,
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
            # Plain ndarray views of the maps: slicing a np.memmap runs Python code each time.
            loaded = {
                n: np.load(folder / f"{n}.npy", mmap_mode="r").view(np.ndarray) for n in _ARRAYS
            }
            width, fine = header["window_passages"], header["fine_passages"]
            if not _nested(width, fine):
                return None
            arrays = _Arrays(**loaded, window_passages=width, fine_passages=fine)
            n, v, postings = int(header["passages"]), int(header["terms"]), header["postings"]
            terms = TermTable.load(folder, v)
            unchanged = header.get("saved_files") == _stamps(folder)
            if (
                terms is None
                or not _consistent(arrays, n, v, postings)
                or not _sound(arrays, n, v)
                or (not unchanged and not _sound_postings(arrays, n, v))
            ):
                log.warning("the saved index in %s is damaged; rebuilding it", folder)
                return None
            index = cls.__new__(cls)
            index._attach(params, terms, arrays, int(header["total_length"]))
        except (OSError, ValueError, KeyError, TypeError, AttributeError, EOFError):
            return None
        return index


_VARIANT_CODES = {"okapi": 0, "plus": 1, "l": 2}


def _prefixed(terms: list[str], prefix: str, limit: int) -> list[str] | None:
    """The terms of sorted `terms` that begin with `prefix`; None when more than `limit`."""
    start = bisect.bisect_left(terms, prefix)
    end = bisect.bisect_left(terms, prefix + "\U0010ffff", lo=start)
    return None if end - start > limit else terms[start:end]


@functools.cache
def _kernels() -> Any:
    """The compiled inner loops, imported on first use: numba takes a second to import,
    which a small library (ranked by rank-bm25) never needs to pay."""
    from bot.retrieval import _compiled

    return _compiled


# (term, passage, tf) triples of a chunk, and its first passage.
_Chunk = tuple[NDArray[np.int32], NDArray[np.int32], NDArray[np.uint32], int]


def _chunk(rows: NDArray[np.int32], lengths: NDArray[np.int32], first: int, v: int) -> _Chunk:
    """(term, passage, tf) of a run of passages, in (term, passage) order.

    Grouped a chunk at a time (compiled: a counting sort by term, which keeps passages in
    order; a third faster than sorting packed keys with numpy), so the work stays in cache;
    `_merge` then places the chunks by counting.
    """
    terms, docs, counts = _kernels().group(rows, lengths, first, v)
    return terms, docs, counts, first


@dataclass
class _Postings:
    """The (term, passage, tf) triples, term-major, as `_merge` lays them out."""

    indptr: IntArray
    doc_ids: NDArray[np.int32]
    tfs: NDArray[np.unsignedinteger[Any]]


def _merge(chunks: list[_Chunk], v: int, n: int) -> _Postings:
    """Concatenate per-chunk postings into one CSR, term-major and passage-ordered.

    Chunks cover increasing passages, so each term's postings from chunk c go right after
    those from earlier chunks: a running offset per term places them without a global sort.
    """
    per_term = np.zeros(v, dtype=np.int64)
    for terms, _, _, _ in chunks:
        per_term += np.bincount(terms, minlength=v)
    indptr = np.zeros(v + 1, dtype=np.int64)
    np.cumsum(per_term, out=indptr[1:])
    total = int(indptr[-1])
    largest = max((int(tf.max()) for _, _, tf, _ in chunks if len(tf)), default=1)
    tf_type = np.uint16 if largest < 2**16 else np.uint32
    doc_ids = np.empty(total, dtype=np.int32)
    tfs: NDArray[np.unsignedinteger[Any]] = np.empty(total, dtype=tf_type)
    running = indptr[:-1].copy()
    scatter = _kernels().scatter
    while chunks:
        terms, docs, tf, _ = chunks.pop(0)
        scatter(terms, docs, tf, running, doc_ids, tfs)
    return _Postings(indptr, doc_ids, tfs)


def _build(
    corpus: Iterable[Sequence[str]], params: BM25Parameters, progress: Progress | None
) -> tuple[list[str], _Arrays, int]:
    # compiled: imported on first use
    from bot.retrieval._interning import EncodedRun, TermInterner, encode

    total = len(corpus) if isinstance(corpus, Sized) else 0
    interner = TermInterner()
    runs: list[NDArray[np.int32]] = []
    chunks: list[_Chunk] = []

    def number(run: EncodedRun, lengths: NDArray[np.int32], first: int) -> _Chunk:
        return _chunk(interner.intern(run), lengths, first, len(interner))

    # Two stages in step: this thread reads the corpus and encodes a run (Python objects,
    # under the GIL) while a worker numbers and sorts the run before it (compiled code and
    # numpy, mostly without the GIL). Runs reach the worker in order, one at a time.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="bm25-build") as worker:
        pending: deque[tuple[Future[_Chunk], int]] = deque()

        def collect() -> None:
            future, done = pending.popleft()
            chunks.append(future.result())
            if progress is not None:
                progress(done, total)

        first = 0
        for run in _runs(corpus, _CHUNK_PASSAGES):
            lengths = np.fromiter(map(len, run), dtype=np.int32, count=len(run))
            encoded = encode(run, int(lengths.sum()))
            pending.append((worker.submit(number, encoded, lengths, first), first + len(run)))
            runs.append(lengths)
            first += len(run)
            while len(pending) > 1 or (pending and pending[0][0].done()):
                collect()
        while pending:
            collect()
    n = first
    if n == 0:
        raise ValueError("cannot index an empty corpus")
    lengths = np.concatenate(runs)
    p = _merge(chunks, len(interner), n)
    total_len = int(lengths.sum())
    idf = _idf(params, np.diff(p.indptr).tolist(), n)
    avgdl = total_len / n
    norm = (1 - params.b) + params.b * lengths.astype(np.float64) / avgdl
    gains, max_gain, split, max_low = _impacts(params, p, idf, norm)
    if not _nested(_WINDOW_PASSAGES, _FINE_PASSAGES):
        raise ValueError("fine windows must split the windows of block-max bounds evenly")
    window_rows = _window_rows(p.indptr, -(-n // _WINDOW_PASSAGES))
    window_max = _kernels().window_maxima(
        p.indptr, p.doc_ids, gains, window_rows, _WINDOW_PASSAGES, n
    )
    fine_rows = _fine_rows(p.indptr, -(-n // _FINE_PASSAGES))
    fine_max = _kernels().fine_maxima(
        p.indptr, p.doc_ids, gains, fine_rows, max_gain, _FINE_PASSAGES, n
    )
    arrays = _Arrays(
        p.indptr,
        split,
        p.doc_ids,
        p.tfs,
        gains,
        lengths,
        idf,
        max_gain,
        max_low,
        window_rows,
        window_max,
        fine_rows,
        fine_max,
        _WINDOW_PASSAGES,
        _FINE_PASSAGES,
    )
    return interner.terms(), arrays, total_len


def _window_rows(indptr: IntArray, windows: int) -> NDArray[np.int32]:
    """Rows of block-max bounds for the terms with at least one posting per window, in term
    order; -1 for the others (their few postings are cheaper to read than a row)."""
    return _rows_of(np.diff(indptr) >= windows)


def _fine_rows(indptr: IntArray, fine_windows: int) -> NDArray[np.int32]:
    """Rows of fine bounds for the terms with a posting per `_FINE_SPARSITY` fine windows."""
    return _rows_of(np.diff(indptr) * _FINE_SPARSITY >= fine_windows)


def _rows_of(chosen: NDArray[np.bool_]) -> NDArray[np.int32]:
    rows = np.full(len(chosen), -1, dtype=np.int32)
    rows[chosen] = np.arange(int(chosen.sum()), dtype=np.int32)
    return rows


def _nested(width: object, fine: object) -> bool:
    """Window widths an index can use: whole numbers, fine windows tiling each window."""
    return (
        isinstance(width, int)
        and isinstance(fine, int)
        and 1 <= fine <= width
        and width % fine == 0
    )


def _runs(corpus: Iterable[Sequence[str]], size: int) -> Iterator[list[Sequence[str]]]:
    """The passages of `corpus`, `size` at a time (interned and sorted a run at a time)."""
    passages = iter(corpus)
    while run := list(itertools.islice(passages, size)):
        yield run


def _impacts(
    params: BM25Parameters, p: _Postings, idf: FloatArray, norm: FloatArray
) -> tuple[NDArray[np.float32], FloatArray, IntArray, FloatArray]:
    """Every posting's gain (float32), each term's largest gain, and its two layers (the
    postings reordered in place).

    Gains are stored, not computed by queries: computing one reads the passage's length at
    random, which at a million passages made a question four times slower than reading
    four more bytes a posting in order. Computed a run of terms at a time, so the float64
    temporaries stay small.
    """
    v = len(idf)
    df = np.diff(p.indptr)
    gains = np.empty(len(p.doc_ids), dtype=np.float32)
    max_gain = np.zeros(v)
    max_low = np.zeros(v)
    split = p.indptr[:-1].copy()
    t0 = 0
    while t0 < v:
        reach = int(np.searchsorted(p.indptr, p.indptr[t0] + _GAIN_BLOCK, side="right")) - 1
        t1 = min(v, max(t0 + 1, reach))
        s0, s1 = int(p.indptr[t0]), int(p.indptr[t1])
        docs, tfs = p.doc_ids[s0:s1], p.tfs[s0:s1]  # views: `_layer` reorders them in place
        g = _gain_of(params, np.repeat(idf[t0:t1], df[t0:t1]), tfs.astype(np.float64), norm[docs])
        local = p.indptr[t0 : t1 + 1] - s0
        # The largest gain of each term bounds what it can add to any passage (every term
        # has at least one posting, so no run is empty).
        max_gain[t0:t1] = np.maximum.reduceat(g, local[:-1])
        block_split, max_low[t0:t1] = _layer(local, docs, tfs, g, max_gain[t0:t1])
        split[t0:t1] = block_split + s0
        gains[s0:s1] = g
        t0 = t1
    return gains, max_gain, split, max_low


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


def _consistent(arrays: _Arrays, n: int, v: int, postings: object) -> bool:
    return (
        n > 0
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
        and arrays.window_rows.dtype == np.int32
        and arrays.window_rows.shape == (v,)
        and arrays.window_max.dtype == np.float32
        and arrays.window_max.ndim == 1
        and arrays.window_max.size % arrays.windows == 0
        and arrays.fine_rows.dtype == np.int32
        and arrays.fine_rows.shape == (v,)
        and arrays.fine_max.dtype == np.uint8
        and arrays.fine_max.ndim == 1
        and int(arrays.indptr[0]) == 0
        and int(arrays.indptr[-1]) == postings
    )


# The posting-sized arrays (and the bounds made from them): checking their values reads the
# whole index (a second and a gigabyte of resident memory at a million passages), so it is
# done only when a file is not the one this code saved (see `_stamps`).
_POSTING_ARRAYS = ("doc_ids", "tfs", "gains", "window_max", "fine_max")


def _within(values: NDArray[Any], low: int, high: int) -> bool:
    return values.size == 0 or (int(values.min()) >= low and int(values.max()) < high)


def _sound(arrays: _Arrays, n: int, v: int) -> bool:
    """The values of the term- and passage-sized arrays, not only their shapes: pointers
    that never run backwards, splits inside their lists, finite bounds. A damaged file would
    otherwise crash every question (a pointer past the end) or rank wrong (a NaN). The
    rows of block-max bounds (both levels) follow from the pointers, so they are checked
    whole."""
    a = arrays
    return (
        _within(a.doc_len, 0, 2**31)
        and np.array_equal(a.window_rows, _window_rows(a.indptr, a.windows))
        and a.window_max.size == int(np.count_nonzero(a.window_rows >= 0)) * a.windows
        and np.array_equal(a.fine_rows, _fine_rows(a.indptr, a.fine_windows))
        and a.fine_max.size == int(np.count_nonzero(a.fine_rows >= 0)) * a.fine_windows
        and bool(np.all(a.indptr[1:] >= a.indptr[:-1]))
        and bool(np.all((a.split >= a.indptr[:-1]) & (a.split <= a.indptr[1:])))
        and all(bool(np.isfinite(x).all()) for x in (a.idf, a.max_gain, a.max_low))
    )


def _sound_postings(arrays: _Arrays, n: int, v: int) -> bool:
    """The posting-sized arrays' values: passage ids in range, counts of at least one,
    finite gains, and block-max bounds (both levels) that are those gains' maxima (a bound
    too low would silently drop passages from the top k). One pass each."""
    a = arrays
    kernels = _kernels()
    return (
        _within(a.doc_ids, 0, n)
        and _within(a.tfs, 1, 2**32)
        and bool(np.isfinite(a.gains).all())
        and np.array_equal(
            a.window_max,
            kernels.window_maxima(
                a.indptr, a.doc_ids, a.gains, a.window_rows, a.window_passages, n
            ),
        )
        and np.array_equal(
            a.fine_max,
            kernels.fine_maxima(
                a.indptr, a.doc_ids, a.gains, a.fine_rows, a.max_gain, a.fine_passages, n
            ),
        )
    )


_SAMPLED_BLOCKS = 32
_BLOCK = 4096


def _stamps(folder: Path) -> dict[str, list[int | str]]:
    """Each posting-sized file's size, modification time and a digest of 32 blocks spread
    over it: cheap to read (128 KB a file), and a file rewritten since the save, even within
    the clock's resolution, almost surely differs in one of them."""
    stamps: dict[str, list[int | str]] = {}
    for name in _POSTING_ARRAYS:
        path = folder / f"{name}.npy"
        info = path.stat()
        digest = hashlib.blake2b(digest_size=16)
        with open(path, "rb") as f:
            for i in range(_SAMPLED_BLOCKS):
                f.seek(info.st_size * i // _SAMPLED_BLOCKS)
                digest.update(f.read(_BLOCK))
        stamps[name] = [info.st_size, info.st_mtime_ns, digest.hexdigest()]
    return stamps


def _remove_leftovers(folder: Path) -> None:
    """Temporary folders of saves that were killed midway: they only hold disk space."""
    for leftover in folder.parent.glob(f".{folder.name}.*-*"):
        shutil.rmtree(leftover, ignore_errors=True)


def _replace(path: Path, write: Callable[[BinaryIO], object]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        write(f)
    os.replace(tmp, path)
