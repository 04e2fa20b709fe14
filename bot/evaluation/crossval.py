"""Out-of-fold evaluation: every question is answered by models fitted without it.

This is the number the README reports. The questions are split into folds (`folds.py`);
for each fold the answer models (weights and thresholds) are fitted on the other folds and
the fold's questions are answered and scored with them, exactly as the bot would answer.
With several repeats the whole is done again under other fold assignments and the figures
are averaged: with a few hundred questions, one assignment can move a figure by a few
points either way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from bot.answers.compose import ComposeOptions, Composer
from bot.answers.learning import AnswerModel
from bot.answers.model import Answer
from bot.evaluation.folds import assign_folds
from bot.evaluation.metrics import EvalQuestion, EvalReport, score_runs
from bot.evaluation.training import Example, fit_answer_model, make_example

Fit = Callable[[Sequence[Example], Composer], AnswerModel]


def out_of_fold_answers(
    examples: Sequence[Example],
    composer: Composer,
    folds: int,
    options: ComposeOptions,
    fit: Fit = fit_answer_model,
    seed: int = 0,
) -> dict[str, Answer]:
    """Each question's answer from the models fitted on the other folds (of the assignment
    `seed` draws)."""
    fold_of = assign_folds([e.gold for e in examples], folds, seed)
    answers: dict[str, Answer] = {}
    for fold in range(folds):
        train = [e for e, f in zip(examples, fold_of, strict=True) if f != fold]
        model = fit(train, composer)
        for e, f in zip(examples, fold_of, strict=True):
            if f == fold:
                answers[e.gold.id] = composer.compose_prepared(
                    e.question, e.candidates, options, model
                )
    return answers


def cross_validate(
    questions: Sequence[EvalQuestion],
    composer: Composer,
    folds: int,
    options: ComposeOptions,
    report_on: Sequence[EvalQuestion] | None = None,
    repeats: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> EvalReport:
    """Out-of-fold scores over `report_on` (default: all the questions), averaged over
    `repeats` fold assignments (the first is the one the README's tables use). `progress`
    hears of each fit done, out of `folds * repeats`: a long run should show it is moving."""
    examples = [make_example(q, composer) for q in questions]
    scored = report_on if report_on is not None else questions
    fitted = 0

    def fit(train: Sequence[Example], composer: Composer) -> AnswerModel:
        nonlocal fitted
        model = fit_answer_model(train, composer)
        fitted += 1
        if progress is not None:
            progress(fitted, folds * repeats)
        return model

    runs = []
    for seed in range(repeats):
        answers = out_of_fold_answers(examples, composer, folds, options, fit, seed)
        runs.append([(q, answers[q.id]) for q in scored])
    return score_runs(runs)
