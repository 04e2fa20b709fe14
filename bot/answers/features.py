"""What the learned models see: numbers describing passages, sentences and whole answers.

Three small models decide an answer (see `learning.py`): which passages are relevant, which
sentence answers, and whether the library answers at all. Each reads one row of numbers per
item, built here. The names are stored with the fitted weights, so weights fitted for other
features are refused rather than misread. Without the semantic layer the embedding columns
are left out (and a model fitted without them is used).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TypeVar

import numpy as np
from numpy.typing import NDArray

from bot.answers.kinds import TYPED_KINDS, holds
from bot.answers.question import PreparedQuestion
from bot.library.loader import NOTES_SECTION
from bot.retrieval.candidates import Candidate

Matrix = NDArray[np.float64]
T = TypeVar("T")

PASSAGE_LEXICAL = ("bm25_relative", "bm25_first", "coverage", "coverage_with_previous")
PASSAGE_SEMANTIC = (
    "dense",
    "dense_relative",
    "best_sentence",
    "best_sentence_relative",
    "dense_previous",
)
SENTENCE_LEXICAL = (
    "passage_probability",
    "passage_rank",
    "coverage",
    "coverage_with_context",
    "coverage_with_previous",
    *(f"holds_{kind.value}" for kind in TYPED_KINDS),
    "first_in_passage",
    "log_words",
    "sentences",
    "in_notes",
)
SENTENCE_SEMANTIC = (
    "dense_best",
    "dense_gap",
    "dense_mean",
    "dense_before",
    "dense_after",
    "dense_quote",
    "dense_quote_gap",
)
DECISION_LEXICAL = (
    "passage_probability",
    "answer_share",
    "unknown_terms",
    "coverage_answer",
    "largest_missing_term",
    "kind_missing",
    "in_notes",
    "english_share",
)
DECISION_SEMANTIC = ("dense_answer", "dense_passage", "dense_answer_lift", "dense_passage_lift")
# How high BM25 scored the best passage, in words alone: in a question's own language only
# (a translated question scores near 0 however well the library answers it), so with the
# semantic layer, which serves other languages, the cosines take its place.
DECISION_WORDS_ONLY = ("log_bm25",)
# Which way each decision feature may push the probability that the library answers: what
# the feature means, stated, not fitted (0: either way).
DECISION_SIGNS = {
    "passage_probability": 1,
    "answer_share": 1,
    "unknown_terms": -1,
    "coverage_answer": 1,
    "largest_missing_term": -1,
    "kind_missing": -1,
    "in_notes": 0,
    "english_share": 0,
    "dense_answer": 1,
    "dense_passage": 1,
    "dense_answer_lift": 1,
    "dense_passage_lift": 1,
    "log_bm25": 1,
}


# Features whose values depend on the question being English: word matching, and raw
# cosines (a question in another language is less similar to everything English). For a
# question not in English they are scaled towards their mean by its English share (see
# `language.py`); cosines relative to the question's other candidates carry the rest.
LANGUAGE_BOUND = frozenset(
    {
        "bm25_relative",
        "bm25_first",
        "coverage",
        "coverage_with_context",
        "coverage_with_previous",
        "dense_previous",
        "unknown_terms",
        "coverage_answer",
        "largest_missing_term",
        "dense",
        "best_sentence",
        "dense_answer",
        "dense_passage",
    }
)


def gate(stage: str, semantic: bool, english: float) -> NDArray[np.float64]:
    """Per feature of `stage`: the question's English share for language-bound features,
    else 1. Only choosing (passages, quotes) is gated; deciding to answer is not: a question
    the words cannot confirm needs more from the rest, and the English share is one of the
    decision's own features."""
    names = feature_names(stage, semantic)
    if stage == "decision":
        return np.ones(len(names))
    return np.array([english if name in LANGUAGE_BOUND else 1.0 for name in names])


def feature_names(stage: str, semantic: bool) -> tuple[str, ...]:
    lexical, dense = {
        "passage": (PASSAGE_LEXICAL, PASSAGE_SEMANTIC),
        "sentence": (SENTENCE_LEXICAL, SENTENCE_SEMANTIC),
        "decision": (DECISION_LEXICAL, DECISION_SEMANTIC),
    }[stage]
    if semantic:
        return lexical + dense
    return lexical + DECISION_WORDS_ONLY if stage == "decision" else lexical


@dataclass(frozen=True)
class PassageTerms:
    """A passage's index terms: all of it as indexed (with section and title where those are
    indexed), its section heading, each sentence, and all of the passage before it in the
    same document (empty for a document's first)."""

    indexed: frozenset[str]
    section: frozenset[str]
    sentences: tuple[frozenset[str], ...]
    previous: frozenset[str] = frozenset()


def passage_terms_cache(compute: Callable[[int], T], size: int = 20_000) -> Callable[[int], T]:
    """Terms are computed once per passage and kept (a bounded cache for large libraries)."""
    return lru_cache(maxsize=size)(compute)


def _relative(values: Sequence[float]) -> NDArray[np.float64]:
    """Min-max normalised within one question's candidates (0 when all are equal)."""
    array = np.asarray(values, dtype=np.float64)
    if len(array) == 0:
        return array
    low, high = float(array.min()), float(array.max())
    return (array - low) / (high - low) if high > low else np.zeros_like(array)


