"""Ranks passages for a question with BM25.

The score is rank-bm25's (the differential tests pin it): rank-bm25 itself for a small
library, `PostingsBM25` (an inverted index, so a question touches only the passages that
contain its terms) for a large one. The retriever is small and synchronous, so it is easy to
test and reason about; the engine's async wrappers run it in a thread, so chat heartbeats
never wait for it.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Literal, Protocol

import numpy as np
from numpy.typing import NDArray

from bot.library.segmentation import Passage
from bot.retrieval.fast_bm25 import PostingsBM25, Progress
from bot.retrieval.rank_engine import RankBM25
from bot.retrieval.tokenize import Tokenizer

# Up to this many passages rank-bm25 itself ranks them. It scores every passage in Python,
# so its cost grows with the library: on this project's 2-core machine
# (benchmarks/bench_engines.py, 2026-12-07) p99 was 1.6 ms at 300 passages, 4.7 ms at
# 1,000, 9.6 ms at 2,000 and 36 ms at 5,000, against under 1.1 ms for the postings index
# at every size. Up to 1,000 it stays within a tenth of the 50 ms answer budget.
RANK_BM25_MAX_PASSAGES = 1_000

EngineName = Literal["auto", "rank-bm25", "postings"]


class BM25Engine(Protocol):
    """What the retriever needs of a BM25 index; rank-bm25's scores either way."""

    def __len__(self) -> int: ...

    def document_frequency(self, term: str) -> int: ...

    def terms(self) -> list[str]: ...

    def terms_starting_with(self, prefix: str, limit: int) -> list[str] | None: ...

    def longest_term(self) -> int: ...

    def scores(self, query_tokens: Sequence[str]) -> NDArray[np.float64]: ...

    def top_k(self, query_tokens: Sequence[str], k: int) -> list[tuple[int, float]]: ...


def choose_engine(wanted: EngineName, passages: int) -> Literal["rank-bm25", "postings"]:
    if wanted != "auto":
        return wanted
    return "rank-bm25" if passages <= RANK_BM25_MAX_PASSAGES else "postings"


_ALPHABET = "abcdefghijklmnopqrstuvwxyz"

# Spelling correction looks at a word's one-edit variants, about 54 per letter, each as long
# as the word: the work grows with the square of its length (a 4,000-letter "word" took
# 1.7 GB and 23 s). Library terms are short (the bundled library's longest has 20 letters)
# and one edit changes a length by one at most, so a term longer than the library's longest
# plus one has no neighbour to find; beyond this many letters none is looked for at all.
MAX_CORRECTED_CHARS = 32
# Candidate spellings (one-edit variants, and terms scanned for a prefix) one question may
# look at. The bundled evaluation questions need at most about 5,000 (a 126-character
# question in Russian, every word unknown); 20,000 is some 20 ms on a 2-core machine
# (benchmarks/bench_spelling.py). Words past the budget are searched as typed.
CANDIDATES_PER_QUESTION = 20_000


def edit_count(length: int) -> int:
    """How many variants `_edits` builds for a word of `length` letters, repeats included.

    Deletions, transpositions, substitutions and insertions: n + (n - 1) + 26n + 26(n + 1).
    """
    return 54 * length + 25


@dataclass
class CorrectionBudget:
    """What is left of one question's candidate spellings; it bounds work, not words."""

    left: int = CANDIDATES_PER_QUESTION

    def take(self, candidates: int) -> bool:
        """Spend `candidates` if that many are left; otherwise spend nothing and say no."""
        if candidates > self.left:
            return False
        self.left -= candidates
        return True


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
    variant: Literal["okapi", "plus", "l"] = "okapi"
    k1: float = 1.2
    b: float = 0.75


@dataclass(frozen=True)
class Hit:
    passage: Passage
    score: float
    rank: int
    index: int = -1  # the passage's position in the library (the index's order)


def build_bm25(
    tokens: Iterable[Sequence[str]],
    params: BM25Params,
    progress: Progress | None = None,
    engine: Literal["rank-bm25", "postings"] = "postings",
) -> BM25Engine:
    """The BM25 index of tokenized passages; an empty passage keeps a placeholder term.

    `tokens` may be a generator, so a large library's terms are never all held at once.
    """
    passages = iter(tokens)
    first = next(passages, None)
    if first is None:
        raise EmptyLibraryError("the library produced no passages")
    corpus = (t or ["\x00"] for t in itertools.chain([first], passages))
    if engine == "rank-bm25":
        return RankBM25(corpus, variant=params.variant, k1=params.k1, b=params.b)
    return PostingsBM25(corpus, variant=params.variant, k1=params.k1, b=params.b, progress=progress)


