"""Turns a question into an answer made only of the library's own sentences, or a decline.

The bot never writes prose of its own. Three fitted models (see `learning.py`) decide: which
of the retrieved passages are relevant, which of their sentences answers, and whether the
library answers at all; a best quote that lacks the kind of thing asked for (no name for a
"who", no date for a "when") is declined whatever the models say. A quote is a run of
consecutive sentences (up to two in a brief answer, three in a detailed one): the sentence
model weighs runs, since the sentence that names the subject is often not the one that
holds the answer. When the model is unsure of its best run, the next best is quoted after
it, each cited on its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from bot.answers.features import (
    PassageTerms,
    Window,
    decision_features,
    gate,
    passage_features,
    passage_terms_cache,
    window_features,
    windows,
)
from bot.answers.kinds import lacks
from bot.answers.learning import AnswerModel, Standardised
from bot.answers.model import (
    Answer,
    Citation,
    RetrievedPassage,
    SectionPointer,
    retrieved_passage,
)
from bot.answers.question import PreparedQuestion, prepare
from bot.config import RetrievalConfig
from bot.library.loader import NOTES_SECTION, Library
from bot.retrieval.candidates import Candidate, gather, previous_in_document
from bot.retrieval.index import indexed_text
from bot.retrieval.retriever import Retriever
from bot.semantic.encoder import Encoder
from bot.semantic.vectors import SemanticIndex

# Passages whose sentences may be quoted, and passages returned with an answer.
SHORTLIST = 5
LISTED = 8
# When the sentence model gives the best quote less than even odds of being the one that
# answers, the best quote that does not overlap it is given too, cited on its own: the reader
# sees both candidates instead of the toss of a coin. A product rule, not fitted.
RUNNER_UP_BELOW = 0.5
# Quotes an answer may hold: the best, and that runner-up.
MAX_QUOTES = 2


@dataclass(frozen=True)
class ComposeOptions:
    max_sentences: int = 2
    max_quotes: int = MAX_QUOTES
    strictness: str = "normal"
    closest_sections: int = 3


@dataclass(frozen=True)
class Ranked:
    """A question's candidate passages, most probably relevant first."""

    candidates: list[Candidate]
    probability: NDArray[np.float64]


@dataclass(frozen=True)
class Choice:
    """The quote: a run of consecutive sentences, and the sentence model's probability that
    it is the one among the candidates that answers; and the runner-up quoted after it, if
    any."""

    window: Window
    share: float
    runner_up: Window | None = None

    @property
    def quotes(self) -> tuple[Window, ...]:
        """What is quoted: the best run, then the runner-up; a runner-up that continues the
        best run in its passage (just before or just after it) joins it as one quote, in
        the text's order, rather than the same passage cited twice."""
        best, second = self.window, self.runner_up
        if second is None:
            return (best,)
        if second.candidate.index == best.candidate.index and (
            second.end == best.start or best.end == second.start
        ):
            start, end = min(best.start, second.start), max(best.end, second.end)
            return (Window(best.shortlist_rank, best.candidate, start, end),)
        return (best, second)


def holds_what_was_asked(question: PreparedQuestion, quote: Window) -> bool:
    """Whether the quote holds the kind of thing the question asks for: a question asking
    who, when, how long or how many is not answered by a quote that names no one, gives no
    date or no number, however well it matches its words. Like the decision model, this
    judges the best quote; a runner-up is shown beside an answer, not instead of one."""
    return not lacks(question.kind, quote.text, question.text)


