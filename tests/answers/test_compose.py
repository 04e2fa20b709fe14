"""Answers quote the library verbatim, cite exactly, and decline rather than invent."""

from pathlib import Path

import pytest

from bot.answers.compose import ComposeOptions
from bot.answers.engine import AnswerEngine
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

    A floor against regressions, below what the README reports; the issue's bar is higher.
    """
    questions = read_question_files([DEV_SET, DEV_SET_B])
    report = cross_validate(questions, bundled_engine.composer, 5, bundled_engine.defaults)
    metrics = {name: value for name, value in report.overall.items() if value is not None}
    assert metrics["answer_hit"] >= 0.70
    assert metrics["evidence@5"] >= 0.93
    assert metrics["abstention"] >= 0.30
    assert metrics["false_abstention"] <= 0.08