class Retriever:
    """BM25 over passages; `bm25` was built from the passages' indexed terms, in order."""

    def __init__(self, passages: Sequence[Passage], bm25: BM25Engine, tokenizer: Tokenizer) -> None:
        if not passages:
            raise EmptyLibraryError("the library produced no passages")
        if len(passages) != len(bm25):
            raise ValueError("the index was built for other passages")
        self.passages = list(passages)
        self.tokenizer = tokenizer
        self._bm25 = bm25
        self._n = len(self.passages)

    def weight(self, term: str) -> float:
        """How much a term tells passages apart: a positive idf, unlike BM25's floored one.

        Used to judge how much of a question a passage covers; unknown terms weigh most.
        """
        df = self._bm25.document_frequency(term)
        return math.log(1 + (self._n - df + 0.5) / (df + 0.5))

    def known(self, term: str) -> bool:
        return self._bm25.document_frequency(term) > 0

    def query_terms(self, question: str) -> list[str]:
        """The question's terms, each unknown one replaced by the library's nearest term.

        Chat spelling ("kolontai") and short forms ("co-ops" for "cooperatives") then meet
        the text; a term with no near neighbour stays, and counts as unmatched.
        """
        return [term for _, term in self.query_pairs(question)]

    def query_pairs(
        self, question: str, budget: CorrectionBudget | None = None
    ) -> list[tuple[str, str]]:
        """(word typed, term searched) pairs of a question, after spelling correction.

        A question's correction shares one `budget` (a fresh one unless given), so however
        long the question, its spelling costs a bounded amount of work.
        """
        budget = budget if budget is not None else CorrectionBudget()
        searched: dict[str, str] = {}
        pairs = []
        for word, term in self.tokenizer.pairs(question):
            if term not in searched:
                nearest = None if self.known(term) else self._nearest_known(term, budget)
                searched[term] = nearest or term
            pairs.append((word, searched[term]))
        return pairs

    @cached_property
    def _longest_correctable(self) -> int:
        """The longest term that may have a known neighbour one edit (or a suffix) away."""
        return min(self._bm25.longest_term() + 1, MAX_CORRECTED_CHARS)

    def _nearest_known(self, term: str, budget: CorrectionBudget) -> str | None:
        if len(term) < 4 or term.isdigit() or len(term) > self._longest_correctable:
            return None
        candidates = self._terms_with_prefix(term, budget)
        if not candidates and len(term) >= 5 and budget.take(edit_count(len(term))):
            candidates = [c for c in _edits(term) if self.known(c)]
        if not candidates:
            return None
        return max(candidates, key=lambda c: (self._bm25.document_frequency(c), c))

    def _terms_with_prefix(self, prefix: str, budget: CorrectionBudget) -> list[str]:
        terms = self._bm25.terms_starting_with(prefix, budget.left)
        if terms is None or not budget.take(len(terms)):
            return []
        return [term for term in terms if len(term) <= len(prefix) + 4]

    def search_terms(self, terms: Sequence[str], k: int) -> list[Hit]:
        if k <= 0:
            raise ValueError("k must be positive")
        if not any(self.known(t) for t in terms):
            return []
        return [
            Hit(self.passages[i], score, rank, i)
            for rank, (i, score) in enumerate(self._bm25.top_k(list(terms), k))
        ]

    def scores_of(self, terms: Sequence[str], indexes: Sequence[int]) -> list[float]:
        """The BM25 scores of given passages (by library position); O(passages)."""
        if not indexes:
            return []
        every = self._bm25.scores(list(terms))
        return [float(every[i]) for i in indexes]

    @property
    def engine_name(self) -> str:
        return "rank-bm25" if isinstance(self._bm25, RankBM25) else "postings"

    def search(self, question: str, k: int) -> list[Hit]:
        """The `k` best passages for `question`, best first; no known terms means no hits."""
        return self.search_terms(self.query_terms(question), k)
