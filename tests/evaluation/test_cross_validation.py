"""Reported numbers are out-of-fold: no question is scored by a model fitted on it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import pytest

from bot.answers.compose import Composer
from bot.answers.engine import AnswerEngine
from bot.answers.learning import AnswerModel
from bot.evaluation import EvalQuestion, read_question_files
from bot.evaluation.crossval import cross_validate, out_of_fold_answers
from bot.evaluation.folds import assign_folds
from bot.evaluation.training import Example, fit_answer_model, make_example

DATA = Path(__file__).parents[1] / "data"
SETS = [DATA / "eval-dev.jsonl", DATA / "eval-dev-b.jsonl", DATA / "eval-translated.jsonl"]


@pytest.fixture(scope="module")
def questions() -> list[EvalQuestion]:
    return read_question_files(SETS)


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_folds_are_balanced_by_type_and_keep_translations_with_their_question(
    questions: list[EvalQuestion], seed: int
) -> None:
    folds = assign_folds(questions, 5, seed)
    assert set(folds) == set(range(5))
    unanswerable = Counter(
        f for q, f in zip(questions, folds, strict=True) if q.doc is None and q.group is None
    )
    assert max(unanswerable.values()) - min(unanswerable.values()) <= 1
    where = {q.id: f for q, f in zip(questions, folds, strict=True)}
    translated = [q for q in questions if q.group is not None]
    assert translated
    for q in translated:
        assert where[q.id] == where[q.group or ""]  # with the question it translates


def test_folds_depend_on_the_questions_not_on_their_order(questions: list[EvalQuestion]) -> None:
    forward = dict(zip([q.id for q in questions], assign_folds(questions, 5), strict=True))
    backward_questions = list(reversed(questions))
    backward = dict(
        zip([q.id for q in backward_questions], assign_folds(backward_questions, 5), strict=True)
    )
    assert forward == backward


def test_seeds_draw_other_assignments_and_seed_0_is_the_published_one(
    questions: list[EvalQuestion],
) -> None:
    published = assign_folds(questions, 5)
    assert assign_folds(questions, 5, seed=0) == published
    others = [assign_folds(questions, 5, seed) for seed in (1, 2)]
    for other in others:
        moved = sum(a != b for a, b in zip(published, other, strict=True))
        assert moved > len(questions) // 2  # a new draw, not a shuffle of a few
    assert others[0] != others[1]


@pytest.mark.parametrize("seed", [0, 3])
def test_no_question_is_answered_by_a_model_fitted_on_it(
    questions: list[EvalQuestion], bundled_engine: AnswerEngine, seed: int
) -> None:
    sample = questions[::6]
    examples = [make_example(q, bundled_engine.composer) for q in sample]
    fitted_on: list[set[str]] = []

    def recording_fit(train: Sequence[Example], composer: Composer) -> AnswerModel:
        fitted_on.append({e.gold.id for e in train})
        return fit_answer_model(train, composer)

    answers = out_of_fold_answers(
        examples, bundled_engine.composer, 4, bundled_engine.defaults, recording_fit, seed
    )
    assert set(answers) == {q.id for q in sample}
    folds = assign_folds(sample, 4, seed)
    assert len(fitted_on) == 4
    for fold, seen in enumerate(fitted_on):
        scored = {q.id for q, f in zip(sample, folds, strict=True) if f == fold}
        assert scored and not scored & seen
        groups = {q.group_key for q in sample if q.id in scored}
        assert not any(q.group_key in groups for q in sample if q.id in seen)


def test_repeats_report_each_fit_and_the_spread_of_their_runs(
    questions: list[EvalQuestion], bundled_engine: AnswerEngine
) -> None:
    sample = questions[::8]
    heard: list[tuple[int, int]] = []
    report = cross_validate(
        sample,
        bundled_engine.composer,
        2,
        bundled_engine.defaults,
        repeats=2,
        progress=lambda done, total: heard.append((done, total)),
    )
    assert heard == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert len(report.runs) == 2
    assert report.overall["n"] == len(sample)
    for key in ("answer_hit", "false_abstention"):
        values = [run[key] for run in report.runs]
        assert all(v is not None for v in values)
        mean = sum(v for v in values if v is not None) / 2
        assert report.overall[key] == pytest.approx(mean, abs=0.001)
