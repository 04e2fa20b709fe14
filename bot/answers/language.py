"""How much of a question is English, so lexical evidence counts only as far as it can.

The library is English; a question in Russian or Spanish shares no words with it, and to the
word-matching features that looks exactly like an unrelated question. Their weight is scaled
by the share of the question's words that are not plainly another language's, and the
meaning-level features (multilingual embeddings) carry the rest.
"""

from __future__ import annotations

from functools import lru_cache

from wordfreq import zipf_frequency

from bot.retrieval.tokenize import words

# Languages a question is most likely to be in, besides English (wordfreq knows them all).
OTHER_LANGUAGES = ("de", "fr", "es", "it", "pt", "nl", "pl", "ru", "uk")
# A word is another language's when it is common there (Zipf >= 4, about once in 10,000
# words) and clearly more common there than in English (by 1 on the log scale, 10 times).
COMMON = 4.0
MARGIN = 1.0


@lru_cache(maxsize=50_000)
def is_foreign(word: str) -> bool:
    """Another language's word: written in another script, or common only elsewhere."""
    if any(ch.isalpha() and not ("a" <= ch <= "z") for ch in word):
        return True  # words are folded: accents are gone, so a letter past z is another script
    # The small word lists (down to about Zipf 3) load in a tenth of the time of the full ones
    # and hold every word this test needs.
    elsewhere = max(zipf_frequency(word, lang, wordlist="small") for lang in OTHER_LANGUAGES)
    return elsewhere >= COMMON and elsewhere >= zipf_frequency(word, "en") + MARGIN


def english_share(text: str) -> float:
    """1.0 for an English question (names and numbers count as English), 0.0 for one
    entirely in another language."""
    tokens = words(text)
    if not tokens:
        return 1.0
    return 1.0 - sum(is_foreign(t) for t in tokens) / len(tokens)
