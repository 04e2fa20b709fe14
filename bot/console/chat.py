"""The interactive terminal chat and the one-shot / JSON-lines `ask` interface.

The terminal is a place like a Discord server (`console:local`) whose only user is its
admin, so every command, admin ones included, can be tried without a chat account. A line
that starts with `@samizdat` is a mention, so what a mention gets can be tried here too.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import BinaryIO, TextIO

from bot.answers.model import Answer
from bot.answers.shelves import Upload
from bot.console.render import render
from bot.core.commands import Core
from bot.core.parse import parse
from bot.core.places import CONSOLE_PLACE, Caller, Where
from bot.core.present import TERMINAL_BANNER as BANNER
from bot.core.replies import AnswerReply, Refusal, Reply
from bot.core.requests import Ask, LibraryAdd, Mention, Request

CONSOLE_USER = Caller(user_id="console", is_admin=True)
# One person at one terminal: every reply is as private as it gets.
HERE = Where(place=CONSOLE_PLACE, private_replies=True)
MENTION = "@samizdat"
QUIT = {"quit", "exit", ":q", "/quit", "/exit"}
# Discord's slash and Matrix's prefix, typed out of habit: `/help` or `!ask …` in the terminal
# is the command it names (a line that names no command after them stays a question).
CHAT_PREFIXES = ("/", "!")
NOT_UTF8 = "That line is not valid UTF-8 text, so nothing was looked up; type it again."


def request_of(line: str) -> Request:
    """A typed line as a request: `@samizdat ...` is a mention, anything else is parsed."""
    stripped = line.strip()
    if stripped.lower().startswith(MENTION) and (
        len(stripped) == len(MENTION) or not stripped[len(MENTION)].isalnum()
    ):
        return Mention(stripped[len(MENTION) :].lstrip(" :,"))
    if stripped.startswith(CHAT_PREFIXES):
        bare = stripped[1:]
        request = parse(bare)
        if request != Ask(bare):
            return request
    return parse(line)


def with_local_file(request: Request, max_bytes: int) -> Request:
    """`library add PATH` in the terminal: the operator's own file, read here as any
    platform downloads an attachment, and at most one byte past the limit (so the core can
    refuse a file that is too large without this reading all of it)."""
    if not isinstance(request, LibraryAdd) or request.upload is not None or not request.reference:
        return request
    path = Path(request.reference).expanduser()
    try:
        with path.open("rb") as file:
            data = file.read(max_bytes + 1)
    except OSError as error:
        return replace(request, not_opened=error.strerror or type(error).__name__)
    return replace(request, upload=Upload(data, path.name))


async def chat(
    core: Core,
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
        except UnicodeDecodeError:  # a terminal whose stdin decodes strictly
            write(NOT_UTF8)
            continue
        if _SURROGATE.search(line):  # bad bytes, decoded with surrogateescape
            write(NOT_UTF8)
            continue
        if line.strip().lower() in QUIT:
            return
        if not line.strip():
            continue
        request = request_of(line)
        if core.shelves is not None:
            request = await asyncio.to_thread(
                with_local_file, request, core.shelves.max_upload_bytes
            )
        reply = await core.handle(request, CONSOLE_USER, HERE)
        if reply is not None:  # None: the bot stays silent, as it would in a chat
            write(render(reply))


def answer_json(question: str, reply: Reply) -> dict[str, object]:
    """The stable JSON shape of one answer, read by scripts and evaluations."""
    if isinstance(reply, AnswerReply):
        return answer_payload(reply.answer)
    return {
        "question": question,
        "answered": False,
        "answer": "",
        "error": reply.message if isinstance(reply, Refusal) else "not an answer",
        "citations": [],
        "passages": [],
        "closest": [],
    }


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


_SURROGATE = re.compile("[\ud800-\udfff]")


def valid_text(text: str) -> str:
    """`text` with lone surrogates replaced by U+FFFD, so that it can be written as UTF-8.

    Python decodes undecodable input bytes (argv, or stdin under a C.UTF-8 locale) to lone
    surrogates and writes them back out as the same invalid bytes.
    """
    return _SURROGATE.sub("\ufffd", text)


def _finite(value: object) -> object:
    """`value` with NaN and infinities as null and every string valid, for strict JSON."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        return valid_text(value)
    if isinstance(value, dict):
        return {valid_text(str(k)): _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def json_line(payload: object) -> str:
    """One line of valid JSON in valid UTF-8, whatever a number or a question held.

    `json.dumps` writes a NaN score as a bare `NaN`, which no JSON reader accepts.
    """
    return json.dumps(_finite(payload), ensure_ascii=False, allow_nan=False) + "\n"


async def ask_lines(core: Core, source: BinaryIO, out: TextIO) -> int:
    """Answer one question a line from `source`, writing one JSON object for every line.

    A blank line gets its object too (`answered: false` and the refusal), and so does a line
    that is not valid UTF-8 (`answered: false` and what was wrong with it), so the n-th
    output line always belongs to the n-th input line and one bad line never ends a batch.
    """
    count = 0
    while True:
        raw = await asyncio.to_thread(source.readline)
        if not raw:
            return count
        raw = raw.rstrip(b"\r\n")
        try:
            question = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            payload = not_utf8_json(raw, error)
        else:
            reply = await core.ask(question, CONSOLE_USER, HERE)
            payload = answer_json(question, reply)
        out.write(json_line(payload))
        out.flush()
        count += 1


def not_utf8_json(raw: bytes, error: UnicodeDecodeError) -> dict[str, object]:
    """The answer object for an input line that is not UTF-8: nothing is looked up."""
    return {
        "question": raw.decode("utf-8", errors="replace"),
        "answered": False,
        "answer": "",
        "error": f"the line is not valid UTF-8 (byte {error.start + 1}); nothing was looked up",
        "citations": [],
        "passages": [],
        "closest": [],
    }


async def ask_once(core: Core, question: str, as_json: bool, out: TextIO = sys.stdout) -> bool:
    """Answer a single question; True when the library answered it."""
    question = valid_text(question)
    reply = await core.ask(question, CONSOLE_USER, HERE)
    if as_json:
        out.write(json_line(answer_json(question, reply)))
    else:
        out.write(render(reply) + "\n")
    return isinstance(reply, AnswerReply) and reply.answer.answered
