"""The `samizdat` command: chat in the terminal, answer from scripts, index, evaluate, run.

Configuration is read here, once, and passed down; nothing below reads it on its own.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import TYPE_CHECKING

from bot import __version__
from bot.config import Config, ConfigError, load_config

if TYPE_CHECKING:
    from bot.app import App

log = logging.getLogger("samizdat")

DEFAULT_CONFIG_ENV = "SAMIZDAT_CONFIG"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="samizdat",
        description="Answers history questions from a library of texts, citing every source.",
    )
    parser.add_argument("--version", action="version", version=f"samizdat {__version__}")
    parser.add_argument(
        "--config",
        type=Path,
        help=f"TOML configuration file (default: ${DEFAULT_CONFIG_ENV}, else built-in defaults)",
    )
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("chat", help="chat with the bot in this terminal (the default)")
    ask = commands.add_parser("ask", help="answer one question, or one a line from stdin")
    ask.add_argument("question", help='the question, or "-" to read one a line from stdin')
    ask.add_argument("--json", action="store_true", help="write one JSON object per answer")
    commands.add_parser("index", help="build and save the index, and report what it holds")
    evaluate = commands.add_parser("eval", help="score the bot on a JSONL question set")
    evaluate.add_argument("file", type=Path)
    evaluate.add_argument("--failures", action="store_true", help="list the questions missed")
    run = commands.add_parser("run", help="run the bot on a chat platform")
    run.add_argument("platform", choices=["discord", "matrix", "all"])
    discord = commands.add_parser("discord", help="Discord maintenance")
    discord_commands = discord.add_subparsers(dest="discord_command", required=True)
    sync = discord_commands.add_parser("sync", help="register the slash commands with Discord")
    sync.add_argument("--guild", type=int, help="sync to one server only (instant)")
    return parser


def _config(path: Path | None) -> Config:
    if path is None and os.environ.get(DEFAULT_CONFIG_ENV):
        path = Path(os.environ[DEFAULT_CONFIG_ENV])
    env_file = Path(".env") if Path(".env").is_file() else None
    return load_config(path, env_file=env_file)


async def _run(args: argparse.Namespace, config: Config) -> int:
    from bot.app import open_app
    from bot.console import chat as console

    command = args.command or "chat"
    if command == "index":
        return _index(config)
    if command == "eval":
        return _evaluate(config, args.file, args.failures)
    if command == "discord":
        from bot.discord_bot.run import sync_commands

        names = await sync_commands(config, args.guild)
        where = f"server {args.guild}" if args.guild else "every server (may take a while)"
        print(f"synced {len(names)} commands to {where}: {', '.join(sorted(names))}")
        return 0
    async with open_app(config) as app:
        if command == "chat":
            await console.chat(app)
            return 0
        if command == "ask":
            if args.question == "-":
                await console.ask_lines(app, sys.stdin, sys.stdout)
                return 0
            answered = await console.ask_once(app, args.question, args.json)
            return 0 if answered or args.json else 1
        if command == "run":
            return await _run_platforms(app, args.platform)
    return 2


async def _run_platforms(app: App, platform: str) -> int:
    """Run the chosen adapters until a signal, sharing one stop so all of them stop together."""
    from bot.errors import StartupError

    config = app.config
    wanted = {"discord", "matrix"} if platform == "all" else {platform}
    if platform == "all":
        wanted = {
            name
            for name, configured in [
                ("discord", config.discord.token is not None),
                ("matrix", config.matrix.homeserver is not None),
            ]
            if configured
        }
        if not wanted:
            raise StartupError(
                "nothing to run: set SAMIZDAT_DISCORD__TOKEN for Discord and/or "
                "SAMIZDAT_MATRIX__HOMESERVER, SAMIZDAT_MATRIX__USER_ID and "
                "SAMIZDAT_MATRIX__PASSWORD for Matrix (or use `samizdat chat`)"
            )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    runs: list[Coroutine[object, object, None]] = []
    if "discord" in wanted:
        from bot.discord_bot.run import run_discord

        runs.append(run_discord(config, app.core, stop=stop))
    if "matrix" in wanted:
        from bot.matrix_bot.run import run_matrix

        runs.append(run_matrix(config, app, stop=stop))
    tasks = [asyncio.create_task(run) for run in runs]
    try:
        # The first adapter to end (or fail) stops the others, so a half-running bot never
        # lingers; its error, if any, is what the person sees.
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        for task in done:
            task.result()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    return 0


def _index(config: Config) -> int:
    from bot.answers.engine import build_engine

    engine = build_engine(config)
    report = engine.report
    for document in engine.library.documents:
        print(f"{document.info.id:<28} {len(document.passages):>5} passages  {document.info.title}")
    for file, reason in report.skipped:
        print(f"skipped {file}: {reason}")
    state = "loaded from cache" if report.from_cache else "built"
    print(
        f"{report.documents} documents, {report.passages} passages; index {state} "
        f"({report.built_at:%Y-%m-%d %H:%M} UTC) in {config.data_dir / 'index'}"
    )
    return 0


def _evaluate(config: Config, file: Path, show_failures: bool) -> int:
    from bot.answers.engine import build_engine
    from bot.evaluation import EvalFileError, evaluate, format_report, read_questions

    try:
        questions = read_questions(file)
    except EvalFileError as exc:
        print(f"samizdat: {exc}", file=sys.stderr)
        return 2
    engine = build_engine(config)
    report = evaluate(questions, engine.answer)  # as a server with default settings answers
    print(format_report(report))
    if show_failures:
        for failure in report.failures:
            print(f"- {failure['id']}: {failure['question']}\n    got: {failure['answer']}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        config = _config(args.config)
    except ConfigError as exc:
        print(f"samizdat: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=config.log_level if args.command in {"run"} else "WARNING",
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return asyncio.run(_run(args, config))
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # the last line of defence: one line, not a traceback
        from bot.errors import describe_startup_error

        message = describe_startup_error(exc)
        if message is None:
            raise
        print(f"samizdat: {message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
