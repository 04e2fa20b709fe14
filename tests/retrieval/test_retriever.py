import pytest

from bot.library.segmentation import Passage
from bot.retrieval.retriever import BM25Params, EmptyLibraryError, Retriever, build_bm25
from bot.retrieval.tokenize import Tokenizer, TokenizerOptions

TEXTS = [
    "The sailors of Kronstadt rose in March 1921.",
    "Factory committees ran the Putilov works.",
    "The Kuzbass colony mined coal in Siberia.",
    "Kollontai wrote The Workers' Opposition pamphlet.",
]


def _retriever() -> Retriever:
    tokenizer = Tokenizer(TokenizerOptions())
    passages = [Passage(f"t:{i + 1}", "t", i + 1, "S", (text,)) for i, text in enumerate(TEXTS)]
    return Retriever(passages, build_bm25([tokenizer(t) for t in TEXTS], BM25Params()), tokenizer)


def test_ranking_on_a_tiny_library() -> None:
    retriever = _retriever()
    assert retriever.search("who rose at kronstadt", 2)[0].passage.id == "t:1"
    assert retriever.search("coal mining in siberia", 1)[0].passage.id == "t:3"
    assert retriever.search("kolontai pamphlet", 1)[0].passage.id == "t:4"  # misspelt


def test_no_terms_means_no_hits_and_k_is_validated() -> None:
    retriever = _retriever()
    assert retriever.search("the of and", 3) == []
    with pytest.raises(ValueError):
        retriever.search("kronstadt", 0)
    assert len(retriever.search("kronstadt", 50)) == len(TEXTS)


def test_empty_library_is_refused() -> None:
    with pytest.raises(EmptyLibraryError):
        build_bm25([], BM25Params())


async def test_async_search_runs_in_a_thread_and_agrees() -> None:
    retriever = _retriever()
    hits = await retriever.asearch("factory committees", 1)
    assert hits == retriever.search("factory committees", 1)
    assert hits[0].passage.id == "t:2"


def test_retriever_ranks_the_bundled_library_as_rank_bm25_does(bundled_engine: object) -> None:
    """The served ranking is rank-bm25's, over the project's own indexed terms."""
    from rank_bm25 import BM25Okapi

    from bot.answers.engine import AnswerEngine
    from bot.config import RetrievalConfig
    from bot.retrieval.index import indexed_text

    assert isinstance(bundled_engine, AnswerEngine)
    library = bundled_engine.library
    tokenizer = bundled_engine.retriever.tokenizer
    tokens = [tokenizer(indexed_text(p, library, RetrievalConfig())) for p in library.passages]
    reference = BM25Okapi(tokens, k1=1.2, b=0.75)
    for question in ["kronstadt sailors demands", "kuzbass colony wages", "nobel refinery"]:
        terms = bundled_engine.retriever.query_terms(question)
        scores = reference.get_scores(terms)
        expected = sorted(range(len(scores)), key=lambda i: (-scores[i], i))[:5]
        hits = bundled_engine.retriever.search(question, 5)
        assert [library.passages.index(h.passage) for h in hits] == expected
        for hit, i in zip(hits, expected, strict=True):
            assert abs(hit.score - scores[i]) <= 1e-9 * max(1.0, abs(scores[i]))
