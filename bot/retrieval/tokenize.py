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
    you your yours yourself yourselves s t d ll m re ve y also tell get got like said say
    says ever many much""".split()
    # Chat filler: words people type that carry no meaning a text could match.
    + """whats didnt doesnt dont couldnt wouldnt shouldnt wasnt werent isnt arent hadnt hasnt
    havent wont cant im ive lol lmao idk tbh btw pls please thanks thank hey hi ok okay guy guys
    thing things stuff actually exactly apparently basically really literally anyway someone
    somebody something kind sort besides gonna wanna kinda sorta""".split()
)

_WORD = re.compile(r"[^\W_]+(?:['’‐-][^\W_]+)*", re.UNICODE)


_COMBINING = re.compile(r"[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
_JOINERS = re.compile(r"['’‐-]")


def fold(text: str) -> str:
    """Lowercase and strip accents: the form every comparison is made in."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return decomposed if decomposed.isascii() else _COMBINING.sub("", decomposed)


def words(text: str) -> list[str]:
    """The folded words of `text`, possessive endings removed, before stemming.

    A hyphenated compound gives its parts and the joined word, so "co-ops" can meet
    "coops" and "anarcho-syndicalist" meets "syndicalist".
    """
    result: list[str] = []
    for token in _WORD.findall(fold(text)):
        if not _JOINERS.search(token):  # most words: nothing to split
            result.append(token)
            continue
        parts = token.replace("’", "'").replace("‐", "-").split("-")
        for word in parts:
            if len(parts) > 1 and len(word) < 3:
                continue
            if word.endswith("'s"):
                word = word[:-2]
            result.extend(part for part in word.split("'") if part)
        if len(parts) > 1 and any(len(p) < 3 for p in parts):
            joined = re.sub(r"[-‐]", "", token).replace("’", "'")
            result.append(joined.removesuffix("'s").replace("'", ""))
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
        return [term for _, term in self.pairs(text)]

    def pairs(self, text: str) -> list[tuple[str, str]]:
        """(word, term) pairs, so callers can still see the word a term came from."""
        tokens = words(text)
        if self.options.stop_words:
            tokens = [t for t in tokens if t not in STOP_WORDS]
        return [(t, self._stem(t)) for t in tokens]
