"""A second bot process for the fleet tests: the real app, driven one request a line.

Started with the configuration in its environment (SAMIZDAT_DATABASE_URL and the rest), it
opens the app exactly as `samizdat run` does, prints "ready", then reads JSON lines
{"place", "user", "admin", "text"}, runs each through the core as a typed line, and prints
one JSON line per reply: its kind, its refusal reason if any, and its text.
"""

from __future__ import annotations

import asyncio
import json
import sys

from bot.app import open_app
from bot.config import load_config
from bot.core.parse import parse
from bot.core.places import Caller, Where
from bot.core.replies import AnswerReply, Confirmation, Refusal


async def serve() -> None:
    async with open_app(load_config()) as app:
        print("ready", flush=True)
        loop = asyncio.get_running_loop()
        while line := await loop.run_in_executor(None, sys.stdin.readline):
            request = json.loads(line)
            reply = await app.core.handle(
                parse(request["text"]),
                Caller(user_id=request["user"], is_admin=request.get("admin", False)),
                Where(place=request["place"]),
            )
            shown: dict[str, object] = {"kind": type(reply).__name__}
            if isinstance(reply, Refusal):
                shown.update(reason=reply.reason.value, message=reply.message)
            elif isinstance(reply, Confirmation):
                shown.update(message=reply.message)
            elif isinstance(reply, AnswerReply):
                shown.update(answered=reply.answer.answered)
            print(json.dumps(shown), flush=True)


if __name__ == "__main__":
    asyncio.run(serve())
