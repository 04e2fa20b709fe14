"""What kind of thing a question asks for, and whether a sentence holds one.

"How many" wants a count, "when did" a date, "who" a name. A sentence that matches the
question's words but holds no such thing is a near miss: quoting it would pass off related
text as the answer, so the composer prefers sentences of the right kind and declines when
none is.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from enum import StrEnum

from bot.retrieval.specificity import is_rare
from bot.retrieval.tokenize import fold


class Kind(StrEnum):
    DATE = "date"
    NUMBER = "number"
    PERSON = "person"  # a person or anything else known by a name
    OTHER = "other"


_YEAR = re.compile(r"\b1[6-9]\d\d\b|\b20\d\d\b")
# A count: digits that are not a year or an ordinal ("10th"), or a number word.
_COUNT = re.compile(
    r"\b(?!1[6-9]\d\d\b|20\d\d\b)\d[\d,.]*\b(?!st|nd|rd|th)"
    r"|\b(?:two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty"
    r"|fifty|hundred|thousand|million|dozen)s?\b",
    re.IGNORECASE,
)
# Capitalised words inside a sentence (not its first word, nor one after a full stop).
_CAPITALISED = re.compile(r"(?<!^)(?<![.!?:]\s)\b[A-Z][a-z]+")
_NOT_NAMES = frozenset(
    """The A An I In On At As It He She They We His Her Their This That These Those But And Or
    If When While After Before During Since January February March April May June July August
    September October November December Monday Tuesday Wednesday Thursday Friday Saturday
    Sunday""".split()
)


def question_kind(question: str) -> Kind:
    q = question.lower().strip()
    # "When did/was ..." asks for a date; "when the workers tried ..." only sets a scene.
    if re.match(r"when (did|was|were|is|are|do|does|had|has|have|exactly|will|would)\b", q) or (
        re.search(r"\b(what|which) (year|date|month|day)\b", q)
    ):
        return Kind.DATE
    if re.search(r"\b(how many|how much|what number|what percentage|how large|how big)\b", q):
        return Kind.NUMBER
    # Asking who, or for a name ("what was the name of ...", "his first name"), wants a name.
    if re.search(r"\b(who|whom|whose|which couple|which person|what person)\b", q) or re.search(
        r"\b(name|named|called)\b", q
    ):
        return Kind.PERSON
    return Kind.OTHER


def names(sentence: str) -> list[str]:
    """Likely names: capitalised words inside the sentence that are rare in everyday English
    ("Kutkin", "Trotsky"), so "Revolution" or "The" do not count."""
    return [
        word
        for word in _CAPITALISED.findall(sentence)
        if word not in _NOT_NAMES and is_rare(word.lower())
    ]


def holds(kind: Kind, sentence: str, question: str = "") -> bool:
    """Whether `sentence` holds what a question of `kind` asks for (a name it does not name)."""
    if kind is Kind.DATE:
        return bool(_YEAR.search(sentence))
    if kind is Kind.NUMBER:
        return bool(_COUNT.search(sentence))
    if kind is Kind.PERSON:
        asked = {fold(w) for w in re.findall(r"\w+", question)}
        return any(fold(name) not in asked for name in names(sentence))
    return True


def satisfied(question: str, sentences: Iterable[str]) -> bool:
    """Whether an answer made of `sentences` holds what the question asks for."""
    kind = question_kind(question)
    return any(holds(kind, s, question) for s in sentences)
