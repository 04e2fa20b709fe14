"""Answers quote the library verbatim, cite exactly, and decline rather than invent."""

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from bot.answers.compose import Choice, ComposeOptions, Composer, holds_what_was_asked
from bot.answers.engine import AnswerEngine, compose_options
from bot.answers.features import Window
from bot.answers.learning import AnswerModel
from bot.answers.question import PreparedQuestion
from bot.evaluation import read_question_files, read_questions
from bot.evaluation.crossval import cross_validate

DEV_SET = Path(__file__).parents[1] / "data" / "eval-dev.jsonl"
DEV_SET_B = Path(__file__).parents[1] / "data" / "eval-dev-b.jsonl"


def test_every_quote_occurs_verbatim_in_its_passage(bundled_engine: AnswerEngine) -> None:
    questions = [q.question for q in read_questions(DEV_SET)]
    answered = 0
    for question in questions:
        answer = bundled_engine.answer(question)
        for citation in answer.citations:
            passage = bundled_engine.library.passage(citation.passage_id)
            assert passage is not None
            sentences = passage.sentences
            runs = {
                " ".join(sentences[i:j])
                for i in range(len(sentences))
                for j in range(i + 1, len(sentences) + 1)
            }
            assert citation.quote in runs  # whole sentences, word for word
            assert citation.doc_id == passage.doc_id
            assert citation.section == passage.section
            assert f"{citation.quote} [{citation.marker}]" in answer.text
        answered += answer.answered
    assert answered > len(questions) // 2


def test_answer_cites_the_document_that_holds_it(bundled_engine: AnswerEngine) -> None:
    answer = bundled_engine.answer("which couple quit kuzbass and said the soviets scammed them")
    assert answer.answered
    assert "Doyle" in answer.text
    assert answer.citations[0].doc_id == "kuzbass"
    assert answer.citations[0].author == "AnarWiki contributors"


def test_off_topic_question_is_declined_with_closest_sections(
    bundled_engine: AnswerEngine,
) -> None:
    answer = bundled_engine.answer("who was the first emperor of the qin dynasty")
    assert not answer.answered
    assert answer.citations == []
    assert "does not answer" in answer.text


@pytest.mark.parametrize(
    "question",
    [
        "what is the capital of france",
        "what is the capital of australia",
        "who won the battle of hastings",
        "when did the congress of vienna take place",
    ],
)
def test_off_topic_questions_sharing_a_word_with_the_library_are_declined(
    bundled_engine: AnswerEngine, question: str
) -> None:
    """ "capital" meets "capitalism", "congress" the party congresses: overlap is not relevance."""
    assert not bundled_engine.answer(question).answered


def test_quotes_from_the_satire_carry_its_caveat(bundled_engine: AnswerEngine) -> None:
    answer = bundled_engine.answer("how many striking workers did the cheka execute in astrakhan")
    assert answer.answered
    satirical = [c for c in answer.citations if c.doc_id == "crimethinc-1919"]
    assert satirical
    assert all(c.caveat and "satire" in c.caveat for c in satirical)


def test_strictness_changes_only_the_decision_to_answer(bundled_engine: AnswerEngine) -> None:
    questions = [q.question for q in read_questions(DEV_SET)]
    differ = 0
    for question in questions:
        lenient, normal, strict = (
            bundled_engine.answer(question, ComposeOptions(strictness=level))
            for level in ("lenient", "normal", "strict")
        )
        listed = [{p.passage_id for p in a.passages} for a in (lenient, normal, strict)]
        assert listed[0] == listed[1] == listed[2]  # an answer lists its quote's passage first
        assert strict.answered <= normal.answered <= lenient.answered
        differ += lenient.answered != strict.answered
    assert differ > 0


def test_quality_floor_out_of_fold(bundled_engine: AnswerEngine) -> None:
    """Scored by models fitted without the questions scored (5-fold), over both dev sets.

    A floor against regressions, below what the README reports (84.2 / 96.2 / 60.9 / 5.1);
    without the runner-up quote answer hit would be 79.1, and without declining quotes that
    lack what was asked abstention would be 43.5, each under this floor.
    """
    questions = read_question_files([DEV_SET, DEV_SET_B])
    report = cross_validate(questions, bundled_engine.composer, 5, bundled_engine.defaults)
    metrics = {name: value for name, value in report.overall.items() if value is not None}
    assert metrics["answer_hit"] >= 0.80
    assert metrics["evidence@5"] >= 0.93
    assert metrics["abstention"] >= 0.56
    assert metrics["false_abstention"] <= 0.08


def _spans_of(engine: AnswerEngine, question: str) -> list[Window]:
    return _windows_of(engine, question)[1]


def _windows_of(
    engine: AnswerEngine, question: str
) -> tuple[PreparedQuestion, list[Window], NDArray[np.float64]]:
    """The question prepared, its candidate quotes and their rows, as the shipped model sees."""
    composer = engine.composer
    prepared = composer.prepare(question)
    ranked = composer.rank(prepared, composer.candidates(prepared), composer.model.passages)
    spans, rows = composer.window_rows(prepared, ranked, 2)
    return prepared, spans, rows


def _answering_always(composer: Composer) -> AnswerModel:
    """The shipped model with every threshold at 0: only the rule on what was asked declines."""
    return replace(composer.model, thresholds=dict.fromkeys(composer.model.thresholds, 0.0))


