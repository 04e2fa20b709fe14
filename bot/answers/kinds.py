"""What kind of thing a question asks for, and whether a sentence holds one.

"How many" wants a count, "when did" a date, "how long" a duration, "who" a name or a group,
"where" or "which country" a place. A sentence that matches the question's words but holds
no such thing is a near miss. These checks are features of the learned sentence choice and
of the decision to answer; and a quote that surely holds none of it is declined (`lacks`):
the training questions hold too few such near misses for a model to learn that.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from enum import StrEnum
from functools import lru_cache

from bot.retrieval.specificity import is_rare
from bot.retrieval.tokenize import STOP_WORDS, fold, words


class Kind(StrEnum):
    DATE = "date"
    DURATION = "duration"
    NUMBER = "number"
    PERSON = "person"  # a person, a group, or anything else known by a name
    PLACE = "place"
    OTHER = "other"


TYPED_KINDS = (Kind.DATE, Kind.DURATION, Kind.NUMBER, Kind.PERSON, Kind.PLACE)
# The kinds whose absence `lacks` sees surely enough to decline on (and places asked for by
# their name).
_DECLINABLE_KINDS = (Kind.DATE, Kind.DURATION, Kind.NUMBER, Kind.PERSON)

_MONTHS = (
    "January|February|March|April|May|June|July|August|September|October|November|December"
    "|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept?|Oct|Nov|Dec"
)
_MONTH = re.compile(_MONTHS)
_SEASONS = "spring|summer|autumn|fall|winter"
_YEAR = r"(?:1[6-9]\d\d|20\d\d)(?:s|’s|'s)?"
_DATE = re.compile(
    rf"\b{_YEAR}\b"  # 1918, the 1920s
    rf"|\b(?:{_MONTHS})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?\b"  # March 18, Dec. 28th
    rf"|\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?(?:{_MONTHS})\b"  # 18 March, 28th of December
    rf"|(?<![.!?]\s)(?<!^)\b(?:{_MONTHS})\b"  # in March (not a sentence-initial "May")
    rf"|\b(?:{_SEASONS})\s+(?:of\s+)?{_YEAR}\b",  # spring 1918, the summer of 1921
    re.IGNORECASE,
)
_NUMBER_WORDS = (
    r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen"
    r"|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy"
    r"|eighty|ninety|hundred|thousand|million|billion|dozen|half|a few|several|a couple"
)
# A count: digits that are not a year or an ordinal ("10th"), or a number word; but "one of
# many workers" counts nothing.
_COUNT = re.compile(
    rf"\b(?!{_YEAR}\b)\d[\d,.]*\b(?!st|nd|rd|th)|\b(?!one\s+of\b)(?:{_NUMBER_WORDS})s?\b"
    r"|\d+\s*%",
    re.IGNORECASE,
)
# An age: "aged 71", "71 years old", "at the age of 71", "a 71-year-old".
_AGE = re.compile(
    rf"\baged?\s+(?:about\s+)?\d+|\b(?:\d+|(?:{_NUMBER_WORDS})(?:[- ](?:{_NUMBER_WORDS}))?)"
    r"[- ]years?[- ]old\b|\bat\s+(?:the\s+)?age\s+of\s+\d+|\bat\s+\d+\b",
    re.IGNORECASE,
)
_AGE_QUESTION = re.compile(r"\bhow old\b|\bat what age\b|\bwhat age\b")
_UNITS = r"seconds?|minutes?|hours?|days?|weeks?|months?|years?|decades?|centur(?:y|ies)"
_DURATION = re.compile(
    rf"\b(?:\d[\d,.]*|{_NUMBER_WORDS}|a|an|another|many|some)\s+(?:\w+\s+)?(?:{_UNITS})\b"
    rf"|\bfor\s+(?:{_UNITS})\b|\buntil\b|\bfrom\b.{{1,40}}\bto\b",
    re.IGNORECASE,
)
# Capitalised words; a sentence's first word counts only if it is rare (see `names`).
_CAPITALISED = re.compile(r"\b[A-Z][\w’'-]*[a-z]")
# Verbs that follow a question word: "how much did", "which did the bolsheviks".
_AUXILIARIES = "did|does|do|was|were|is|are|had|has|have|will|would|could|can|should"
# "How much did Lenin trust them", "how strong was the opposition": a degree, which a count
# may answer but words as often do.
_DEGREE_QUESTION = re.compile(rf"\bhow (?:far|strong|large|big)\b|\bhow much (?:{_AUXILIARIES})\b")
# Time told against another event rather than by the calendar.
_RELATIVE_TIME = re.compile(
    r"\b(?:later|earlier|afterwards?|after|before|during|until|since|meanwhile"
    r"|on the eve of|at the (?:end|beginning|start|time|height) of)\b",
    re.IGNORECASE,
)
# Capitalised words inside a sentence (not its first word), months aside.
_INNER_CAPITALISED = re.compile(rf"(?<=[\w,;:)]\s)(?!(?:{_MONTHS})\b)[A-Z][\w’'-]*[a-z]")
# Things known by their number: "the 8th Party Congress", "the 10th Congress".
_NUMBERED = re.compile(r"\b(\d+(?:st|nd|rd|th))\s+[A-Z]")
# Groups known by what they believe or where they are from: "the anarchists", "Mensheviks".
_GROUP = re.compile(r"\b[A-Za-z]+(?:ists|ians|ites|iks|ovists)\b")
_NOT_NAMES = frozenset(
    """The A An I In On At As It He She They We His Her Their This That These Those But And Or
    If When While After Before During Since Monday Tuesday Wednesday Thursday Friday Saturday
    Sunday Mr Mrs Ms Dr""".split()
)

_DATE_QUESTION = re.compile(
    r"^(?:and |so |but )?when\b(?! the\b)(?! they\b)(?! he\b)(?! she\b)(?! it\b)"
    r"|\b(?:what|which|in which|in what) (?:year|years|date|month|day|season|decade)\b"
    r"|\bwhen (?:did|was|were|is|are|do|does|had|has|have|exactly|will|would)\b"
    r"|\bwhat time\b|\bhow long ago\b"
)
_DURATION_QUESTION = re.compile(r"\bhow long\b|\bfor how many (?:days|weeks|months|years)\b")
_NUMBER_QUESTION = re.compile(
    r"\b(?:how many|how much|what number|what percentage|what share|what proportion"
    r"|how large|how big|how old|at what age|what size|how far|how strong)\b"
)
# "Who" asks for a person unless another question word comes first: in "what did the leaders
# who had never worked blame", it only says which leaders.
_WHO_QUESTION = re.compile(
    r"^(?:(?!\b(?:what|which|when|where|why|how)\b).)*\b(?:who|whom|whose)\b"
)
# "Which leader", "which left SR leader", "which three white commanders", "which linguist
# did": someone, told by a noun for people, or by the endings of one ("-ist", "-ian", "-ik")
# where it ends the phrase ("which socialist measures" asks for measures). Up to two words
# may describe whom, but not a verb ("which did the bolsheviks put first" asks for a thing).
# As with "who", a "which" after another question word only says which ones are meant
# ("what did the unions which anarchists led do").
_PERSON_QUESTION = re.compile(
    r"^(?:(?!\b(?:what|when|where|why|how|who)\b).)*"
    rf"\bwhich (?:(?!(?:{_AUXILIARIES}|of|the|a|an)\b)[\w-]+ ){{0,2}}"
    r"(?:(?:couple|person|people|man|woman|men|women|leader|group|party|faction|anarchist"
    r"|bolshevik|author|writer|historian|commander|general|official|worker|organi[sz]ation)s?\b"
    rf"|[a-z]{{3,}}(?:ist|ian|ik)s?\b(?=\s+(?:{_AUXILIARIES})\b|\s*[?,.!]|\s*$))"
    r"|\b(?:name|named|called)\b"
)
# Places known by a name: "which country", "what town" ask for one; "where" does not, since
# "in the factories" answers it.
_NAMED_PLACES = "country|city|town|region|island|village"
_PLACE_NAME_QUESTION = re.compile(rf"\b(?:which|what) (?:{_NAMED_PLACES})\b")
# "Kutkin's first name", "the first name of Kutkin": a name that stands before the one asked
# about, not any name.
_FIRST_NAME_QUESTION = re.compile(
    r"\b([^\W\d_][\w’'-]*?)(?:'s|’s) (?:first|given|christian) name\b"
    r"|\b(?:first|given|christian) name of ([^\W\d_][\w’'-]*)"
)
_PLACE_QUESTION = re.compile(
    rf"\bwhere\b|\bwhich (?:{_NAMED_PLACES}|place|factory|plant)\b"
    rf"|\bwhat (?:{_NAMED_PLACES}|place)\b"
)


def question_kind(question: str) -> Kind:
    """What the question asks for; a "when the workers tried ..." clause only sets a scene."""
    q = " ".join(question.lower().split())
    if _DURATION_QUESTION.search(q):
        return Kind.DURATION
    if _DATE_QUESTION.search(q):
        return Kind.DATE
    if _NUMBER_QUESTION.search(q):
        return Kind.NUMBER
    if _PLACE_QUESTION.search(q):
        return Kind.PLACE
    if _WHO_QUESTION.search(q) or _PERSON_QUESTION.search(q):
        return Kind.PERSON
    return Kind.OTHER


def names(sentence: str) -> list[str]:
    """Likely names: capitalised words inside the sentence that are rare in everyday English
    ("Kutkin", "Trotsky"), so "Revolution" or "The" do not count."""
    return [
        word
        for word in _CAPITALISED.findall(sentence)
        if word not in _NOT_NAMES and is_rare(fold(word).strip("’'-"))
    ]


# Both read the question, which stays the same for every window of its answer: read it once.
@lru_cache(maxsize=1024)
def _asked(question: str) -> frozenset[str]:
    return frozenset(words(question))


def _in(word: str, asked: frozenset[str]) -> bool:
    """Whether the question already names `word` ("Kutkin's" is the asked "kutkin"): both
    are read as the index reads words, folded and without possessive endings."""
    return set(words(word)) <= asked


def holds(kind: Kind, sentence: str, question: str = "") -> bool:
    """Whether `sentence` holds what a question of `kind` asks for (a name it does not name)."""
    if kind is Kind.DATE:
        return bool(_DATE.search(sentence))
    if kind is Kind.DURATION:
        return bool(_DURATION.search(sentence) or _DATE.search(sentence))
    if kind is Kind.NUMBER:
        if _AGE_QUESTION.search(question.lower()):
            return bool(_AGE.search(sentence))
        # The day of a date is not a count ("on February 8").
        return bool(_COUNT.search(_DATE.sub(" ", sentence)))
    if kind is Kind.PERSON and (surname := _first_name_of(question)):
        return _first_name_before(surname, sentence)
    if kind is Kind.PERSON:
        return _names_someone(sentence, _asked(question))
    if kind is Kind.PLACE:
        return _any_new(_CAPITALISED.findall(sentence), _asked(question))
    return True


def _names_someone(sentence: str, asked: frozenset[str]) -> bool:
    """A name, a group or a numbered body that the question does not already name."""
    return (
        any(not _in(n, asked) for n in names(sentence))
        or any(fold(g) not in asked for g in _GROUP.findall(sentence))
        or any(not _in(n, asked) for n in _NUMBERED.findall(sentence))
    )


def _any_new(capitalised: Iterable[str], asked: frozenset[str]) -> bool:
    """Whether a capitalised word is neither a function word nor named by the question."""
    return any(w not in _NOT_NAMES and not _in(w, asked) for w in capitalised)


def lacks(kind: Kind, text: str, question: str) -> bool:
    """Whether `text` surely holds nothing of what a question of `kind` asks for. As `holds`,
    except that for a name any capitalised word inside a sentence counts: "founded by John
    Smith" names someone in common words, which the rarity test misses, and a rule that
    declines must not mistake such a name for none. Nor is a count surely wanted when the
    question asks how far, how strong or how much someone did something, nor a date when the
    text places the event against another ("two days later", "after the congress"). Someone's
    first name is the capitalised word before their other name. A place is surely lacking
    only when asked for by its name ("which country"): "in the factories" answers "where"
    without one."""
    named_place = kind is Kind.PLACE and bool(_PLACE_NAME_QUESTION.search(question.lower()))
    if kind not in _DECLINABLE_KINDS and not named_place:
        return False
    if kind is Kind.NUMBER and _DEGREE_QUESTION.search(question.lower()):
        return False  # "how strong was the opposition" may be answered in words
    if kind is Kind.DATE and _RELATIVE_TIME.search(text):
        return False  # "two days later", "after the congress" place it in time
    if kind is Kind.PERSON and (surname := _first_name_of(question)):
        return not _first_name_before(surname, text)
    if kind is Kind.PERSON or named_place:
        asked = _asked(question)
        return not (
            _any_new(_INNER_CAPITALISED.findall(text), asked) or _names_someone(text, asked)
        )
    return not holds(kind, text, question)


@lru_cache(maxsize=1024)
def _first_name_of(question: str) -> str | None:
    """Whose first name the question asks for ("kutkin's first name"), if it names them."""
    match = _FIRST_NAME_QUESTION.search(question.lower())
    surname = match and (match.group(1) or match.group(2))
    return surname if surname and surname not in STOP_WORDS else None


def _first_name_before(surname: str, text: str) -> bool:
    """Whether a capitalised word stands right before `surname` ("Nestor Makhno"), other than
    a function word or a month ("In Makhno's absence", "in March Trotsky")."""
    before = re.finditer(rf"\b([A-Z][\w’'.-]*)\s+(?i:{re.escape(surname)})\b", text)
    return any(m.group(1) not in _NOT_NAMES and not _MONTH.fullmatch(m.group(1)) for m in before)
