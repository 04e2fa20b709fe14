"""Scores the bot on a question set, with the definitions of shared/eval/README.md.

answer hit: answered, and an expected string occurs in the first 600 characters of the
answer text; evidence@k: a top-k passage holds at least 70% of the evidence's words;
abstention: unanswerable questions declined; false abstention: answerable ones declined.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from bot.answers.model import Answer
from bot.retrieval.tokenize import fold

ANSWER_TEXT_LIMIT = 600
EVIDENCE_OVERLAP = 0.7


class EvalQuestion(BaseModel):
    """One line of a question file; `group` ties a translation to the question it
    translates, so cross-validation never splits them across folds."""

    model_config = ConfigDict(extra="ignore")

    id: str
    question: str
    answers: list[str] = []
    doc: str | None = None
    evidence: str | None = None
    type: str = "fact"
    difficulty: str = "medium"
    group: str | None = None
    language: str = "en"

    @property
    def answerable(self) -> bool:
        return self.doc is not None

    @property
    def group_key(self) -> str:
        return self.group or self.id


class EvalFileError(Exception):
    """The question file is unreadable or a line is malformed; the message says which."""


def read_question_files(paths: Sequence[Path]) -> list[EvalQuestion]:
    """Several files as one set; an id repeated across files is an error (it names both)."""
    questions: list[EvalQuestion] = []
    seen: dict[str, Path] = {}
    for path in paths:
        for q in read_questions(path):
            if q.id in seen:
                raise EvalFileError(f"question id {q.id!r} is in both {seen[q.id]} and {path}")
            seen[q.id] = path
            questions.append(q)
    return questions


def read_questions(path: Path) -> list[EvalQuestion]:
    questions = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalFileError(f"cannot read {path}: {exc}") from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            questions.append(EvalQuestion.model_validate(json.loads(line)))
        except (json.JSONDecodeError, ValidationError) as exc:
            raise EvalFileError(f"{path}, line {number}: {str(exc).splitlines()[0]}") from None
    return questions


def contains_answer(text: str, expected: Sequence[str]) -> bool:
    """Whether `text` holds one of the expected answers (case-insensitive)."""
    lowered = text.lower()
    return any(e.lower() in lowered for e in expected)


def answer_hit(answer: Answer, expected: Sequence[str]) -> bool:
    if not answer.answered:
        return False
    return contains_answer(answer.text[:ANSWER_TEXT_LIMIT], expected)


def words(text: str) -> list[str]:
    return re.findall(r"[^\W_]+", fold(text))


def evidence_found(evidence: str, passage_text: str) -> bool:
    needed = words(evidence)
    if not needed:
        return False
    present = set(words(passage_text))
    return sum(1 for w in needed if w in present) / len(needed) >= EVIDENCE_OVERLAP


def evidence_rank(evidence: str, passages: Sequence[str]) -> int | None:
    for rank, text in enumerate(passages, start=1):
        if evidence_found(evidence, text):
            return rank
    return None


@dataclass
class _Tally:
    answerable: int = 0
    hits: int = 0
    ev1: int = 0
    ev5: int = 0
    false_abstain: int = 0
    unanswerable: int = 0
    abstain: int = 0

    def metrics(self) -> dict[str, float | None]:
        def share(n: int, d: int) -> float | None:
            return round(n / d, 3) if d else None

        return {
            "answer_hit": share(self.hits, self.answerable),
            "evidence@1": share(self.ev1, self.answerable),
            "evidence@5": share(self.ev5, self.answerable),
            "abstention": share(self.abstain, self.unanswerable),
            "false_abstention": share(self.false_abstain, self.answerable),
            "n": float(self.answerable + self.unanswerable),
        }


@dataclass
class EvalReport:
    overall: dict[str, float | None]
    by_type: dict[str, dict[str, float | None]]
    failures: list[dict[str, object]] = field(default_factory=list)
    by_language: dict[str, dict[str, float | None]] = field(default_factory=dict)


def evaluate(
    questions: Iterable[EvalQuestion], answer: Callable[[EvalQuestion], Answer]
) -> EvalReport:
    """Score the answers `answer` gives, with the README's definitions."""
    tallies: dict[str, _Tally] = defaultdict(_Tally)
    failures: list[dict[str, object]] = []
    for q in questions:
        result = answer(q)
        for tally in (tallies["overall"], tallies[q.type], tallies[f"language:{q.language}"]):
            if q.doc is None:
                tally.unanswerable += 1
                tally.abstain += not result.answered
            else:
                tally.answerable += 1
                hit = answer_hit(result, q.answers)
                rank = evidence_rank(q.evidence or "", [p.text for p in result.passages])
                tally.hits += hit
                tally.ev1 += rank == 1
                tally.ev5 += rank is not None and rank <= 5
                tally.false_abstain += not result.answered
        ok = (not result.answered) if q.doc is None else answer_hit(result, q.answers)
        if not ok:
            failures.append(
                {
                    "id": q.id,
                    "question": q.question,
                    "answered": result.answered,
                    "answer": result.text[:300],
                    "expected": q.answers,
                }
            )
    overall = tallies.pop("overall").metrics()
    languages = {
        k.removeprefix("language:"): tallies.pop(k).metrics()
        for k in sorted(tallies)
        if k.startswith("language:")
    }
    by_type = {k: t.metrics() for k, t in sorted(tallies.items())}
    return EvalReport(overall, by_type, failures, languages if len(languages) > 1 else {})


def format_report(report: EvalReport) -> str:
    columns = ["answer_hit", "evidence@1", "evidence@5", "abstention", "false_abstention", "n"]
    rows = [
        ("overall", report.overall),
        *report.by_type.items(),
        *((f"in {name}", m) for name, m in report.by_language.items()),
    ]
    header = f"{'':14}" + "".join(f"{c:>17}" for c in columns)
    lines = [header]
    for name, metrics in rows:
        cells = []
        for c in columns:
            value = metrics.get(c)
            if value is None:
                cells.append(f"{'-':>17}")
            elif c == "n":
                cells.append(f"{int(value):>17}")
            else:
                cells.append(f"{value * 100:>16.1f}%")
        lines.append(f"{name:14}" + "".join(cells))
    return "\n".join(lines)
