"""A question in another language finds the English passage and quotes it as written."""

from __future__ import annotations

import pytest

from bot.answers.engine import AnswerEngine


@pytest.mark.parametrize(
    "question",
    [
        "Quel couple a quitté la colonie du Kouzbass en accusant le gouvernement soviétique ?",
        "Какая пара уехала из Кузбасса и обвинила советское правительство в мошенничестве?",
    ],
)
def test_a_translated_question_is_answered_from_the_english_text(
    bundled_engine: AnswerEngine, question: str
) -> None:
    answer = bundled_engine.answer(question)
    assert answer.answered
    assert "Ruth and Thomas Doyle" in answer.text  # the library's own English words
    assert answer.citations[0].doc_id == "kuzbass"
    for citation in answer.citations:
        passage = bundled_engine.library.passage(citation.passage_id)
        assert passage is not None and citation.quote in passage.text


@pytest.mark.parametrize(
    "question",
    [
        "Какая столица Франции?",
        "Когда началась Вторая мировая война?",
        "Was ist die Hauptstadt von Frankreich?",
        "¿Cuándo llegó el hombre a la luna?",
        "Quelle est la population du Japon ?",
    ],
)
def test_off_topic_questions_in_other_languages_are_declined(
    bundled_engine: AnswerEngine, question: str
) -> None:
    assert not bundled_engine.answer(question).answered