def passage_features(
    question: PreparedQuestion,
    candidates: Sequence[Candidate],
    terms: Callable[[int], PassageTerms],
    semantic: bool,
) -> Matrix:
    bm25 = _relative([c.bm25 for c in candidates])
    columns: list[NDArray[np.float64] | list[float]] = [
        bm25,
        [float(c.bm25_rank == 0) for c in candidates],
        [question.coverage(terms(c.index).indexed) for c in candidates],
        [question.coverage(terms(c.index).indexed | terms(c.index).previous) for c in candidates],
    ]
    if semantic:
        best = [float(c.sentence_dense.max()) if len(c.sentence_dense) else 0.0 for c in candidates]
        dense = [c.dense for c in candidates]
        columns += [dense, _relative(dense), best, _relative(best)]
        columns.append([c.previous_dense for c in candidates])
    return np.column_stack(columns) if candidates else np.zeros((0, len(columns)))


@dataclass(frozen=True)
class Window:
    """A run of consecutive sentences of a shortlisted passage: a possible quote."""

    shortlist_rank: int
    candidate: Candidate
    start: int
    end: int  # exclusive

    @property
    def sentences(self) -> range:
        return range(self.start, self.end)

    @property
    def text(self) -> str:
        return " ".join(self.candidate.passage.sentences[self.start : self.end])

    def overlaps(self, other: Window) -> bool:
        return (
            self.candidate.index == other.candidate.index
            and self.start < other.end
            and other.start < self.end
        )


def windows(shortlist: Sequence[Candidate], longest: int) -> list[Window]:
    """Every run of 1 to `longest` consecutive sentences of the shortlisted passages."""
    return [
        Window(rank, candidate, start, start + length)
        for rank, candidate in enumerate(shortlist)
        for length in range(1, longest + 1)
        for start in range(len(candidate.passage.sentences) - length + 1)
    ]


def window_dense(window: Window) -> float:
    """The cosine of the question and the quote as a whole: its sentence, its pair of
    sentences, or (three sentences) the closer of its two pairs."""
    if window.end - window.start == 1:
        return float(window.candidate.sentence_dense[window.start])
    pairs = window.candidate.pair_dense[window.start : window.end - 1]
    return float(pairs.max()) if len(pairs) else 0.0


def window_features(
    question: PreparedQuestion,
    spans: Sequence[Window],
    passage_probability: Sequence[float],
    terms: Callable[[int], PassageTerms],
    semantic: bool,
) -> Matrix:
    """One row per window; `passage_probability` is by shortlist rank."""
    best_dense = max(
        (float(w.candidate.sentence_dense.max()) for w in spans if len(w.candidate.sentence_dense)),
        default=0.0,
    )
    quote_dense = [window_dense(w) for w in spans]
    best_quote = max(quote_dense, default=0.0)
    rows = []
    for window, quote in zip(spans, quote_dense, strict=True):
        passage_terms = terms(window.candidate.index)
        own: frozenset[str] = frozenset().union(
            *(passage_terms.sentences[i] for i in window.sentences)
        )
        before = passage_terms.sentences[window.start - 1] if window.start else frozenset()
        context = own | before | passage_terms.section
        text = window.text
        row = [
            passage_probability[window.shortlist_rank],
            float(window.shortlist_rank),
            question.coverage(own),
            question.coverage(context),
            question.coverage(context | passage_terms.previous),
            *(
                float(question.kind is kind and holds(kind, text, question.text))
                for kind in TYPED_KINDS
            ),
            float(window.start == 0),
            math.log(1 + len(text.split())),
            float(window.end - window.start),
            float(window.candidate.passage.section == NOTES_SECTION),
        ]
        if semantic:
            dense = window.candidate.sentence_dense
            inside = dense[window.start : window.end]
            row += [
                float(inside.max()),
                float(inside.max()) - best_dense,
                float(inside.mean()),
                float(dense[window.start - 1]) if window.start > 0 else 0.0,
                float(dense[window.end]) if window.end < len(dense) else 0.0,
                quote,
                quote - best_quote,
            ]
        rows.append(row)
    width = len(feature_names("sentence", semantic))
    return np.asarray(rows, dtype=np.float64) if rows else np.zeros((0, width))


def decision_features(
    question: PreparedQuestion,
    answer: Window,
    share: float,
    passage_probability: float,
    pool: Sequence[Candidate],
    terms: Callable[[int], PassageTerms],
    semantic: bool,
) -> Matrix:
    """One row describing a chosen answer: how sure the passage and sentence models are, how
    much of the question the library knows at all, and whether what was asked for is there.
    `share` is the sentence model's probability for the chosen window."""
    candidate = answer.candidate
    passage_terms = terms(candidate.index)
    held: set[str] = set(passage_terms.section)
    for i in answer.sentences:
        held |= passage_terms.sentences[i]
    total = question.total_weight or 1.0
    missing = [w for t, w in question.weights.items() if t not in held]
    kind_missing = question.kind in TYPED_KINDS and not holds(
        question.kind, answer.text, question.text
    )
    row = [
        passage_probability,
        share,
        question.unknown_share(),
        question.coverage(held),
        max(missing, default=0.0) / total,
        float(kind_missing),
        float(candidate.passage.section == NOTES_SECTION),
        question.english,
    ]
    if semantic:
        best = window_dense(answer)
        sentences = np.concatenate([c.sentence_dense for c in pool])
        passages = np.array([c.dense for c in pool])
        row += [
            best,
            candidate.dense,
            best - float(sentences.mean()),
            candidate.dense - float(passages.mean()),
        ]
    else:
        row.append(math.log1p(max(max((c.bm25 for c in pool), default=0.0), 0.0)))
    return np.asarray([row], dtype=np.float64)
