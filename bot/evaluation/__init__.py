"""Scoring the bot on question sets: the metrics, and cross-validation of what is fitted."""

from bot.evaluation.metrics import (
    EvalFileError,
    EvalQuestion,
    EvalReport,
    answer_hit,
    evaluate,
    evidence_found,
    format_report,
    read_question_files,
    read_questions,
)

__all__ = [
    "EvalFileError",
    "EvalQuestion",
    "EvalReport",
    "answer_hit",
    "evaluate",
    "evidence_found",
    "format_report",
    "read_question_files",
    "read_questions",
]
