"""The interactive terminal chat and the one-shot / JSON-lines `ask` interface.

The terminal is a place like a Discord server (`console:local`) whose only user is its
admin, so every command, admin ones included, can be tried without a chat account.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable
from typing import TextIO

from bot.answers.model import Answer
from bot.app import App
from bot.console.render import render
from bot.core.places import CONSOLE_PLACE, Caller, Where
from bot.core.replies import AnswerReply, Refusal

CONSOLE_USER = Caller(user_id="console", display_name="you", is_admin=True)
HERE = Where(place=CONSOLE_PLACE)
QUIT = {"quit", "exit", ":q", "/quit", "/exit"}

BANNER = (
    "Samizdat — ask a history question about workers' self-management in revolutionary "
    "Russia.\nType `help` for commands, `quit` to leave."
)


async def chat(
    app: App,
    read_line: Callable[[str], str] = input,
    write: Callable[[str], object] = print,
) -> None:
    """Read a line, run it, print the reply, until `quit` or end of input."""
    write(BANNER)
    while True:
        try:
            line = await asyncio.to_thread(read_line, "\n> ")
        except (EOFError, KeyboardInterrupt):
            write("")
            return
        if line.strip().lower() in QUIT:
            return
        if not line.strip():
            continue
        reply = await app.core.dispatch_text(line, CONSOLE_USER, HERE)
        write(render(reply))


def answer_json(question: str, reply: AnswerReply | Refusal) -> dict[str, object]:
    """The stable JSON shape of one answer, read by scripts and evaluations."""
    if isinstance(reply, Refusal):
        return {
            "question": question,
            "answered": False,
            "answer": "",
            "error": reply.message,
            "citations": [],
            "passages": [],
        }
    return answer_payload(reply.answer)


def answer_payload(answer: Answer) -> dict[str, object]:
    return {
        "question": answer.question,
        "answered": answer.answered,
        "answer": answer.text,
        "citations": [
            c.model_dump(
                include={"passage_id", "doc_id", "title", "author", "section", "quote", "caveat"}
            )
            for c in answer.citations
        ],
        "passages": [
            p.model_dump(include={"passage_id", "doc_id", "title", "section", "score", "text"})
            for p in answer.passages
        ],
        "closest": [c.model_dump() for c in answer.closest],
    }


async def ask_lines(app: App, source: TextIO, out: TextIO) -> int:
    """Answer one question a line from `source`, writing one JSON object a line."""
    count = 0
    while True:
        line = await asyncio.to_thread(source.readline)
        if not line:
            return count
        question = line.rstrip("\n")
        if not question.strip():
            continue
        reply = await app.core.ask(question, CONSOLE_USER, HERE)
        out.write(json.dumps(answer_json(question, reply), ensure_ascii=False) + "\n")
        out.flush()
        count += 1


async def ask_once(app: App, question: str, as_json: bool, out: TextIO = sys.stdout) -> bool:
    """Answer a single question; True when the library answered it."""
    reply = await app.core.ask(question, CONSOLE_USER, HERE)
    if as_json:
        out.write(json.dumps(answer_json(question, reply), ensure_ascii=False) + "\n")
    else:
        out.write(render(reply) + "\n")
    return isinstance(reply, AnswerReply) and reply.answer.answered
