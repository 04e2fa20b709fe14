"""Ranks passages for a question with BM25, off the event loop when called from async code.

The retriever is small and synchronous so it is easy to test and reason about; the async
wrapper only moves the CPU-bound scoring to a thread so chat heartbeats never wait for it.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from rank_bm25 import BM25L, BM25Okapi, BM25Plus

from bot.library.segmentation import Passage
from bot.retrieval.tokenize import Tokenizer

_ALPHABET = "abcdefghijklmnopqrstuvwxyz"


def _edits(word: str) -> set[str]:
    """Every string one deletion, transposition, substitution or insertion from `word`."""
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    deletes = {a + b[1:] for a, b in splits if b}
    transposes = {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
    replaces = {a + c + b[1:] for a, b in splits if b for c in _ALPHABET}
    inserts = {a + c + b for a, b in splits for c in _ALPHABET}
    return (deletes | transposes | replaces | inserts) - {word}


class EmptyLibraryError(Exception):
    """There is nothing to search: the library produced no passages."""


@dataclass(frozen=True)
class BM25Params:
    variant: str = "okapi"
    k1: float = 1.2
    b: float = 0.75


@dataclass(frozen=True)
class Hit:
    passage: Passage
    score: float
    rank: int


def _model(tokens: Sequence[Sequence[str]], params: BM25Params) -> BM25Okapi:
    corpus = [list(t) for t in tokens]
    if params.variant == "plus":
        return BM25Plus(corpus, k1=params.k1, b=params.b)
    if params.variant == "l":
        return BM25L(corpus, k1=params.k1, b=params.b)
    return BM25Okapi(corpus, k1=params.k1, b=params.b)


class Retriever:
    """BM25 over passages; `index_tokens[i]` are the indexed terms of `passages[i]`."""

    def __init__(
        self,
        passages: Sequence[Passage],
        index_tokens: Sequence[Sequence[str]],
        tokenizer: Tokenizer,
        params: BM25Params,
    ) -> None:
        if not passages:
            raise EmptyLibraryError("the library produced no passages")
        if len(passages) != len(index_tokens):
            raise ValueError("every passage needs its tokens")
        self.passages = list(passages)
        self.tokenizer = tokenizer
        self.params = params
        # Empty token lists would still count in the length average; keep a placeholder term.
        self._bm25 = _model([t or ["\x00"] for t in index_tokens], params)
        self._doc_freq: dict[str, int] = {}
        for terms in index_tokens:
            for term in set(terms):
                self._doc_freq[term] = self._doc_freq.get(term, 0) + 1
        self._n = len(self.passages)

    def weight(self, term: str) -> float:
        """How much a term tells passages apart: a positive idf, unlike BM25's floored one.

        Used to judge how much of a question a passage covers; unknown terms weigh most.
        """
        df = self._doc_freq.get(term, 0)
        return math.log(1 + (self._n - df + 0.5) / (df + 0.5))

    def known(self, term: str) -> bool:
        return term in self._doc_freq

    def query_terms(self, question: str) -> list[str]:
        """The question's terms, each unknown one replaced by the library's nearest term.

        Chat spelling ("kolontai") and short forms ("co-ops" for "cooperatives") then meet
        the text; a term with no near neighbour stays, and counts as unmatched.
        """
        return [term for _, term in self.query_pairs(question)]

    def query_pairs(self, question: str) -> list[tuple[str, str]]:
        """(word typed, term searched) pairs of a question, after spelling correction."""
        return [
            (word, term if self.known(term) else self._nearest_known(term) or term)
            for word, term in self.tokenizer.pairs(question)
        ]

    def _nearest_known(self, term: str) -> str | None:
        if len(term) < 4 or term.isdigit():
            return None
        candidates = self._terms_with_prefix(term)
        if not candidates and len(term) >= 5:
            candidates = [c for c in _edits(term) if c in self._doc_freq]
        if not candidates:
            return None
        return max(candidates, key=lambda c: (self._doc_freq[c], c))

    def _terms_with_prefix(self, prefix: str) -> list[str]:
        return [t for t in self._doc_freq if t.startswith(prefix) and len(t) <= len(prefix) + 4]

    def scores(self, terms: Sequence[str]) -> np.ndarray:
        return np.asarray(self._bm25.get_scores(list(terms)), dtype=float)

    def search_terms(self, terms: Sequence[str], k: int) -> list[Hit]:
        if k <= 0:
            raise ValueError("k must be positive")
        if not terms:
            return []
        scores = self.scores(terms)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        ordered = sorted(top.tolist(), key=lambda i: (-scores[i], i))
        return [Hit(self.passages[i], float(scores[i]), rank) for rank, i in enumerate(ordered)]

    def search(self, question: str, k: int) -> list[Hit]:
        """The `k` best passages for `question`, best first; no terms means no hits."""
        return self.search_terms(self.query_terms(question), k)

    async def asearch(self, question: str, k: int) -> list[Hit]:
        return await asyncio.to_thread(self.search, question, k)
