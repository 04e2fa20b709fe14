"""rank-bm25 itself, serving small libraries, where it is as fast as any index.

Above a few thousand passages its per-question cost grows with the library (it scores every
passage in Python), and `PostingsBM25`, which computes the same scores from an inverted
index, takes over (see `choose_engine`).
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np
from numpy.typing import NDArray
from rank_bm25 import BM25L, BM25Okapi, BM25Plus

from bot.retrieval.fast_bm25 import Variant

_CLASSES = {"okapi": BM25Okapi, "plus": BM25Plus, "l": BM25L}


class RankBM25:
    """BM25 by rank-bm25 over tokenized passages, with the engine interface the retriever uses."""

    def __init__(
        self,
        corpus: Iterable[Sequence[str]],
        variant: Variant = "okapi",
        k1: float = 1.5,
        b: float = 0.75,
    ) -> None:
        documents = [list(tokens) for tokens in corpus]
        if not documents:
            raise ValueError("rank-bm25 needs at least one passage")
        # Never pass `tokenizer=`: rank-bm25 would start a process pool it never closes.
        self._bm25 = _CLASSES[variant](documents, k1=k1, b=b)
        self._last: tuple[tuple[str, ...], NDArray[np.float64]] | None = None
        self._df: Counter[str] = Counter()
        for frequencies in self._bm25.doc_freqs:
            self._df.update(frequencies.keys())
        self._n = len(documents)
        self._sorted = sorted(self._df)

    def __len__(self) -> int:
        return self._n

    def document_frequency(self, term: str) -> int:
        return self._df.get(term, 0)

    def terms(self) -> list[str]:
        return self._sorted

    def terms_starting_with(self, prefix: str, limit: int) -> list[str] | None:
        """The terms that begin with `prefix`, sorted; None when more than `limit`."""
        start = bisect.bisect_left(self._sorted, prefix)
        end = bisect.bisect_left(self._sorted, prefix + "\U0010ffff", lo=start)
        return None if end - start > limit else self._sorted[start:end]

    def longest_term(self) -> int:
        return max(map(len, self._sorted), default=0)

    def scores(self, query_tokens: Sequence[str]) -> NDArray[np.float64]:
        """rank-bm25's `get_scores`, the definition of the score (read-only).

        The last question's scores are kept: an answer asks for them twice (BM25's best
        passages, then the scores of the embedding's own candidates), and each call is a pass
        over every passage in Python. One (question, scores) pair, swapped in whole, so
        threads asking at once at worst compute it again."""
        key = tuple(query_tokens)
        last = self._last
        if last is not None and last[0] == key:
            return last[1]
        score = np.asarray(self._bm25.get_scores(list(key)), dtype=np.float64)
        score.flags.writeable = False
        self._last = (key, score)
        return score

    def top_k(self, query_tokens: Sequence[str], k: int) -> list[tuple[int, float]]:
        """The `k` best (passage id, score) pairs, best first, ties to the lower id."""
        if k <= 0:
            raise ValueError("k must be positive")
        if not query_tokens:
            return []
        score = self.scores(query_tokens)
        order = np.lexsort((np.arange(self._n), -score))[:k]
        return [(int(i), float(score[i])) for i in order]
