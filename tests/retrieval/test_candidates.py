"""Candidates carry each passage's, sentence's and pair's cosine with the question."""

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from bot.library.segmentation import Passage
from bot.retrieval.candidates import gather
from bot.retrieval.retriever import BM25Params, Retriever, build_bm25
from bot.retrieval.tokenize import Tokenizer, TokenizerOptions
from bot.semantic.encoder import Vectors
from bot.semantic.vectors import SemanticIndex

SENTENCES = [
    ("The sailors of Kronstadt rose in March 1921.", "They demanded free soviets."),
    ("Factory committees ran the Putilov works.",),
    ("The Kuzbass colony mined coal.", "Its miners came from America.", "Rutgers led it."),
]


class UnusedEncoder:
    """Gathering reads stored vectors only; the question's vector is given."""

    name = "unused"
    dim = 4

    def queries(self, texts: Sequence[str]) -> Vectors:
        raise AssertionError("gather must not encode")

    def passages(self, texts: Sequence[str]) -> Vectors:
        raise AssertionError("gather must not encode")


def _library() -> tuple[Retriever, SemanticIndex]:
    tokenizer = Tokenizer(TokenizerOptions())
    passages = [Passage(f"t:{i + 1}", "t", i + 1, "S", s) for i, s in enumerate(SENTENCES)]
    retriever = Retriever(
        passages, build_bm25([tokenizer(p.text) for p in passages], BM25Params()), tokenizer
    )
    rng = np.random.default_rng(7)

    def unit(n: int) -> NDArray[np.float16]:
        v = rng.normal(size=(n, 4))
        return np.asarray(v / np.linalg.norm(v, axis=1, keepdims=True), dtype=np.float16)

    sentences = unit(6)
    sentences[4] = np.nan  # a damaged row: "Its miners came from America."
    semantic = SemanticIndex(
        UnusedEncoder(),
        passages=unit(3),
        sentences=sentences,
        pairs=unit(3),
        sentence_start=np.array([0, 2, 3, 6], dtype=np.int64),
    )
    return retriever, semantic


def test_each_candidate_gets_its_own_rows_cosines_and_a_damaged_row_reads_as_zero() -> None:
    retriever, semantic = _library()
    vector = np.array([0.5, 0.5, 0.5, 0.5], dtype=np.float32)
    candidates = gather(retriever, ["kuzbass", "kronstadt", "putilov"], vector, semantic)
    assert sorted(c.index for c in candidates) == [0, 1, 2]
    for c in candidates:
        rows = semantic.sentence_rows(c.index)
        expected = np.asarray(semantic.sentences[rows], dtype=np.float32) @ vector
        expected = np.nan_to_num(expected, nan=0.0)
        assert c.sentence_dense.shape == (len(c.passage.sentences),)
        assert np.allclose(c.sentence_dense, expected, atol=1e-6)
        assert c.pair_dense.shape == (len(c.passage.sentences) - 1,)
        pairs = np.asarray(semantic.pairs[semantic.pair_rows(c.index)], dtype=np.float32)
        assert np.allclose(c.pair_dense, pairs @ vector, atol=1e-6)
        passage = float(np.asarray(semantic.passages[c.index], dtype=np.float32) @ vector)
        assert abs(c.dense - passage) < 1e-6
        before = float(np.asarray(semantic.passages[c.index - 1], dtype=np.float32) @ vector)
        assert abs(c.previous_dense - (before if c.index else 0.0)) < 1e-6
    kuzbass = next(c for c in candidates if c.index == 2)
    assert kuzbass.sentence_dense[1] == 0.0 and np.isfinite(kuzbass.sentence_dense).all()
