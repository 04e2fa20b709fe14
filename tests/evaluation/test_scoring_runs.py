"""Figures pooled over several fold assignments are the mean of each assignment's figures."""

from __future__ import annotations

from bot.answers.model import Answer
from bot.evaluation import EvalQuestion, format_report
from bot.evaluation.metrics import score_runs

ANSWERABLE = EvalQuestion(
    id="a", question="which fleet?", answers=["Baltic"], doc="d.txt", evidence="Baltic Fleet"
)
UNANSWERABLE = EvalQuestion(id="u", question="who won?", type="unanswerable")


def reply(answered: bool, text: str) -> Answer:
    return Answer(question="q", answered=answered, text=text, citations=[], passages=[])


def test_each_figure_is_the_mean_over_runs_and_a_miss_is_listed_once() -> None:
    right = [(ANSWERABLE, reply(True, "the Baltic Fleet [1]")), (UNANSWERABLE, reply(False, "-"))]
    wrong = [(ANSWERABLE, reply(True, "the Black Sea [1]")), (UNANSWERABLE, reply(True, "x"))]
    report = score_runs([right, wrong, wrong, right])

    assert report.overall["answer_hit"] == 0.5
    assert report.overall["abstention"] == 0.5
    assert report.overall["false_abstention"] == 0.0
    assert report.overall["n"] == 2  # questions, not answers
    assert [f["id"] for f in report.failures] == ["a", "u"]
    assert [f["missed_in"] for f in report.failures] == [2, 2]
    assert report.failures[0]["answer"] == "the Black Sea [1]"
    assert [run["answer_hit"] for run in report.runs] == [1.0, 0.0, 0.0, 1.0]
    assert "over 4 fold assignments: answer hit 0.0-100.0%, abstention 0.0-100.0%" in (
        format_report(report)
    )


def test_one_run_has_no_spread_line() -> None:
    report = score_runs([[(ANSWERABLE, reply(False, "no"))]])
    assert report.runs == []
    assert report.overall["false_abstention"] == 1.0
    assert report.failures[0]["missed_in"] == 1
    assert "fold assignments" not in format_report(report)
