"""A passage is judged with the one before it: stories run over passage boundaries."""

from bot.answers.engine import AnswerEngine
from bot.answers.features import feature_names, passage_features
from bot.retrieval.candidates import previous_in_document

# Voline's story of the Nobel refinery starts in one passage and ends in the next: the
# Commissar's accusation (the answer) sits in a passage that never names the refinery.
QUESTION = "what did the commissar of labor accuse the nobel refinery workers of"


def _index_of(engine: AnswerEngine, passage_id: str) -> int:
    return next(i for i, p in enumerate(engine.retriever.passages) if p.id == passage_id)


def test_the_previous_passage_is_the_one_before_in_the_same_document_only(
    bundled_engine: AnswerEngine,
) -> None:
    passages = bundled_engine.retriever.passages
    second = _index_of(bundled_engine, "guerin:2")
    assert previous_in_document(passages, second) == second - 1
    assert passages[second - 1].id == "guerin:1"
    first = _index_of(bundled_engine, "guerin:1")
    assert previous_in_document(passages, first) is None  # another document ends before it
    assert previous_in_document(passages, 0) is None


def test_a_passage_that_continues_the_asked_about_story_gets_the_context_features(
    bundled_engine: AnswerEngine,
) -> None:
    composer = bundled_engine.composer
    question = composer.prepare(QUESTION)
    candidates = composer.candidates(question)
    by_id = {c.passage.id: c for c in candidates}
    continuing, opening = by_id["guerin:32"], by_id["guerin:31"]
    assert "nobel" not in composer.terms(continuing.index).indexed
    assert "nobel" in composer.terms(continuing.index).previous

    names = feature_names("passage", composer.semantic)
    rows = passage_features(question, [continuing, opening], composer.terms, composer.semantic)
    own, joined = names.index("coverage"), names.index("coverage_with_previous")
    assert rows[0, joined] > rows[0, own]  # the refinery is named just before
    assert rows[0, joined] >= rows[1, own]
    if composer.semantic:
        assert continuing.previous_dense == opening.dense != 0.0


def test_the_continuing_passage_is_quoted(bundled_engine: AnswerEngine) -> None:
    answer = bundled_engine.answer(QUESTION)
    assert answer.answered
    assert answer.citations[0].passage_id == "guerin:32"
