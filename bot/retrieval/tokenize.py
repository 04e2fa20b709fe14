"""The one tokenizer, used for passages and questions alike.

Accents are folded ("Guérin" matches "guerin"), curly apostrophes are treated like straight
ones, possessives are dropped, and words are stemmed, so chat spelling meets book spelling.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import snowballstemmer

# A compact English stop list: function words only, so names and numbers always count.
STOP_WORDS = frozenset(
    """a about above after again against all am an and any are aren as at be because been
    before being below between both but by can could did do does doing don down during each
    few for from further had has have having he her here hers herself him himself his how i
    if in into is isn it its itself just me more most my myself no nor not now of off on once
    only or other our ours ourselves out over own same she should so some such than that the
    their theirs them themselves then there these they this those through to too under until
    up very was wasn we were weren what when where which while who whom why will with would
    you your yours yourself yourselves s t d ll m re ve y also did does tell get got like
    many much said say says one ever""".split()
)

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*", re.UNICODE)


def fold(text: str) -> str:
    """Lowercase and strip accents: the form every comparison is made in."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def words(text: str) -> list[str]:
    """The folded words of `text`, possessive endings removed, before stemming."""
    result = []
    for match in _WORD.finditer(fold(text)):
        word = match.group(0).replace("’", "'")
        if word.endswith("'s"):
            word = word[:-2]
        result.extend(part for part in word.split("'") if part)
    return result


@dataclass(frozen=True)
class TokenizerOptions:
    stemming: bool = True
    stop_words: bool = True


class Tokenizer:
    """Turns text into index terms; the same instance serves documents and questions."""

    def __init__(self, options: TokenizerOptions) -> None:
        self.options = options
        stemmer = snowballstemmer.stemmer("english")
        self._stem: Callable[[str], str] = (
            lru_cache(maxsize=200_000)(stemmer.stemWord) if options.stemming else str
        )

    def __call__(self, text: str) -> list[str]:
        tokens = words(text)
        if self.options.stop_words:
            tokens = [t for t in tokens if t not in STOP_WORDS]
        return [self._stem(t) for t in tokens]