def test_a_runner_up_is_quoted_only_when_the_best_quote_is_no_better_than_even(
    bundled_engine: AnswerEngine,
) -> None:
    spans = _spans_of(bundled_engine, "why did the kuzbass colony fail")
    assert len(spans) > 3
    sure = np.zeros(len(spans))
    sure[2] = 20.0  # nearly all the probability on one quote
    choice = Composer.choose(spans, sure)
    assert choice is not None and choice.window is spans[2]
    assert choice.share > 0.5 and choice.runner_up is None
    assert choice.quotes == (spans[2],)

    unsure = np.zeros(len(spans))
    unsure[2], unsure[0] = 2.0, 1.9  # two close favourites
    choice = Composer.choose(spans, unsure)
    assert choice is not None and choice.window is spans[2] and choice.share < 0.5
    assert choice.runner_up is not None
    assert not choice.runner_up.overlaps(choice.window)
    best_other = max(
        (i for i, s in enumerate(spans) if not s.overlaps(spans[2])), key=lambda i: unsure[i]
    )
    assert choice.runner_up is spans[best_other]
    assert Composer.choose(spans, unsure, quotes=1) == Choice(spans[2], choice.share)


def test_an_unsure_answer_cites_two_quotes_and_lists_both_passages_first(
    bundled_engine: AnswerEngine,
) -> None:
    two = None
    for gold in read_questions(DEV_SET):
        answer = bundled_engine.answer(gold.question)
        if len(answer.citations) == 2:
            two = (gold.question, answer)
            break
    assert two is not None, "no dev question is answered with a runner-up"
    question, answer = two
    first, second = answer.citations
    assert (first.marker, second.marker) == (1, 2)
    assert answer.text == f"{first.quote} [1] {second.quote} [2]"
    quoted = list(dict.fromkeys([first.passage_id, second.passage_id]))
    assert [p.passage_id for p in answer.passages[: len(quoted)]] == quoted
    single = bundled_engine.answer(question, replace(bundled_engine.defaults, max_quotes=1))
    assert single.citations == [first]
    assert single.text == f"{first.quote} [1]"


@pytest.mark.parametrize(("shown", "quotes"), [(1, 1), (2, 2), (5, 2)])
def test_a_place_showing_one_source_gets_one_quote(
    bundled_engine: AnswerEngine, shown: int, quotes: int
) -> None:
    options = compose_options(True, "normal", bundled_engine.config, max_sources=shown)
    assert options.max_quotes == quotes
    assert options.max_sentences == 2  # a quote is one source however many sentences it runs


def test_a_runner_up_that_continues_the_best_quote_joins_it(bundled_engine: AnswerEngine) -> None:
    spans = _spans_of(bundled_engine, "why did the kuzbass colony fail")
    pairs = [
        (a, b)
        for a in spans
        for b in spans
        if a.candidate.index == b.candidate.index and a.end == b.start
    ]
    assert pairs
    before, after = pairs[0]
    for best, second in ((before, after), (after, before)):
        [joined] = Choice(best, 0.3, second).quotes
        assert (joined.candidate, joined.start, joined.end) == (
            best.candidate,
            before.start,
            after.end,
        )
        assert joined.text == f"{before.text} {after.text}"  # in the text's order
    apart = next(w for w in spans if w.candidate.index != before.candidate.index)
    assert Choice(before, 0.3, apart).quotes == (before, apart)


@pytest.mark.parametrize(
    "question",
    [
        "who was the cheka officer in charge of the raid on the putilov works",
        "how old was kropotkin when he died",
    ],
)
def test_quotes_lacking_what_was_asked_are_declined_however_sure_the_model(
    bundled_engine: AnswerEngine, question: str
) -> None:
    """The library says the Cheka stormed the Putilov works and that "the aged Kropotkin had
    died", never who led the raid or how old he was: a quote matching every other word is
    still no answer."""
    composer = bundled_engine.composer
    always = _answering_always(composer)
    prepared, spans, rows = _windows_of(bundled_engine, question)
    choice = Composer.choose(
        spans, always.sentences.score(rows, composer.gate("sentence", prepared))
    )
    assert choice is not None
    assert not holds_what_was_asked(prepared, choice.window)
    assert not composer.compose(question, bundled_engine.defaults, always).answered
    # The same passage answers what it does hold, at the same threshold.
    held = composer.compose(
        "how many workers did the cheka arrest at the putilov factory",
        bundled_engine.defaults,
        always,
    )
    assert held.answered and "900 workers" in held.text


def test_a_where_question_is_not_declined_for_want_of_a_place_name(
    bundled_engine: AnswerEngine,
) -> None:
    """ "Embedded as workers in sites of struggle" answers where anarchism wants its
    militants; the place check looks for names, so it does not get to decline."""
    composer = bundled_engine.composer
    always = _answering_always(composer)
    question = "where does anarchism want its militants to be, according to the essay"
    answer = composer.compose(question, bundled_engine.defaults, always)
    assert answer.answered and "sites of struggle" in answer.text


@pytest.mark.parametrize(
    ("question", "name"),
    [
        ("what was makhno's first name", "Nestor Makhno"),
        ("what was trotsky's first name", "Leon Trotsky"),
    ],
)
def test_a_first_name_is_quoted_where_it_stands_before_the_name(
    bundled_engine: AnswerEngine, question: str, name: str
) -> None:
    """Most sentences name Makhno or Trotsky alone; the one that answers is the one that
    gives the first name before it, and the bot, with the models it ships, quotes it."""
    answer = bundled_engine.answer(question, bundled_engine.defaults)
    assert answer.answered and name in answer.text
