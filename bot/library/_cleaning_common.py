"""Pieces shared by the format cleaners: result types, vocabulary, and word-level repairs.

The cleaners differ in how they find paragraphs; what they do to the words inside
(whitespace, footnote numbers, broken hyphens, glued words) is the same and lives here
so that every format repairs text by the same rules.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

_WORD = re.compile(r"[^\W\d_]+(?:[-'’][^\W\d_]+)*")
_LETTERS = re.compile(r"[^\W\d_]+")
# A word broken over a line end: its two halves are not words of the library.
_LINE_BROKEN = re.compile(
    r"[^\W\d_]+-[ \t]*\n\s*[^\W\d_]+|[^\W\d_]+-[ \t]*$|^ [^\W\d_]+", re.MULTILINE
)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200d\ufeff]")
_SPACES = re.compile(r"\s+")
_CLOSERS = "\"'”’»)]*_"
TERMINAL = frozenset(".!?:;…")
# A footnote number glued to the end of a word: `process’1`, `gains5`, `lives?1`, `Taibo,10`.
# Directly after a letter only when that letter is lowercase, so `G20` and `COVID19` survive.
_GLUED_NOTE_NUMBER = re.compile(
    r"(?:(?<=[a-zà-ÿ])|(?<=[^\W\d_][.,;:?!”’\"\)\]])|(?<=[^\W\d_][.,;:?!”’\"\)\]]{2}))"
    r"\d{1,2}(?=[\s.,;:)\]]|$)"
)
_SENTENCE_GLUE = re.compile(r"(?<=[a-z][.?!])(?=[A-Z][a-z])|(?<=[a-z],)(?=[A-Z])")
_ENDINGS = ("e", "ed", "es", "ing", "ment", "ments", "tion", "tions", "ly")
_MAX_SPLIT_LEN = 40
_MAX_WORD = 60
_SPLIT_PENALTY = 3.0
# Very common words that lose their space to a neighbour (`twomonths`, `groupswere`);
# English prefixes (in-, at-, for-, to-, on-) are left out, or `inside` would split.
_GLUE_FIRST = frozenset(["of", "the", "and", "by", "from", "two", "three"])
_GLUE_SECOND = frozenset(["were", "was", "would", "with"])


@dataclass(frozen=True)
class Block:
    """One unit of reading order: a heading or a paragraph of the authors' words."""

    kind: Literal["heading", "paragraph"]
    text: str
    level: int = 0


@dataclass(frozen=True)
class CleanText:
    """A document reduced to what the bot may quote, with the notes kept aside."""

    blocks: tuple[Block, ...] = ()
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class CleaningHints:
    """Per-document facts no general rule can find (set in the catalogue)."""

    end_marker: str | None = None
    drop_lines: tuple[str, ...] = ()


@dataclass(frozen=True)
class Vocabulary:
    """Word counts of the whole library: the judge of broken hyphens and glued words.

    Halves of words broken over a line end are not counted, so `exe-`/`cute` does not
    make "exe" a word.
    """

    counts: Counter[str] = field(default_factory=Counter)
    pairs: Counter[tuple[str, str]] = field(default_factory=Counter)

    @classmethod
    def from_texts(cls, texts: Iterable[str]) -> Vocabulary:
        counts: Counter[str] = Counter()
        pairs: Counter[tuple[str, str]] = Counter()
        for text in texts:
            lowered = _LINE_BROKEN.sub(" , ", text).lower()
            previous: re.Match[str] | None = None
            for match in _WORD.finditer(lowered):
                word = match.group(0)
                counts[word] += 1
                if "-" in word or "'" in word or "’" in word:
                    counts.update(_LETTERS.findall(word))
                if previous and not lowered[previous.end() : match.start()].strip():
                    pairs[(previous.group(0), word)] += 1
                previous = match
        return cls(counts, pairs)

    def count(self, word: str) -> int:
        return self.counts.get(word.lower(), 0)

    def pair_count(self, first: str, second: str) -> int:
        """How often the library writes `first second` as two words in a row."""
        return self.pairs.get((first.lower(), second.lower()), 0)

    @cached_property
    def total(self) -> int:
        return max(1, sum(self.counts.values()))


def sanitize(raw: str) -> str:
    """Unify line ends and drop control characters, so every cleaner sees plain lines."""
    return _CONTROL.sub("", raw.replace("\r\n", "\n").replace("\r", "\n"))


def squash(text: str) -> str:
    """Single-space a paragraph."""
    return _SPACES.sub(" ", text).strip()


def ends_sentence(text: str) -> bool:
    """Whether a paragraph or line ends as a finished sentence would."""
    stripped = text.rstrip().rstrip(_CLOSERS)
    return bool(stripped) and stripped[-1] in TERMINAL


def strip_note_numbers(text: str) -> str:
    """Remove footnote reference numbers glued to words (`process’1` -> `process’`)."""
    return _GLUED_NOTE_NUMBER.sub("", text)


def unglue_sentences(text: str) -> str:
    """Put back the space lost after a full stop or comma (`control.They`)."""
    return _SENTENCE_GLUE.sub(" ", text)


