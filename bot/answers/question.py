"""A question, prepared once: its terms, their weights, its kind and its vector.

Retrieval, sentence choice and the decision to answer all read the same prepared question,
so a question is tokenised, spell-corrected and embedded exactly once.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

import numpy as np

from bot.answers.kinds import Kind, question_kind
from bot.answers.language import english_share
from bot.retrieval.retriever import Retriever
from bot.retrieval.specificity import specificity
from bot.semantic.encoder import Encoder, Vectors


@dataclass(frozen=True)
class PreparedQuestion:
    """`weights`: each distinct term's rarity in the library times its word's rarity in
    everyday English ("kronstadt" counts more than "wrote"); `vector` is None without the
    semantic layer."""

    text: str
    terms: tuple[str, ...]
    weights: Mapping[str, float]
    specificity: Mapping[str, float]
    unknown: frozenset[str]
    kind: Kind
    vector: Vectors | None
    english: float = 1.0  # share of the question's words that are not another language's

    @property
    def total_weight(self) -> float:
        return sum(self.weights.values())

    def coverage(self, terms: Collection[str]) -> float:
        """The share of the question's weight that `terms` hold."""
        total = self.total_weight
        if total <= 0:
            return 0.0
        return sum(w for t, w in self.weights.items() if t in terms) / total

    def unknown_share(self) -> float:
        """How much of the question (by everyday-English rarity) the library never mentions."""
        total = sum(self.specificity.values())
        if total <= 0:
            return 0.0
        return sum(s for t, s in self.specificity.items() if t in self.unknown) / total


def prepare(question: str, retriever: Retriever, encoder: Encoder | None) -> PreparedQuestion:
    pairs = retriever.query_pairs(question)
    weights: dict[str, float] = {}
    rarity: dict[str, float] = {}
    for word, term in pairs:
        if term not in weights:
            rarity[term] = specificity(word)
            weights[term] = retriever.weight(term) * rarity[term]
    vector = None
    if encoder is not None and question.strip():
        vector = np.asarray(encoder.queries([question])[0], dtype=np.float32)
    return PreparedQuestion(
        text=question,
        terms=tuple(term for _, term in pairs),
        weights=weights,
        specificity=rarity,
        unknown=frozenset(t for t in weights if not retriever.known(t)),
        kind=question_kind(question),
        vector=vector,
        english=english_share(question),
    )
