"""Fits the answer models on questions whose answers are known.

Each stage is fitted on what the stage before it would give on questions it was not fitted
on (inner cross-validation), so the sentence model learns from the passage ranking it will
really see, and the decision model and its thresholds from sentences chosen the way they
will be for a new question. The gold labels follow the evaluation's definitions: a passage
is relevant when it holds the evidence, a sentence answers when it holds an expected answer
inside a relevant passage.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from bot.answers.compose import Composer, Ranked, holds_what_was_asked
from bot.answers.features import DECISION_SIGNS, Window, feature_names
from bot.answers.learning import (
    AnswerModel,
    Standardised,
    fit_listwise,
    fit_logistic,
    thresholds_for,
)
from bot.answers.question import PreparedQuestion
from bot.evaluation.folds import assign_folds
from bot.evaluation.metrics import EvalQuestion, contains_answer, evidence_found
from bot.retrieval.candidates import Candidate

Matrix = NDArray[np.float64]
INNER_FOLDS = 5
BRIEF = 2  # the answer the decision model learns to judge: the brief one


@dataclass(frozen=True)
class Example:
    """A question with known answers, and what retrieval found for it (computed once)."""

    gold: EvalQuestion
    question: PreparedQuestion
    candidates: list[Candidate]
    relevant: NDArray[np.bool_]  # per candidate: holds the evidence


def make_example(gold: EvalQuestion, composer: Composer) -> Example:
    question = composer.prepare(gold.question)
    candidates = composer.candidates(question)
    relevant = np.array(
        [
            gold.answerable and evidence_found(gold.evidence or "", c.passage.text)
            for c in candidates
        ],
        dtype=bool,
    )
    return Example(gold, question, candidates, relevant)


def _window_labels(example: Example, spans: Sequence[Window]) -> NDArray[np.bool_]:
    relevant = {c.index for c, r in zip(example.candidates, example.relevant, strict=True) if r}
    return np.array(
        [
            span.candidate.index in relevant and contains_answer(span.text, example.gold.answers)
            for span in spans
        ],
        dtype=bool,
    )


def _out_of_fold(
    examples: Sequence[Example],
    fit: Callable[[Sequence[Example]], Standardised],
    use: Callable[[Standardised, Example], None],
) -> None:
    """Fit on all but one inner fold and use the model on that fold, for every fold."""
    folds = assign_folds([e.gold for e in examples], INNER_FOLDS)
    for fold in range(INNER_FOLDS):
        train = [e for e, f in zip(examples, folds, strict=True) if f != fold]
        model = fit(train)
        for e, f in zip(examples, folds, strict=True):
            if f == fold:
                use(model, e)


def fit_answer_model(examples: Sequence[Example], composer: Composer) -> AnswerModel:
    semantic = composer.semantic
    names = {stage: feature_names(stage, semantic) for stage in ("passage", "sentence", "decision")}

    def fit_passages(train: Sequence[Example]) -> Standardised:
        used = [e for e in train if e.candidates]
        width = len(names["passage"])
        if not used:
            return fit_logistic(names["passage"], np.zeros((0, width)), np.zeros(0, dtype=bool))
        rows = [composer.passage_rows(e.question, e.candidates) for e in used]
        gates = [
            np.broadcast_to(composer.gate("passage", e.question), r.shape)
            for e, r in zip(used, rows, strict=True)
        ]
        return fit_logistic(
            names["passage"],
            np.vstack(rows),
            np.concatenate([e.relevant for e in used]),
            np.vstack(gates),
        )

    ranked: dict[str, Ranked] = {}
    _out_of_fold(
        examples,
        fit_passages,
        lambda m, e: ranked.__setitem__(e.gold.id, composer.rank(e.question, e.candidates, m)),
    )
    sentence_data: dict[str, tuple[list[Window], Matrix, NDArray[np.bool_]]] = {}
    for e in examples:
        spans, rows = composer.window_rows(e.question, ranked[e.gold.id], BRIEF)
        sentence_data[e.gold.id] = (spans, rows, _window_labels(e, spans))

    def fit_sentences(train: Sequence[Example]) -> Standardised:
        return fit_listwise(
            names["sentence"],
            [
                (*sentence_data[e.gold.id][1:], composer.gate("sentence", e.question))
                for e in train
                if e.gold.answerable
            ],
        )

    decision_rows: dict[str, Matrix] = {}
    correct: dict[str, bool] = {}
    lacking: dict[str, bool] = {}  # the best quote lacks what was asked: declined by rule

    def decide_row(model: Standardised, e: Example) -> None:
        spans, rows, _ = sentence_data[e.gold.id]
        scores = model.score(rows, composer.gate("sentence", e.question))
        # The decision judges the best quote alone, whether or not a runner-up follows it.
        choice = composer.choose(spans, scores, quotes=1) if spans else None
        lacking[e.gold.id] = choice is not None and not holds_what_was_asked(
            e.question, choice.window
        )
        decision_rows[e.gold.id] = (
            composer.decision_row(e.question, ranked[e.gold.id], choice)
            if choice is not None
            else np.zeros((1, len(names["decision"])))
        )
        correct[e.gold.id] = choice is not None and contains_answer(
            choice.window.text, e.gold.answers
        )

    _out_of_fold(examples, fit_sentences, decide_row)

    def fit_decision(train: Sequence[Example]) -> Standardised:
        return fit_logistic(
            names["decision"],
            np.vstack([decision_rows[e.gold.id] for e in train]),
            np.array([correct[e.gold.id] for e in train], dtype=bool),
            np.vstack([composer.gate("decision", e.question) for e in train]),
            [DECISION_SIGNS[name] for name in names["decision"]],
        )

    probability: dict[str, float] = {}
    _out_of_fold(
        examples,
        fit_decision,
        lambda m, e: probability.__setitem__(
            e.gold.id,
            float(
                m.probability(decision_rows[e.gold.id], composer.gate("decision", e.question))[0]
            ),
        ),
    )
    thresholds = thresholds_for(
        np.array([probability[e.gold.id] for e in examples]),
        np.array([e.gold.answerable for e in examples], dtype=bool),
        np.array([lacking[e.gold.id] for e in examples], dtype=bool),
    )
    return AnswerModel(
        semantic=semantic,
        passages=fit_passages(examples),
        sentences=fit_sentences(examples),
        decision=fit_decision(examples),
        thresholds=thresholds,
    )
