"""Tokens to term rows at array speed, for building an index.

Looking each token up in a Python dict cost about 0.35 µs a token: most of a million-passage
build went to touching ninety million string objects one by one. Here a run of passages is
joined into one UTF-8 buffer with a separator byte no token contains, and a compiled loop
hashes each token's bytes into an open-addressing table of the terms seen so far, numbering
new terms in order of first appearance (rank-bm25's order, which its idf floor depends on).
Each slot keeps a term's first eight bytes beside its row, so the five tokens in six that
are that short are matched without reading the term's bytes elsewhere (at a million
passages the table outgrows the caches, and every extra random read costs a token ~30 ns).
The table lives in arrays that grow between runs, so only the joining and encoding touch
Python objects, and those are single C calls per run. The two halves are separate calls
(`encode` holds the GIL, `intern` releases it), so a build can join the next run while the
table numbers this one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any

import numpy as np
from numba import njit
from numpy.typing import NDArray

_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)
# Control characters tried in turn as the separator of a run; a run whose tokens hold every
# one of them is interned a token at a time.
_SEPARATORS = tuple(chr(c) for c in range(32))
_NO_BYTE = 256  # the separator of a lone token: it matches no byte


@njit(cache=True, nogil=True)  # type: ignore[untyped-decorator]
def _key(buf: Any, start: int, end: int) -> tuple[np.uint64, np.int64]:
    """A token's hash (FNV-1a of its bytes) and its first eight bytes packed in a word."""
    h = _FNV_OFFSET
    packed = np.uint64(0)
    for i in range(start, end):
        h = (h ^ np.uint64(buf[i])) * _FNV_PRIME
        if i - start < 8:
            packed |= np.uint64(buf[i]) << np.uint64(8 * (i - start))
    return h, np.int64(packed)


@njit(cache=True, nogil=True)  # type: ignore[untyped-decorator]
def _mark(h: np.uint64, length: int) -> np.int64:
    """A slot's second word without its row: 23 bits of the hash and the length (up to
    255), so most probes that do not match are told apart there."""
    return np.int64(h >> np.uint64(41)) << np.int64(40) | np.int64(min(length, 255)) << np.int64(32)


@njit(cache=True, nogil=True)  # type: ignore[untyped-decorator]
def _same_tail(buf: Any, start: int, end: int, data: Any, t0: int, t1: int) -> bool:
    """Whether a token longer than eight bytes is the term saved at `data[t0:t1]`, whose
    first eight bytes are known to match (the mark holds lengths only up to 255)."""
    if end - start != t1 - t0:
        return False
    for i in range(8, end - start):  # noqa: SIM110 (numba compiles loops, not generators)
        if buf[start + i] != data[t0 + i]:
            return False
    return True


@njit(cache=True, nogil=True)  # type: ignore[untyped-decorator]
def _rehash(data: Any, starts: Any, terms: int, size: int) -> Any:
    slots = np.full((size, 2), -1, dtype=np.int64)
    mask = size - 1
    for term in range(terms):
        h, packed = _key(data, starts[term], starts[term + 1])
        at = np.int64(h & np.uint64(mask))
        while slots[at, 1] != -1:
            at = (at + 1) & mask
        slots[at, 0] = packed
        slots[at, 1] = _mark(h, starts[term + 1] - starts[term]) | term
    return slots


@njit(cache=True, nogil=True)  # type: ignore[untyped-decorator]
def _intern(
    buf: Any,
    position: int,
    separator: int,
    token: int,
    tokens: int,
    slots: Any,
    data: Any,
    starts: Any,
    terms: int,
    rows: Any,
) -> tuple[int, int, int]:
    """Write the rows of tokens `token`.. of `buf` (the next one starting at byte
    `position`) to `rows`, adding unseen terms; stop early when the table is half full.
    Returns the term count, the next token and its byte position.

    A slot is two words: the term's first eight bytes, and its row with the mark of its
    hash and length. Most tokens are eight bytes or shorter, so a match is decided inside
    the slot, one cache line, without reading the term's bytes (which would be two more
    random reads: the table outgrows the caches at a million passages)."""
    mask = len(slots) - 1
    low = np.int64(0xFFFFFFFF)
    while token < tokens and 2 * terms < len(slots):
        end = position
        while end < len(buf) and buf[end] != separator:
            end += 1
        h, packed = _key(buf, position, end)
        mark = _mark(h, end - position)
        at = np.int64(h & np.uint64(mask))
        while True:
            value = slots[at, 1]
            if value == -1:
                term = terms
                slots[at, 0] = packed
                slots[at, 1] = mark | term
                t0 = starts[term]
                for i in range(end - position):
                    data[t0 + i] = buf[position + i]
                starts[term + 1] = t0 + end - position
                terms += 1
                break
            term = value & low
            if (
                value - term == mark
                and slots[at, 0] == packed
                and (
                    end - position <= 8
                    or _same_tail(buf, position, end, data, starts[term], starts[term + 1])
                )
            ):
                break
            at = (at + 1) & mask
        rows[token] = term
        token += 1
        position = end + 1
    return terms, token, position


