"""How specific a word is in everyday English: "kronstadt" says more than "wrote".

Uses wordfreq's Zipf scale (about 1 for rare words, 7 for "the").
"""

from __future__ import annotations

from functools import lru_cache

from wordfreq import zipf_frequency

COMMON = 6.5  # Zipf value at or above which a word counts for the least
RARE = 4.0  # Zipf value at or below which a word counts in full
FLOOR = 0.2


@lru_cache(maxsize=50_000)
def specificity(word: str) -> float:
    """1.0 for rare words, down to FLOOR for the most common ones."""
    if word.isdigit():
        return 1.0
    zipf = zipf_frequency(word, "en")
    if zipf <= RARE:
        return 1.0
    return max(FLOOR, 1.0 - (1.0 - FLOOR) * (zipf - RARE) / (COMMON - RARE))


@lru_cache(maxsize=50_000)
def is_rare(word: str, below: float = 4.0) -> bool:
    """Rare in everyday English: likely a name ("Kutkin", "Trotsky"), not "Revolution"."""
    return zipf_frequency(word, "en") < below
