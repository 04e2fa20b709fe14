"""rank-bm25 serves small libraries, the postings index large ones: the scores are the same."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from rank_bm25 import BM25Okapi

from bot.config import Config, RetrievalConfig
from bot.library.loader import bundled_library_dir, load_library
from bot.retrieval.fast_bm25 import PostingsBM25, Variant
from bot.retrieval.index import indexed_text
from bot.retrieval.rank_engine import RankBM25
from bot.retrieval.retriever import RANK_BM25_MAX_PASSAGES, choose_engine
from bot.retrieval.tokenize import Tokenizer, TokenizerOptions

QUESTIONS = [
    "why did the kronstadt sailors rebel",
    "who led the kuzbass colony",
    "workers control factory committees",
    "lenin trotsky trade unions tenth congress",
    "makhno",
]


@pytest.fixture(scope="module")
def bundled_tokens() -> list[list[str]]:
    library = load_library([bundled_library_dir()], 700)
    config = RetrievalConfig()
    tokenizer = Tokenizer(TokenizerOptions())
    return [tokenizer(indexed_text(p, library, config)) for p in library.passages]


@pytest.mark.parametrize("variant", ["okapi", "plus", "l"])
def test_rank_bm25_and_the_postings_index_rank_the_bundled_library_alike(
    bundled_tokens: list[list[str]], variant: Variant
) -> None:
    small = RankBM25(bundled_tokens, variant=variant, k1=1.2, b=0.75)
    large = PostingsBM25(bundled_tokens, variant=variant, k1=1.2, b=0.75)
    tokenizer = Tokenizer(TokenizerOptions())
    for question in QUESTIONS:
        terms = tokenizer(question)
        np.testing.assert_allclose(small.scores(terms), large.scores(terms), rtol=1e-6)
        for k in (1, 5, 20):
            a, b = small.top_k(terms, k), large.top_k(terms, k)
            assert [i for i, _ in a] == [i for i, _ in b]
            np.testing.assert_allclose([s for _, s in a], [s for _, s in b], rtol=1e-6)
    assert small.document_frequency("kronstadt") == large.document_frequency("kronstadt") > 0
    assert small.terms() == large.terms()


def test_the_engine_is_chosen_by_library_size_unless_configured() -> None:
    assert choose_engine("auto", RANK_BM25_MAX_PASSAGES) == "rank-bm25"
    assert choose_engine("auto", RANK_BM25_MAX_PASSAGES + 1) == "postings"
    assert choose_engine("postings", 10) == "postings"
    assert choose_engine("rank-bm25", 10**6) == "rank-bm25"


def test_an_unknown_engine_name_is_refused_naming_the_choices(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="rank-bm25"):
        Config(data_dir=tmp_path, retrieval={"engine": "lucene"})


def test_the_last_scores_are_kept_read_only_and_change_with_the_question() -> None:
    corpus = [["coal", "mine"], ["kronstadt", "sailors"], ["coal", "kuzbass"]]
    engine = RankBM25(corpus)
    first = engine.scores(["coal"])
    assert engine.scores(["coal"]) is first  # asked twice by one answer: computed once
    with pytest.raises(ValueError, match="read-only"):
        first[0] = 99.0
    other = engine.scores(["kronstadt"])
    assert other[1] > 0 and other[0] == other[2] == 0
    again = engine.scores(["coal"])
    assert again is not first and np.array_equal(again, first)
    assert list(again) == list(BM25Okapi(corpus, k1=1.5, b=0.75).get_scores(["coal"]))