@njit(cache=True, nogil=True)  # type: ignore[untyped-decorator]
def place(hashes: Any, size: int) -> Any:
    """Positions 0.. of keys with `hashes` in a table of `size` slots, linear probing (the
    term table's layout, see `_terms.py`)."""
    slots = np.full(size, -1, dtype=np.int32)
    mask = np.uint64(size - 1)
    for position in range(len(hashes)):
        at = np.int64(hashes[position] & mask)
        while slots[at] != -1:
            at = (at + 1) & (size - 1)
        slots[at] = position
    return slots


def _grown(array: NDArray[Any], needed: int) -> NDArray[Any]:
    if needed <= len(array):
        return array
    bigger = np.empty(max(needed, 2 * len(array)), dtype=array.dtype)
    bigger[: len(array)] = array
    return bigger


@dataclass(frozen=True)
class EncodedRun:
    """A run's tokens as UTF-8: one buffer of tokens split by `separator`, or (when every
    separator occurs inside some token) one buffer a token, split by nothing."""

    buffers: list[NDArray[np.uint8]]
    separator: int
    tokens: int


def encode(passages: Sequence[Sequence[str]], tokens: int) -> EncodedRun:
    """The tokens of `passages` (which hold `tokens` tokens), ready for `TermInterner.intern`."""
    if tokens == 0:
        return EncodedRun([], _NO_BYTE, 0)
    for separator in _SEPARATORS:
        # Passage by passage, then the passages: twice as fast as one join of a flat list
        # of the words, which costs a list as long as the run. Empty passages add nothing.
        joined = separator.join(map(separator.join, filter(len, passages)))
        if joined.count(separator) == tokens - 1:
            return EncodedRun([_encoded(joined)], ord(separator), tokens)
    words = chain.from_iterable(passages)
    return EncodedRun([_encoded(word) for word in words], _NO_BYTE, tokens)


class TermInterner:
    """Term -> row, numbered in order of first appearance, fed a run of passages at a time."""

    def __init__(self) -> None:
        self._slots: NDArray[np.int64] = np.full((1 << 10, 2), -1, dtype=np.int64)
        self._data: NDArray[np.uint8] = np.empty(1 << 12, dtype=np.uint8)
        self._starts: NDArray[np.int64] = np.zeros(257, dtype=np.int64)
        self._terms = 0

    def __len__(self) -> int:
        return self._terms

    def rows(self, passages: Sequence[Sequence[str]], tokens: int) -> NDArray[np.int32]:
        """The row of every token of `passages` (which hold `tokens` tokens), in order."""
        return self.intern(encode(passages, tokens))

    def intern(self, run: EncodedRun) -> NDArray[np.int32]:
        """The row of every token of an encoded run, in order. Runs must come in corpus
        order (rows number terms by first appearance); one thread at a time."""
        rows = np.empty(run.tokens, dtype=np.int32)
        if len(run.buffers) == 1:
            self._intern(run.buffers[0], run.separator, run.tokens, rows)
        else:
            for at, buffer in enumerate(run.buffers):
                self._intern(buffer, _NO_BYTE, 1, rows[at : at + 1])
        return rows

    def _intern(self, buf: NDArray[np.uint8], separator: int, tokens: int, rows: Any) -> None:
        self._starts = _grown(self._starts, self._terms + tokens + 1)
        self._data = _grown(self._data, int(self._starts[self._terms]) + len(buf))
        token = position = 0
        while True:
            self._terms, token, position = _intern(
                buf,
                position,
                separator,
                token,
                tokens,
                self._slots,
                self._data,
                self._starts,
                self._terms,
                rows,
            )
            if token == tokens:
                return
            self._slots = _rehash(self._data, self._starts, self._terms, 2 * len(self._slots))

    def terms(self) -> list[str]:
        """Every term, by row."""
        raw = self._data[: int(self._starts[self._terms])].tobytes()
        bounds = self._starts[: self._terms + 1].tolist()
        return [
            raw[bounds[i] : bounds[i + 1]].decode("utf-8", "surrogatepass")
            for i in range(self._terms)
        ]


def _encoded(text: str) -> NDArray[np.uint8]:
    return np.frombuffer(text.encode("utf-8", "surrogatepass"), dtype=np.uint8)
