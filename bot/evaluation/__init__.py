"""Question sets with known answers: scoring the bot on them, fitting its answer models
on them, and cross-validation, so what is fitted is never scored on what it was fitted on."""

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
