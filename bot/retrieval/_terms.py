"""The term dictionary of a saved index, opened without reading it.

A million-passage library has hundreds of thousands of distinct terms; rebuilding a Python
dict of them (and checking each is a string) took most of the index's load time. Saved here
as arrays: the terms' UTF-8 bytes in sorted order, one after another; where each starts;
each one's row in the index; and an open-addressing hash table of their positions (keyed by
a stable hash of the bytes, so it is valid in any process). Opening them is memory mapping;
a lookup is a hash and a probe or two; sorted order serves prefix searches.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

FILES = ("term_bytes", "term_starts", "term_rows", "term_slots")


def _hash(key: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "little")


def _slots_for(encoded: Sequence[bytes]) -> NDArray[np.int32]:
    """Positions of `encoded` (sorted terms) in a table at most half full, linear probing."""
    from bot.retrieval._interning import place  # compiled: only building needs it

    size = 1 << max(4, (2 * len(encoded)).bit_length())
    hashes = np.fromiter(map(_hash, encoded), dtype=np.uint64, count=len(encoded))
    slots: NDArray[np.int32] = place(hashes, size)
    return slots


class TermTable:
    """Sorted terms -> their rows; `get` like a dict's."""

    def __init__(
        self,
        data: NDArray[np.uint8],
        starts: NDArray[np.int64],
        rows: NDArray[np.int32],
        slots: NDArray[np.int32],
    ) -> None:
        self._data = data
        self._starts = starts
        self._rows = rows
        self._slots = slots
        self._mask = len(slots) - 1

    @classmethod
    def of(cls, terms: Sequence[str]) -> TermTable:
        """The table of `terms`, where a term's row is its position in `terms`."""
        encoded = [t.encode() for t in terms]
        order = sorted(range(len(encoded)), key=encoded.__getitem__)
        lengths = np.array([len(encoded[i]) for i in order], dtype=np.int64)
        starts = np.zeros(len(order) + 1, dtype=np.int64)
        np.cumsum(lengths, out=starts[1:])
        data = np.frombuffer(b"".join(encoded[i] for i in order), dtype=np.uint8)
        slots = _slots_for([encoded[i] for i in order])
        return cls(data, starts, np.array(order, dtype=np.int32), slots)

    def __len__(self) -> int:
        return len(self._rows)

    def _term(self, position: int) -> bytes:
        return self._data[self._starts[position] : self._starts[position + 1]].tobytes()

    def _lower_bound(self, key: bytes) -> int:
        low, high = 0, len(self._rows)
        while low < high:
            mid = (low + high) // 2
            if self._term(mid) < key:
                low = mid + 1
            else:
                high = mid
        return low

    def get(self, term: str, default: int | None = None) -> int | None:
        key = term.encode()
        at = _hash(key) & self._mask
        while (position := int(self._slots[at])) != -1:
            if self._term(position) == key:
                return int(self._rows[position])
            at = (at + 1) & self._mask
        return default

    def sorted_terms(self) -> list[str]:
        return [self._term(i).decode() for i in range(len(self._rows))]

    def starting_with(self, prefix: str, limit: int) -> list[str] | None:
        """The terms that begin with `prefix`, in order; None when there are more than
        `limit` (counted by two binary searches, never read)."""
        key = prefix.encode()
        first = self._lower_bound(key)
        last = self._lower_bound(key + b"\xff")  # no UTF-8 byte is 0xff: past every match
        if last - first > limit:
            return None
        return [self._term(position).decode() for position in range(first, last)]

    def longest(self) -> int:
        """The length of the longest term, in UTF-8 bytes (at least its length in letters)."""
        return int(np.diff(self._starts).max()) if len(self._rows) else 0

    def arrays(self) -> dict[str, NDArray[np.generic]]:
        return {
            "term_bytes": self._data,
            "term_starts": self._starts,
            "term_rows": self._rows,
            "term_slots": self._slots,
        }

    @classmethod
    def load(cls, folder: Path, terms: int) -> TermTable | None:
        """The saved table, or None when its arrays are not a table of `terms` terms."""
        data, starts, rows, slots = (
            np.load(folder / f"{name}.npy", mmap_mode="r").view(np.ndarray) for name in FILES
        )
        if not (
            data.dtype == np.uint8
            and data.ndim == 1
            and starts.dtype == np.int64
            and starts.shape == (terms + 1,)
            and rows.dtype == np.int32
            and rows.shape == (terms,)
            and int(starts[0]) == 0
            and int(starts[-1]) == len(data)
            and bool(np.all(starts[1:] >= starts[:-1]))
            and (terms == 0 or (int(rows.min()) >= 0 and int(rows.max()) < terms))
            and bool(np.all(np.bincount(rows, minlength=terms) == 1))
            and slots.dtype == np.int32
            and len(slots) >= 2 * terms
            and len(slots) & (len(slots) - 1) == 0
            and int(slots.min()) >= -1
            and int(slots.max()) < terms
            and int(np.count_nonzero(slots >= 0)) == terms
        ):
            return None
        return cls(data, starts, rows, slots)
