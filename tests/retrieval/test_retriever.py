import pytest

from bot.library.segmentation import Passage
from bot.retrieval.retriever import BM25Params, EmptyLibraryError, Retriever
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
    return Retriever(passages, [tokenizer(t) for t in TEXTS], tokenizer, BM25Params())


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
        Retriever([], [], Tokenizer(TokenizerOptions()), BM25Params())


async def test_async_search_runs_in_a_thread_and_agrees() -> None:
    retriever = _retriever()
    hits = await retriever.asearch("factory committees", 1)
    assert hits == retriever.search("factory committees", 1)
    assert hits[0].passage.id == "t:2"
