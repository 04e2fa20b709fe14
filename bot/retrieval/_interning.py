"""Tokens to term rows at array speed, for building an index.

Looking each token up in a Python dict cost about 0.35 µs a token: most of a million-passage
build went to touching ninety million string objects one by one. Here a run of passages is
joined into one UTF-8 buffer with a separator byte no token contains, and a compiled loop
hashes each token's bytes into an open-addressing table of the terms seen so far, numbering
new terms in order of first appearance (rank-bm25's order, which its idf floor depends on).
The table lives in arrays that grow between runs, so only the joining and encoding touch
Python objects, and those are single C calls per run.
"""

from __future__ import annotations

from collections.abc import Sequence
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
def _hash(buf: Any, start: int, end: int) -> np.uint64:
    h = _FNV_OFFSET
    for i in range(start, end):
        h = (h ^ np.uint64(buf[i])) * _FNV_PRIME
    return h


@njit(cache=True, nogil=True)  # type: ignore[untyped-decorator]
def _same(buf: Any, start: int, end: int, data: Any, t0: int, t1: int) -> bool:
    if end - start != t1 - t0:
        return False
    for i in range(end - start):  # noqa: SIM110 (numba compiles loops, not generators)
        if buf[start + i] != data[t0 + i]:
            return False
    return True


@njit(cache=True, nogil=True)  # type: ignore[untyped-decorator]
def _slot_value(h: np.uint64, term: int) -> np.int64:
    """A slot holds the term's row and the top half of its hash, so most probes that do not
    match are told apart without reading the term."""
    return np.int64((h >> np.uint64(32)) << np.uint64(31)) << np.int64(1) | np.int64(term)


@njit(cache=True, nogil=True)  # type: ignore[untyped-decorator]
def _rehash(data: Any, starts: Any, terms: int, size: int) -> Any:
    slots = np.full(size, -1, dtype=np.int64)
    mask = size - 1
    for term in range(terms):
        h = _hash(data, starts[term], starts[term + 1])
        at = np.int64(h & np.uint64(mask))
        while slots[at] != -1:
            at = (at + 1) & mask
        slots[at] = _slot_value(h, term)
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
    Returns the term count, the next token and its byte position."""
    mask = len(slots) - 1
    low = np.int64(0xFFFFFFFF)
    while token < tokens and 2 * terms < len(slots):
        end = position
        while end < len(buf) and buf[end] != separator:
            end += 1
        h = _hash(buf, position, end)
        mark = _slot_value(h, 0)
        at = np.int64(h & np.uint64(mask))
        while True:
            value = slots[at]
            if value == -1:
                term = terms
                slots[at] = mark | term
                t0 = starts[term]
                for i in range(end - position):
                    data[t0 + i] = buf[position + i]
                starts[term + 1] = t0 + end - position
                terms += 1
                break
            term = value & low
            if value - term == mark and _same(
                buf, position, end, data, starts[term], starts[term + 1]
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


class TermInterner:
    """Term -> row, numbered in order of first appearance, fed a run of passages at a time."""

    def __init__(self) -> None:
        self._slots: NDArray[np.int64] = np.full(1 << 10, -1, dtype=np.int64)
        self._data: NDArray[np.uint8] = np.empty(1 << 12, dtype=np.uint8)
        self._starts: NDArray[np.int64] = np.zeros(257, dtype=np.int64)
        self._terms = 0

    def __len__(self) -> int:
        return self._terms

    def rows(self, passages: Sequence[Sequence[str]], tokens: int) -> NDArray[np.int32]:
        """The row of every token of `passages` (which hold `tokens` tokens), in order."""
        rows = np.empty(tokens, dtype=np.int32)
        if tokens == 0:
            return rows
        words = list(chain.from_iterable(passages))
        for separator in _SEPARATORS:
            joined = separator.join(words)
            if joined.count(separator) == tokens - 1:
                self._intern(_encoded(joined), ord(separator), tokens, rows)
                return rows
        for at, word in enumerate(words):  # every separator occurs inside some token
            self._intern(_encoded(word), _NO_BYTE, 1, rows[at : at + 1])
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
