"""Cleaning what people type before the core looks at it."""

from __future__ import annotations

import re
import unicodedata

_SPACE = re.compile(r"\s+")
# References to people, roles and places that say nothing about the question: Discord's
# <@user>, <@!user>, <@&role>, <#channel>, @everyone and @here; Matrix's @user:server,
# #alias:server and !room:server. (The bot's own mention is removed by the adapter first.)
_REFERENCE = re.compile(
    r"<(?:@[!&]?|#)\d+>"
    r"|(?<!\w)@(?:everyone|here)\b"
    r"|(?<![\w@#!])[@#!][\w.=/+-]+:[\w.-]+(?::\d+)?"
)


def normalize_input(text: str) -> str:
    """Drop control and format characters, collapse whitespace, trim."""
    kept = []
    for ch in text:
        category = unicodedata.category(ch)
        if category in {"Cc", "Cf", "Cs", "Co", "Cn"}:
            kept.append(" " if ch in "\t\n\r\x0b\x0c" else "")
        else:
            kept.append(ch)
    return _SPACE.sub(" ", "".join(kept)).strip()


def without_references(text: str) -> str:
    """`text` without mentions of people, roles, channels or rooms, whitespace collapsed: a
    question is the same question with `@everyone <@123>` in it."""
    return _SPACE.sub(" ", _REFERENCE.sub(" ", text)).strip()


def has_words(text: str) -> bool:
    """True when the text has at least one letter or digit (not only emoji or punctuation)."""
    return any(ch.isalnum() for ch in text)


def mostly_non_latin(text: str) -> bool:
    letters = [ch for ch in text if ch.isalpha()]
    if not letters:
        return False
    latin = sum(1 for ch in letters if "LATIN" in unicodedata.name(ch, ""))
    return latin / len(letters) < 0.5


def quote_typed(typed: str, limit: int = 40) -> str:
    """What someone typed, quoted for a reply: shortened, and unable to break out of quotes
    or open a code span on platforms that read Markdown."""
    cleaned = typed.replace("`", "'").replace("“", '"').replace("”", '"')
    if len(cleaned) > limit:
        cleaned = cleaned[: limit - 1] + "…"
    return f"“{cleaned}”"
