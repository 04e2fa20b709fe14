"""Scores the bot on a question set, with the definitions of shared/eval/README.md.

answer hit: answered, and an expected string occurs in the first 600 characters of the
answer text; evidence@k: a top-k passage holds at least 70% of the evidence's words;
abstention: unanswerable questions declined; false abstention: answerable ones declined.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
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


@dataclass(frozen=True)
class _Outcome:
    """How one answer scored on its question, worked out once however many tallies count it."""

    answerable: bool
    answered: bool
    hit: bool = False
    evidence_rank: int | None = None

    @property
    def ok(self) -> bool:
        return self.hit if self.answerable else not self.answered


def _outcome(question: EvalQuestion, result: Answer) -> _Outcome:
    if question.doc is None:
        return _Outcome(answerable=False, answered=result.answered)
    return _Outcome(
        answerable=True,
        answered=result.answered,
        hit=answer_hit(result, question.answers),
        evidence_rank=evidence_rank(question.evidence or "", [p.text for p in result.passages]),
    )


@dataclass
class _Tally:
    answerable: int = 0
    hits: int = 0
    ev1: int = 0
    ev5: int = 0
    false_abstain: int = 0
    unanswerable: int = 0
    abstain: int = 0

    def add(self, outcome: _Outcome) -> None:
        if not outcome.answerable:
            self.unanswerable += 1
            self.abstain += not outcome.answered
            return
        rank = outcome.evidence_rank
        self.answerable += 1
        self.hits += outcome.hit
        self.ev1 += rank == 1
        self.ev5 += rank is not None and rank <= 5
        self.false_abstain += not outcome.answered

    def metrics(self, runs: int = 1) -> dict[str, float | None]:
        """Shares of the questions; pooled over `runs` runs over the same questions, each
        share is the mean of the runs' shares and `n` counts the questions once."""

        def share(n: int, d: int) -> float | None:
            return round(n / d, 3) if d else None

        return {
            "answer_hit": share(self.hits, self.answerable),
            "evidence@1": share(self.ev1, self.answerable),
            "evidence@5": share(self.ev5, self.answerable),
            "abstention": share(self.abstain, self.unanswerable),
            "false_abstention": share(self.false_abstain, self.answerable),
            "n": float((self.answerable + self.unanswerable) // runs),
        }


@dataclass
class EvalReport:
    overall: dict[str, float | None]
    by_type: dict[str, dict[str, float | None]]
    failures: list[dict[str, object]] = field(default_factory=list)
    by_language: dict[str, dict[str, float | None]] = field(default_factory=dict)
    # With several runs (fold assignments): each run's overall figures, to show the spread.
    runs: list[dict[str, float | None]] = field(default_factory=list)


Scored = Sequence[tuple[EvalQuestion, Answer]]


def evaluate(
    questions: Iterable[EvalQuestion], answer: Callable[[EvalQuestion], Answer]
) -> EvalReport:
    """Score the answers `answer` gives, with the README's definitions."""
    return score_runs([[(q, answer(q)) for q in questions]])


def score_runs(runs: Sequence[Scored]) -> EvalReport:
    """Scores pooled over runs that answered the same questions (by models fitted on
    different fold assignments): each figure is the mean over the runs, and a question
    missed in any run is listed once, with how many runs missed it."""
    tallies: dict[str, _Tally] = defaultdict(_Tally)
    per_run: list[dict[str, float | None]] = []
    failures: dict[str, dict[str, object]] = {}  # each missed question, as its first run got it
    missed: Counter[str] = Counter()
    for run in runs:
        run_tally = _Tally()
        for q, result in run:
            outcome = _outcome(q, result)
            run_tally.add(outcome)
            for key in ("overall", q.type, f"language:{q.language}"):
                tallies[key].add(outcome)
            if not outcome.ok:
                missed[q.id] += 1
                failures.setdefault(
                    q.id,
                    {
                        "id": q.id,
                        "question": q.question,
                        "answered": result.answered,
                        "answer": result.text[:300],
                        "expected": q.answers,
                    },
                )
        per_run.append(run_tally.metrics())
    count = max(len(runs), 1)
    overall = tallies.pop("overall").metrics(count)
    languages = {
        k.removeprefix("language:"): tallies.pop(k).metrics(count)
        for k in sorted(tallies)
        if k.startswith("language:")
    }
    by_type = {k: t.metrics(count) for k, t in sorted(tallies.items())}
    return EvalReport(
        overall,
        by_type,
        [{**failure, "missed_in": missed[key]} for key, failure in failures.items()],
        languages if len(languages) > 1 else {},
        per_run if len(runs) > 1 else [],
    )


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
    if report.runs:
        lines.append(_spread(report.runs))
    return "\n".join(lines)


def _spread(runs: Sequence[dict[str, float | None]]) -> str:
    """How far the overall figures moved between runs: one draw of folds can flatter."""
    parts = []
    for key, label in (
        ("answer_hit", "answer hit"),
        ("abstention", "abstention"),
        ("false_abstention", "false abstention"),
    ):
        values = [v for run in runs if (v := run.get(key)) is not None]
        if values:
            parts.append(f"{label} {min(values) * 100:.1f}-{max(values) * 100:.1f}%")
    return f"over {len(runs)} fold assignments: " + ", ".join(parts)