class Composer:
    """Chooses the sentences that answer a question and decides when to decline."""

    def __init__(
        self,
        library: Library,
        retriever: Retriever,
        config: RetrievalConfig,
        encoder: Encoder | None,
        semantic: SemanticIndex | None,
        model: AnswerModel,
    ) -> None:
        if model.semantic != (semantic is not None):
            raise ValueError("the answer model does not match the semantic layer")
        self._library = library
        self._retriever = retriever
        self._config = config
        self._encoder = encoder if semantic is not None else None
        self._semantic = semantic
        self.model = model
        # A passage's indexed terms serve it and the passage after it: computed once.
        self._indexed_terms = passage_terms_cache(self._tokenize_indexed)
        self.terms = passage_terms_cache(self._passage_terms)

    @property
    def semantic(self) -> bool:
        return self._semantic is not None

    def gate(self, stage: str, question: PreparedQuestion) -> NDArray[np.float64]:
        return gate(stage, self.semantic, question.english)

    @property
    def semantic_index(self) -> SemanticIndex | None:
        return self._semantic

    @property
    def encoder(self) -> Encoder | None:
        """The embedding model, when the semantic layer is on (a place's engine reuses it)."""
        return self._encoder

    def _tokenize_indexed(self, index: int) -> frozenset[str]:
        passage = self._retriever.passages[index]
        return frozenset(
            self._retriever.tokenizer(indexed_text(passage, self._library, self._config))
        )

    def _passage_terms(self, index: int) -> PassageTerms:
        passage = self._retriever.passages[index]
        tokenizer = self._retriever.tokenizer
        before = previous_in_document(self._retriever.passages, index)
        return PassageTerms(
            indexed=self._indexed_terms(index),
            section=frozenset(tokenizer(passage.section)),
            sentences=tuple(frozenset(tokenizer(s)) for s in passage.sentences),
            previous=self._indexed_terms(before) if before is not None else frozenset(),
        )

    def warm_up(self) -> None:
        """Answer before the first real question, so that it costs no more than the others:
        a question about the library's first section runs every stage (a question that
        matches nothing stops before the sentence model and left ~0.4 s to the first asker).
        """
        self.compose("warm up", ComposeOptions())
        passages = self._retriever.passages
        if passages:
            self.compose(f"What was {passages[0].section}?", ComposeOptions())

    # -- the stages, each usable on its own (training fits one stage at a time) -----------

    def prepare(self, question: str) -> PreparedQuestion:
        return prepare(question, self._retriever, self._encoder)

    def candidates(self, question: PreparedQuestion) -> list[Candidate]:
        return gather(self._retriever, question.terms, question.vector, self._semantic)

    def passage_rows(
        self, question: PreparedQuestion, candidates: Sequence[Candidate]
    ) -> NDArray[np.float64]:
        return passage_features(question, candidates, self.terms, self.semantic)

    def rank(
        self, question: PreparedQuestion, candidates: Sequence[Candidate], model: Standardised
    ) -> Ranked:
        if not candidates:
            return Ranked([], np.zeros(0))
        probability = model.probability(
            self.passage_rows(question, candidates), self.gate("passage", question)
        )
        order = np.lexsort((np.arange(len(candidates)), -probability))
        return Ranked([candidates[i] for i in order], probability[order])

    def window_rows(
        self, question: PreparedQuestion, ranked: Ranked, longest: int
    ) -> tuple[list[Window], NDArray[np.float64]]:
        """The possible quotes (runs of up to `longest` sentences) and their features.

        A note (a reference, a footnote) is a possible quote only when it shares a word
        with the question: to an embedding model a bare reference is mostly its titles,
        often in other languages, and it would otherwise "answer" questions in them."""
        spans = [
            w
            for w in windows(ranked.candidates[:SHORTLIST], max(1, longest))
            if w.candidate.passage.section != NOTES_SECTION or self._shares_a_word(question, w)
        ]
        rows = window_features(
            question, spans, list(ranked.probability[:SHORTLIST]), self.terms, self.semantic
        )
        return spans, rows

    def _shares_a_word(self, question: PreparedQuestion, window: Window) -> bool:
        sentences = self.terms(window.candidate.index).sentences[window.start : window.end]
        return any(t in question.weights for terms in sentences for t in terms)

    @staticmethod
    def choose(
        spans: Sequence[Window], scores: NDArray[np.float64], quotes: int = MAX_QUOTES
    ) -> Choice | None:
        """The best quote, and a runner-up when the best has less than even odds and
        `quotes` allows a second."""
        if not spans:
            return None
        shares = np.exp(scores - scores.max())
        shares /= shares.sum()
        at = int(np.argmax(scores))
        best, share = spans[at], float(shares[at])
        runner_up = None
        if quotes > 1 and share < RUNNER_UP_BELOW:
            apart = [i for i, span in enumerate(spans) if not span.overlaps(best)]
            if apart:
                runner_up = spans[max(apart, key=lambda i: float(scores[i]))]
        return Choice(best, share, runner_up)

    def decision_row(
        self, question: PreparedQuestion, ranked: Ranked, choice: Choice
    ) -> NDArray[np.float64]:
        where = next(
            i for i, c in enumerate(ranked.candidates) if c.index == choice.window.candidate.index
        )
        return decision_features(
            question,
            choice.window,
            choice.share,
            float(ranked.probability[where]),
            ranked.candidates,
            self.terms,
            self.semantic,
        )

    # -- the whole answer -----------------------------------------------------------------

    def compose(
        self, question: str, options: ComposeOptions, model: AnswerModel | None = None
    ) -> Answer:
        prepared = self.prepare(question)
        return self.compose_prepared(prepared, self.candidates(prepared), options, model)

    def compose_prepared(
        self,
        question: PreparedQuestion,
        candidates: Sequence[Candidate],
        options: ComposeOptions,
        model: AnswerModel | None = None,
    ) -> Answer:
        model = model or self.model
        ranked = self.rank(question, candidates, model.passages)
        spans, rows = self.window_rows(question, ranked, options.max_sentences)
        scores = model.sentences.score(rows, self.gate("sentence", question))
        choice = self.choose(spans, scores, options.max_quotes) if spans else None
        if choice is None or (not question.weights and question.vector is None):
            return self._decline(question.text, ranked, options.closest_sections)
        if not holds_what_was_asked(question, choice.window):
            return self._decline(question.text, ranked, options.closest_sections)
        row = self.decision_row(question, ranked, choice)
        likely = float(model.decision.probability(row, self.gate("decision", question))[0])
        if likely < model.threshold(options.strictness):
            return self._decline(question.text, ranked, options.closest_sections)
        return self._answer(question.text, ranked, choice)

    def _answer(self, question: str, ranked: Ranked, choice: Choice) -> Answer:
        quotes = choice.quotes
        citations = [self._citation(marker, w) for marker, w in enumerate(quotes, 1)]
        # The passages quoted come first, then the rest by relevance.
        quoted = list(dict.fromkeys(w.candidate.index for w in quotes))
        order = quoted + [c.index for c in ranked.candidates if c.index not in quoted]
        by_index = {
            c.index: (c, p) for c, p in zip(ranked.candidates, ranked.probability, strict=True)
        }
        passages = [self._retrieved(*by_index[i]) for i in order[:LISTED]]
        return Answer(
            question=question,
            answered=True,
            text=" ".join(f"{c.quote} [{c.marker}]" for c in citations),
            citations=citations,
            passages=passages,
        )

    def _citation(self, marker: int, window: Window) -> Citation:
        passage = window.candidate.passage
        document = self._library.document(passage.doc_id)
        info = document.info
        return Citation(
            marker=marker,
            passage_id=passage.id,
            doc_id=passage.doc_id,
            title=info.title,
            author=info.author,
            section=passage.section,
            quote=window.text,
            caveat=info.satire,
            shelf=document.shelf,
        )

    def _retrieved(self, candidate: Candidate, probability: float) -> RetrievedPassage:
        return retrieved_passage(self._library, candidate.passage, round(float(probability), 4))

    def _decline(self, question: str, ranked: Ranked, limit: int) -> Answer:
        closest: list[SectionPointer] = []
        seen: set[tuple[str, str]] = set()
        for candidate in ranked.candidates:
            passage = candidate.passage
            key = (passage.doc_id, passage.section)
            if key in seen:
                continue
            seen.add(key)
            document = self._library.document(passage.doc_id)
            info = document.info
            closest.append(
                SectionPointer(
                    passage_id=passage.id,
                    doc_id=passage.doc_id,
                    title=info.title,
                    author=info.author,
                    section=passage.section,
                    shelf=document.shelf,
                )
            )
            if len(closest) >= limit:
                break
        text = "The library does not answer that."
        if closest:
            text += " The closest sections are listed below."
        passages = [
            self._retrieved(c, p)
            for c, p in zip(ranked.candidates[:LISTED], ranked.probability[:LISTED], strict=True)
        ]
        return Answer(
            question=question,
            answered=False,
            text=text,
            citations=[],
            passages=passages,
            closest=closest,
        )