def join_hyphenated(left: str, right: str, vocabulary: Vocabulary) -> str:
    """Join `left-` at a line end with `right`, keeping the hyphen only for real compounds.

    `left` is the text before the hyphen (its last word is judged), `right` the word after.
    """
    match = re.search(r"[^\W\d_]+$", left)
    head = match.group(0) if match else ""
    tail_match = re.match(r"[^\W\d_]+", right)
    tail = tail_match.group(0) if tail_match else ""
    if not head or not tail:
        return f"{left}-{right}"
    compound = re.search(r"[^\W\d_]+(?:-[^\W\d_]+)*$", left)
    hyphenated = f"{compound.group(0) if compound else head}-{tail}"
    joined = head + tail
    if vocabulary.count(hyphenated) > 0:
        return f"{left}-{right}"
    if vocabulary.count(joined) > 0:
        return left + right
    if tail[0].isupper() or "-" in hyphenated[: -len(tail) - 1]:
        return f"{left}-{right}"  # a name, or a compound that goes on (`less-than-middle`)
    both_words = vocabulary.count(head) > 0 and vocabulary.count(tail) > 0
    if both_words and len(tail) > 2 and len(head) > 1:
        return f"{left}-{right}"
    return left + right


def hyphen_is_certain(left: str, right: str, vocabulary: Vocabulary) -> bool:
    """Whether the library itself vouches for `left-`/`right` being one word."""
    head = re.search(r"[^\W\d_]+$", left)
    tail = re.match(r"[^\W\d_]+", right)
    if not head or not tail:
        return False
    stem, ending = head.group(0), tail.group(0)
    if vocabulary.count(stem + ending) > 0 or vocabulary.count(f"{stem}-{ending}") > 0:
        return True
    # `replac-`/`ing`: the library knows the word in another inflection (`replaced`).
    return ending.lower() in _ENDINGS and any(vocabulary.count(stem + e) for e in _ENDINGS)


def reflow(lines: Iterable[str], vocabulary: Vocabulary) -> str:
    """Join hard-wrapped lines into one paragraph, mending words broken at line ends."""
    pieces: list[str] = []
    for raw_line in lines:
        line = raw_line.strip()
        if not line:
            continue
        last = pieces[-1] if pieces else ""
        broken_word = last.endswith("-") and len(last) > 1 and last[-2].isalpha()
        if broken_word and line[0].isalpha() and len(last.rpartition(" ")[2]) <= _MAX_WORD:
            head, _, broken = pieces.pop().rpartition(" ")
            first, _, rest = line.partition(" ")
            joined = join_hyphenated(broken[:-1], first, vocabulary)
            pieces.append(f"{head} {joined}" if head else joined)
            if rest:
                pieces.append(rest)
        else:
            pieces.append(line)
    return squash(" ".join(pieces))


def _is_part(word: str, vocabulary: Vocabulary) -> bool:
    return (len(word) >= 2 or word == "a") and vocabulary.count(word) >= 1


def _segment(word: str, vocabulary: Vocabulary) -> list[str] | None:
    """Best split of an unknown word into known words, or None if none is good enough."""
    lower = word.lower()
    total = vocabulary.total
    best: list[tuple[float, int] | None] = [None] * (len(lower) + 1)
    best[0] = (0.0, 0)
    for end in range(1, len(lower) + 1):
        for start in range(end):
            previous = best[start]
            part = lower[start:end]
            if previous is None or part == lower or not _is_part(part, vocabulary):
                continue
            score = previous[0] + math.log(vocabulary.count(part) / total) - _SPLIT_PENALTY
            current = best[end]
            if current is None or score > current[0]:
                best[end] = (score, start)
    if best[len(lower)] is None:
        return None
    cuts: list[int] = []
    end = len(lower)
    while end > 0:
        step = best[end]
        assert step is not None
        cuts.append(step[1])
        end = step[1]
    cuts.reverse()
    if len(cuts) < 2:
        return None
    bounds = [*cuts, len(word)]
    parts = [word[bounds[i] : bounds[i + 1]] for i in range(len(cuts))]
    seen = vocabulary.count(word)
    pairs = list(itertools.pairwise(parts))
    if all(vocabulary.pair_count(a, b) > seen for a, b in pairs):
        return parts
    if len(parts) == 2 and _glued_little_word(parts[0], parts[1]):
        return parts
    return None


def _glued_little_word(first: str, second: str) -> bool:
    """A very common little word stuck to a real word, when the library never wrote
    the pair apart (`two`+`months`); `he`+`re` or `in`+`side` do not qualify."""
    a, b = first.lower(), second.lower()
    return (a in _GLUE_FIRST and len(b) >= 3) or (b in _GLUE_SECOND and len(a) >= 3)


def split_glued(text: str, vocabulary: Vocabulary) -> str:
    """Split words that lost their spaces (`ofworkerswere`), judged by the library's words.

    A word the library knows (three times or more) is never split; only a split into
    words the library uses often enough is accepted.
    """

    repaired: dict[str, str] = {}

    def repair(match: re.Match[str]) -> str:
        word = match.group(0)
        if len(word) < 4 or len(word) > _MAX_SPLIT_LEN or vocabulary.count(word) >= 3:
            return word
        if word not in repaired:
            parts = _segment(word, vocabulary)
            repaired[word] = " ".join(parts) if parts else word
        return repaired[word]

    return _LETTERS.sub(repair, text)
