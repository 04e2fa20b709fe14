"""The inner loops of `PostingsBM25.top_k` (and three of its build), compiled with numba.

A question touches a few posting lists; walking them is thousands of small steps that cost
microseconds each as numpy calls and nanoseconds compiled. Three kernels:

- `window_bounds` sums, for every window of `width` consecutive passages, the most each
  query term can add there (block-max bounds over passage-id windows: read from the index
  for long lists, gathered from the postings for short ones).
- `maxscore` walks the lists passage by passage (document-at-a-time MaxScore): lists are
  ordered by the most they can add; once the k-th best sum is known, the lists whose bounds
  together cannot reach it only look up the passages the others propose, and windows whose
  bound cannot reach it are jumped over whole. Inside a window that can, the common terms'
  bounds over its finer windows (a second level, summed only for the windows the walk
  enters) let it jump over parts of it. It returns every passage whose float32 gain sum
  comes within a margin of the k-th best, so rounding can never drop one that belongs in
  the exact top k.
- `exact` computes those passages' scores as rank-bm25 does, term by term in query order,
  with the same float64 operations, each count found by binary search in the term's list.

Compiled functions are cached on disk (`cache=True`), so only the first run on a machine
pays for compilation; `nogil` lets a thread pool serve several questions at once.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from numba import njit

OKAPI, PLUS, L = 0, 1, 2
_NONE = np.int64(2**62)
# Fine bounds are stored as multiples of 1/255 of the term's largest gain, rounded up.
QUANTA = 255


class FineBounds(NamedTuple):
    """The second level of block-max bounds for one question.

    Fine window `f` (passages `[f * width, (f + 1) * width)`) of a query term with a row is
    bounded by `scale[t] * values[base[t] + f]` (its quantized largest gain there, weighted);
    the question's other terms add `rest[w]`, their bound over the whole window `w` that
    holds `f`. `windows` is how many fine windows the passages fill.
    """

    base: Any
    scale: Any
    rest: Any
    values: Any
    width: int
    windows: int


@njit(cache=True, nogil=True)  # type: ignore[untyped-decorator]
def _fine_sums(fine: FineBounds, window: int, ratio: int, out: Any) -> None:
    """The bounds of the fine windows inside window `window`, into `out[:ratio]`."""
    first = window * ratio
    count = min(ratio, fine.windows - first)
    for j in range(ratio):
        out[j] = fine.rest[window]
    for t in range(len(fine.base)):
        at = fine.base[t] + first
        for j in range(count):
            out[j] += fine.scale[t] * fine.values[at + j]


@njit(cache=True, nogil=True)  # type: ignore[untyped-decorator]
def _lower_bound(values: Any, start: int, end: int, target: int) -> int:
    """The first position in `values[start:end]` (sorted) holding `target` or more: a
    galloping search from `start`, since the cursor usually moves a little."""
    step = 1
    low = start
    high = start
    while high < end and values[high] < target:
        low = high + 1
        high = start + step
        step *= 2
    if high > end:
        high = end
    while low < high:
        mid = (low + high) // 2
        if values[mid] < target:
            low = mid + 1
        else:
            high = mid
    return low


@njit(cache=True, nogil=True)  # type: ignore[untyped-decorator]
def _sift_down(heap: Any, size: int) -> None:
    i = 0
    while True:
        left = 2 * i + 1
        if left >= size:
            return
        smallest = left
        if left + 1 < size and heap[left + 1] < heap[left]:
            smallest = left + 1
        if heap[i] <= heap[smallest]:
            return
        heap[i], heap[smallest] = heap[smallest], heap[i]
        i = smallest


@njit(cache=True, nogil=True)  # type: ignore[untyped-decorator]
def _sift_up(heap: Any, at: int) -> None:
    while at > 0:
        parent = (at - 1) // 2
        if heap[parent] <= heap[at]:
            return
        heap[parent], heap[at] = heap[at], heap[parent]
        at = parent


@njit(cache=True, nogil=True)  # type: ignore[untyped-decorator]
def maxscore(
    doc_ids: Any,
    gains: Any,
    starts: Any,
    ends: Any,
    bounds: Any,
    weights: Any,
    k: int,
    slack: float,
    passages: int,
    upper: Any,
    width: int,
    fine: Any,
    dense: float,
) -> tuple[Any, Any]:
    """Passages whose gain sum is within the margin of the k-th best, with their sums.

    Lists `i` are `doc_ids[starts[i]:ends[i]]` (passage-ordered) with gains weighted by
    `weights[i]` (how often the question has the term) and bounded by `bounds[i]` (already
    weighted), sorted by bound ascending. The margin is `slack * max(1, |theta|)` below the
    running k-th best sum `theta`. `upper[w]` bounds the sum of any passage in window `w`
    (passages `[w * width, (w + 1) * width)`): windows below the margin are skipped.

    `fine` (a `FineBounds`) bounds the finer windows inside a window that is not skipped;
    they are summed and consulted only while the lists still to walk hold more than `dense`
    postings a window: a sparser walk meets a window's passages too rarely for summing its
    fine bounds (a cache miss a common term) to pay.
    """
    lists = len(starts)
    pos = starts.copy()
    reach = np.empty(lists)  # reach[i]: the most lists 0..i together can add
    total = 0.0
    for i in range(lists):
        total += bounds[i]
        reach[i] = total
    heap = np.empty(k)
    filled = 0
    theta = -np.inf
    floor = -np.inf  # theta minus the margin: what a passage must reach to be kept
    first = 0  # lists [0, first) are looked up only for passages the others propose
    capacity = 1024
    found_ids = np.empty(capacity, dtype=np.int32)
    found_sums = np.empty(capacity)
    found = 0
    ratio = width // fine.width
    inside = np.empty(ratio)  # the fine bounds of window `inside_of`
    inside_of = -1
    use_fine = False
    judged_at = -1  # the `first` for which `use_fine` was decided
    while True:
        doc = _NONE
        for i in range(first, lists):
            if pos[i] < ends[i] and doc_ids[pos[i]] < doc:
                doc = doc_ids[pos[i]]
        if doc == _NONE:
            break
        window = doc // width
        if 0 <= window < len(upper) and upper[window] < floor:
            window += 1  # nothing here can reach the k best: on to the next window that can
            while window < len(upper) and upper[window] < floor:
                window += 1
            if window == len(upper):
                break
            for i in range(first, lists):
                pos[i] = _lower_bound(doc_ids, pos[i], ends[i], window * width)
            continue
        if doc < 0 or doc >= passages:  # a damaged file: skip, never read past the arrays
            for i in range(first, lists):
                if pos[i] < ends[i] and doc_ids[pos[i]] == doc:
                    pos[i] += 1
            continue
        if first != judged_at and filled == k and len(fine.base) > 0:
            judged_at = first
            left = 0
            for i in range(first, lists):
                left += ends[i] - pos[i]
            use_fine = left > dense * len(upper)
        if use_fine:
            if inside_of != window:
                inside_of = int(window)
                _fine_sums(fine, window, ratio, inside)
            at = doc // fine.width - window * ratio
            if inside[at] < floor:
                at += 1
                while at < ratio and inside[at] < floor:
                    at += 1
                target = window * width + at * fine.width  # the next live fine window, or
                for i in range(first, lists):  # the next window (judged as above)
                    pos[i] = _lower_bound(doc_ids, pos[i], ends[i], target)
                continue
        score = 0.0
        for i in range(first, lists):
            if pos[i] < ends[i] and doc_ids[pos[i]] == doc:
                score += weights[i] * gains[pos[i]]
                pos[i] += 1
        keep = True
        for j in range(first - 1, -1, -1):
            if score + reach[j] < floor:
                keep = False
                break
            pos[j] = _lower_bound(doc_ids, pos[j], ends[j], doc)
            if pos[j] < ends[j] and doc_ids[pos[j]] == doc:
                score += weights[j] * gains[pos[j]]
        if not keep or score < floor:
            continue
        if found == capacity:
            capacity *= 2
            grown_ids = np.empty(capacity, dtype=np.int32)
            grown_sums = np.empty(capacity)
            grown_ids[:found] = found_ids[:found]
            grown_sums[:found] = found_sums[:found]
            found_ids, found_sums = grown_ids, grown_sums
        found_ids[found] = doc
        found_sums[found] = score
        found += 1
        if filled < k:
            heap[filled] = score
            _sift_up(heap, filled)
            filled += 1
        elif score > heap[0]:
            heap[0] = score
            _sift_down(heap, k)
        if filled == k and heap[0] > theta:
            theta = heap[0]
            floor = theta - slack * max(1.0, abs(theta))
            while first < lists and reach[first] < floor:
                first += 1
    keep_ids = found_ids[:found]
    keep_sums = found_sums[:found]
    if filled == k:
        mask = keep_sums >= floor
        return keep_ids[mask], keep_sums[mask]
    return keep_ids, keep_sums


@njit(cache=True, nogil=True)  # type: ignore[untyped-decorator]
def _count(indptr: Any, split: Any, doc_ids: Any, tfs: Any, row: int, doc: int) -> float:
    """How often passage `doc` holds term `row`: a binary search in each of its two runs."""
    for start, end in ((indptr[row], split[row]), (split[row], indptr[row + 1])):
        at = _lower_bound(doc_ids, start, end, doc)
        if at < end and doc_ids[at] == doc:
            return float(tfs[at])
    return 0.0


@njit(cache=True, nogil=True)  # type: ignore[untyped-decorator]
def exact(
    ids: Any,
    query_rows: Any,
    idf: Any,
    indptr: Any,
    split: Any,
    doc_ids: Any,
    tfs: Any,
    norm: Any,
    k1norm: Any,
    variant: int,
    k1: float,
    delta: float,
) -> Any:
    """rank-bm25's score of passages `ids` for a query (rows in query order, repeats
    included, -1 for a word no passage has), operation for operation."""
    scores = np.zeros(len(ids))
    passages = len(norm)
    for n in range(len(ids)):
        doc = ids[n]
        if doc < 0 or doc >= passages:  # a damaged file: never read past the arrays
            scores[n] = -np.inf
            continue
        score = 0.0
        for q in range(len(query_rows)):
            row = query_rows[q]
            if row < 0:
                continue  # rank-bm25 adds idf 0 times anything
            tf = _count(indptr, split, doc_ids, tfs, row, doc)
            if variant == OKAPI:
                score += idf[row] * (tf * (k1 + 1) / (tf + k1norm[doc]))
            elif variant == PLUS:
                score += idf[row] * (delta + (tf * (k1 + 1)) / (k1norm[doc] + tf))
            else:
                ctd = tf / norm[doc]
                score += idf[row] * tf * (k1 + 1) * (ctd + delta) / (k1 + ctd + delta)
        scores[n] = score
    return scores


@njit(cache=True, nogil=True)  # type: ignore[untyped-decorator]
def _runs(
    rows: Any, weights: Any, indptr: Any, split: Any, max_gain: Any, max_low: Any
) -> tuple[Any, Any, Any, Any]:
    """Each query term's one or two passage-ordered runs with what each can add at most,
    least first (the order MaxScore wants)."""
    count = 0
    for r in rows:
        count += (1 if split[r] > indptr[r] else 0) + (1 if indptr[r + 1] > split[r] else 0)
    starts = np.empty(count, dtype=np.int64)
    ends = np.empty(count, dtype=np.int64)
    bounds = np.empty(count)
    scale = np.empty(count)
    at = 0
    for i in range(len(rows)):
        r = rows[i]
        if split[r] > indptr[r]:
            starts[at], ends[at], bounds[at], scale[at] = (
                indptr[r],
                split[r],
                weights[i] * max_gain[r],
                weights[i],
            )
            at += 1
        if indptr[r + 1] > split[r]:
            starts[at], ends[at], bounds[at], scale[at] = (
                split[r],
                indptr[r + 1],
                weights[i] * max_low[r],
                weights[i],
            )
            at += 1
    order = np.argsort(bounds, kind="mergesort")
    return starts[order], ends[order], bounds[order], scale[order]


@njit(cache=True, nogil=True)  # type: ignore[untyped-decorator]
def window_bounds(
    rows: Any,
    weights: Any,
    indptr: Any,
    doc_ids: Any,
    gains: Any,
    window_rows: Any,
    window_max: Any,
    width: int,
    passages: int,
    fine_rows: Any,
) -> tuple[Any, Any]:
    """The most a passage of each window can gain from the query: the sum over its terms
    of their largest gain in that window (weighted). A term with a row in `window_max` reads
    it; a shorter one (fewer postings than windows) is gathered from its postings. Also the
    part of each sum from the terms without fine bounds (`fine_rows` -1), which bounds
    their share of every fine window inside."""
    windows = (passages + width - 1) // width
    upper = np.zeros(windows)
    rest = np.zeros(windows)
    largest = np.zeros(windows, dtype=np.float32)
    for i in range(len(rows)):
        row, weight = rows[i], weights[i]
        coarse_only = fine_rows[row] < 0
        if window_rows[row] >= 0:
            base = window_rows[row] * windows
            for w in range(windows):
                upper[w] += weight * window_max[base + w]
            if coarse_only:
                for w in range(windows):
                    rest[w] += weight * window_max[base + w]
            continue
        for at in range(indptr[row], indptr[row + 1]):
            if 0 <= doc_ids[at] < passages:
                w = doc_ids[at] // width
                largest[w] = max(largest[w], gains[at])
        for at in range(indptr[row], indptr[row + 1]):
            if 0 <= doc_ids[at] < passages:
                w = doc_ids[at] // width
                upper[w] += weight * largest[w]  # once per window: then it is zero
                if coarse_only:
                    rest[w] += weight * largest[w]
                largest[w] = 0.0
    return upper, rest


@njit(cache=True, nogil=True)  # type: ignore[untyped-decorator]
def group(rows: Any, lengths: Any, first: int, terms: int) -> tuple[Any, Any, Any]:
    """(term, passage, tf) of a run of passages whose tokens have term rows `rows`, in
    (term, passage) order: a counting sort by term that keeps passage order (so a term's
    repeats in a passage lie together), then one pass counting them."""
    starts = np.zeros(terms + 1, dtype=np.int64)
    for row in rows:
        starts[row + 1] += 1
    for t in range(terms):
        starts[t + 1] += starts[t]
    at = starts[:-1].copy()
    docs = np.empty(len(rows), dtype=np.int32)
    token = 0
    for passage in range(len(lengths)):
        for _ in range(lengths[passage]):
            row = rows[token]
            docs[at[row]] = passage
            at[row] += 1
            token += 1
    out_terms = np.empty(len(rows), dtype=np.int32)
    out_docs = np.empty(len(rows), dtype=np.int32)
    out_tfs = np.empty(len(rows), dtype=np.uint32)
    pairs = 0
    for t in range(terms):
        for i in range(starts[t], starts[t + 1]):
            if i > starts[t] and docs[i] == docs[i - 1]:
                out_tfs[pairs - 1] += 1
            else:
                out_terms[pairs] = t
                out_docs[pairs] = docs[i] + first
                out_tfs[pairs] = 1
                pairs += 1
    return out_terms[:pairs].copy(), out_docs[:pairs].copy(), out_tfs[:pairs].copy()


@njit(cache=True, nogil=True)  # type: ignore[untyped-decorator]
def scatter(terms: Any, docs: Any, tfs: Any, running: Any, doc_ids: Any, all_tfs: Any) -> None:
    """Place a chunk's (term, passage, tf) triples at each term's running end."""
    for i in range(len(terms)):
        at = running[terms[i]]
        doc_ids[at] = docs[i]
        all_tfs[at] = tfs[i]
        running[terms[i]] = at + 1


@njit(cache=True, nogil=True)  # type: ignore[untyped-decorator]
def _stored_rows(rows: Any) -> int:
    """How many rows of bounds a numbering (-1: none) asks for."""
    stored = 0
    for row in range(len(rows)):
        stored = max(stored, rows[row] + 1)
    return stored


@njit(cache=True, nogil=True)  # type: ignore[untyped-decorator]
def window_maxima(
    indptr: Any, doc_ids: Any, gains: Any, window_rows: Any, width: int, passages: int
) -> Any:
    """Each long term's largest gain in each window of `width` passages (0 where it is
    absent), rows as `window_rows` numbers them; the saved block-max bounds."""
    windows = (passages + width - 1) // width
    window_max = np.zeros(_stored_rows(window_rows) * windows, dtype=np.float32)
    for row in range(len(window_rows)):
        if window_rows[row] < 0:
            continue
        base = window_rows[row] * windows
        for at in range(indptr[row], indptr[row + 1]):
            if 0 <= doc_ids[at] < passages:  # checked before, but never write out of bounds
                w = base + doc_ids[at] // width
                window_max[w] = max(window_max[w], gains[at])
    return window_max


@njit(cache=True, nogil=True)  # type: ignore[untyped-decorator]
def fine_maxima(
    indptr: Any,
    doc_ids: Any,
    gains: Any,
    fine_rows: Any,
    max_gain: Any,
    width: int,
    passages: int,
) -> Any:
    """Each common term's largest gain in each fine window of `width` passages, as the
    smallest multiple of 1/255 of its largest gain that is not below it (0 where it is
    absent): a byte a window, so fine windows cost a quarter of float32 bounds."""
    windows = (passages + width - 1) // width
    values = np.zeros(_stored_rows(fine_rows) * windows, dtype=np.uint8)
    for row in range(len(fine_rows)):
        if fine_rows[row] < 0:
            continue
        base = fine_rows[row] * windows
        step = max_gain[row] / QUANTA
        for at in range(indptr[row], indptr[row + 1]):
            if not 0 <= doc_ids[at] < passages:  # checked before, but never write out of bounds
                continue
            gain = np.float64(gains[at])
            q = QUANTA
            if step > 0 and gain < max_gain[row]:  # the largest gain itself takes all 255
                q = max(0, min(QUANTA, int(np.ceil(gain / step))))
                while q < QUANTA and q * step < gain:
                    q += 1
            w = base + doc_ids[at] // width
            values[w] = max(values[w], q)
    return values


@njit(cache=True, nogil=True)  # type: ignore[untyped-decorator]
def search(
    rows: Any,
    weights: Any,
    query_rows: Any,
    k: int,
    slack: float,
    indptr: Any,
    split: Any,
    max_gain: Any,
    max_low: Any,
    doc_ids: Any,
    tfs: Any,
    gains: Any,
    idf: Any,
    norm: Any,
    k1norm: Any,
    variant: int,
    k1: float,
    delta: float,
    window_rows: Any,
    window_max: Any,
    width: int,
    fine_rows: Any,
    fine_max: Any,
    fine_width: int,
    dense: float,
) -> tuple[Any, Any, int]:
    """The top k (ids, exact scores), best first, ties to the lower id, and how many
    passages matched at all (fewer than k: the caller fills in the rest)."""
    passages = len(norm)
    starts, ends, bounds, scale = _runs(rows, weights, indptr, split, max_gain, max_low)
    upper, rest = window_bounds(
        rows, weights, indptr, doc_ids, gains, window_rows, window_max, width, passages, fine_rows
    )
    fine_windows = (passages + fine_width - 1) // fine_width
    common = 0
    for row in rows:
        common += 1 if fine_rows[row] >= 0 else 0
    base = np.empty(common, dtype=np.int64)
    step = np.empty(common)
    common = 0
    for i in range(len(rows)):
        if fine_rows[rows[i]] >= 0:
            base[common] = fine_rows[rows[i]] * fine_windows
            step[common] = weights[i] * max_gain[rows[i]] / QUANTA
            common += 1
    fine = FineBounds(base, step, rest, fine_max, fine_width, fine_windows)
    ids, _ = maxscore(
        doc_ids, gains, starts, ends, bounds, scale, k, slack, passages, upper, width, fine, dense
    )
    scores = exact(
        ids, query_rows, idf, indptr, split, doc_ids, tfs, norm, k1norm, variant, k1, delta
    )
    order = np.argsort(-scores, kind="mergesort")[:k]  # ids ascend, so ties keep id order
    return ids[order], scores[order], len(ids)
