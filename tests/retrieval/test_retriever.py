import random
import tracemalloc

import pytest

from bot.library.segmentation import Passage
from bot.retrieval.fast_bm25 import PostingsBM25
from bot.retrieval.retriever import (
    CANDIDATES_PER_QUESTION,
    BM25Params,
    EmptyLibraryError,
    Retriever,
    build_bm25,
)
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


async def test_async_search_agrees_with_search(bundled_engine: object) -> None:
    from bot.answers.engine import AnswerEngine

    assert isinstance(bundled_engine, AnswerEngine)
    hits = await bundled_engine.asearch("factory committees", 1)
    assert hits == bundled_engine.search("factory committees", 1)
    assert hits and "factory committees" in hits[0].passage.text.lower()


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


class CountingBM25(PostingsBM25):
    """The real postings index, counting the term look-ups spelling correction makes."""

    lookups = 0

    def document_frequency(self, term: str) -> int:
        self.lookups += 1
        return super().document_frequency(term)


def _counting_retriever() -> tuple[Retriever, CountingBM25]:
    tokenizer = Tokenizer(TokenizerOptions())
    passages = [Passage(f"t:{i + 1}", "t", i + 1, "S", (text,)) for i, text in enumerate(TEXTS)]
    bm25 = CountingBM25([tokenizer(t) for t in TEXTS])
    return Retriever(passages, bm25, tokenizer), bm25


def test_a_very_long_unknown_word_costs_no_spelling_work() -> None:
    """Its one-edit variants would take memory in the square of its length."""
    retriever, bm25 = _counting_retriever()
    word = "".join(random.Random(0).choice("bcdfghjklmnpqrstvwxz") for _ in range(600))
    tracemalloc.start()
    try:
        pairs = retriever.query_pairs(word)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(pairs) == 1
    assert peak < 2_000_000  # its variants alone would be some 20 MB
    assert bm25.lookups <= 1  # is it known? No; and nothing more


def test_a_question_of_many_unknown_words_looks_at_a_bounded_number_of_candidates() -> None:
    retriever, bm25 = _counting_retriever()
    rng = random.Random(1)
    words = ["".join(rng.choice("bcdfghjklmnpqrstvwxz") for _ in range(9)) for _ in range(2000)]
    pairs = retriever.query_pairs(" ".join(words))
    assert len(pairs) == len(words)
    # Unbounded, each word would look up its ~500 variants: about a million look-ups.
    assert bm25.lookups <= CANDIDATES_PER_QUESTION + 2 * len(words)
    # A normal question still has its misspelling corrected.
    assert retriever.query_terms("kolontai pamphlet")[0] == "kollontai"
