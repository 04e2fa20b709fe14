"""The `samizdat` command: chat in the terminal, answer from scripts, index, evaluate, run.

Configuration is read here, once, and passed down; nothing below reads it on its own.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import logging
import os
import signal
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import TYPE_CHECKING

from bot import __version__
from bot.config import (
    CONFIG_FILE_VARIABLE,
    Config,
    ConfigError,
    load_config,
    unknown_variables,
)
from bot.core.settings import Strictness
from bot.logs import configure_logging

if TYPE_CHECKING:
    from bot.app import App

log = logging.getLogger("samizdat")

DEFAULT_CONFIG_ENV = CONFIG_FILE_VARIABLE
# Each repeat fits the answer models once per fold; beyond this, a typo rather than a wish.
MAX_REPEATS = 100


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
    evaluate = commands.add_parser(
        "eval",
        help="score the bot on JSONL question sets",
        description="Score the bot. With --folds K the answer models are fitted on K-1 folds "
        "and scored on the held-out one, for every fold (the honest number); without it the "
        "shipped models answer, which flatters them on the questions they were fitted on.",
    )
    evaluate.add_argument("files", type=Path, nargs="+", metavar="FILE")
    evaluate.add_argument("--folds", type=int, help="k-fold cross-validation (k >= 2)")
    evaluate.add_argument(
        "--repeats",
        type=int,
        default=1,
        help="with --folds: average over this many fold assignments (default 1)",
    )
    evaluate.add_argument("--failures", action="store_true", help="list the questions missed")
    evaluate.add_argument(
        "--strictness",
        choices=[s.value for s in Strictness],
        default=Strictness.NORMAL.value,
        help="answer as a place with this strictness does (default: normal)",
    )
    evaluate.add_argument(
        "--json", action="store_true", help="write the report as JSON instead of a table"
    )
    train = commands.add_parser(
        "train", help="fit the answer models on JSONL question sets and save them"
    )
    train.add_argument("files", type=Path, nargs="+", metavar="FILE")
    train.add_argument(
        "--output", type=Path, help="where to write the model (default: the package's own file)"
    )
    run = commands.add_parser("run", help="run the bot on a chat platform")
    run.add_argument("platform", choices=["discord", "matrix", "all"])
    run.add_argument(
        "--shards",
        metavar="IDS",
        help='Discord shards this process runs, e.g. "0-3" (with --shard-count)',
    )
    run.add_argument(
        "--shard-count", type=int, metavar="N", help="Discord shards of the whole fleet"
    )
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


def _start_logging(config: Config, command: str | None) -> None:
    """Only `run` logs at the configured level; scripts' output stays clean of INFO lines."""
    configure_logging(
        config.log_level if command == "run" else "WARNING",
        config.log_levels,
        secrets=[secret.get_secret_value() for secret in config.secrets],
    )
    for warning in unknown_variables(os.environ):
        log.warning("%s", warning)


async def _run(args: argparse.Namespace, config: Config) -> int:
    from bot.app import open_app
    from bot.console import chat as console
    from bot.observability.health import Readiness
    from bot.observability.metrics import Metrics

    command = args.command or "chat"
    if command == "index":
        return _index(config)
    if command == "eval":
        return _evaluate(
            config,
            args.files,
            args.folds,
            args.repeats,
            args.failures,
            args.json,
            args.strictness,
        )
    if command == "train":
        return _train(config, args.files, args.output)
    if command == "discord":
        from bot.discord_bot.run import sync_commands

        names = await sync_commands(config, args.guild)
        where = f"server {args.guild}" if args.guild else "every server (may take a while)"
        print(f"synced {len(names)} commands to {where}: {', '.join(sorted(names))}")
        return 0
    async with open_app(config, metrics=Metrics(), readiness=Readiness()) as app:
        if command == "chat":
            _chat_streams()
            await console.chat(app.core)
            return 0
        if command == "ask":
            if args.question == "-" or args.json:
                _json_streams()
            if args.question == "-":
                await console.ask_lines(app.core, sys.stdin.buffer, sys.stdout)
                return 0
            answered = await console.ask_once(app.core, args.question, args.json)
            return 0 if answered or args.json else 1
        if command == "run":
            return await _run_platforms(app, args.platform)
    return 2


def _json_streams() -> None:
    """JSON is UTF-8 whatever the locale: write UTF-8. (Lines are read as bytes and each is
    decoded on its own, so a line that is not UTF-8 gets an error object of its own.)"""
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(encoding="utf-8", errors="strict")


def _chat_streams() -> None:
    """Bad bytes typed at the terminal come through as lone surrogates, which the chat
    refuses line by line, instead of an exception that would end it."""
    if isinstance(sys.stdin, io.TextIOWrapper):
        sys.stdin.reconfigure(errors="surrogateescape")


async def _run_platforms(app: App, platform: str) -> int:
    """Run the chosen adapters until a signal, sharing one stop so all of them stop together."""
    from bot.observability.health import serve_health

    async with serve_health(app.config.health, app.readiness, app.metrics):
        return await _run_adapters(app, platform)


async def _run_adapters(app: App, platform: str) -> int:
    from bot.startup import StartupError

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

        runs.append(
            run_discord(config, app.core, stop=stop, readiness=app.readiness, locks=app.locks)
        )
    if "matrix" in wanted:
        from bot.matrix_bot.run import run_matrix

        runs.append(
            run_matrix(
                config.matrix,
                config.data_dir,
                app.core,
                app.state,
                stop=stop,
                readiness=app.readiness,
                locks=app.locks,
            )
        )
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
    from bot.app import build_engine

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
    semantic = report.semantic_model or "off (BM25 alone)"
    print(f"ranked by {report.engine}; semantic matching: {semantic}")
    return 0


def _evaluate(
    config: Config,
    files: list[Path],
    folds: int | None,
    repeats: int,
    show_failures: bool,
    as_json: bool,
    strictness: str,
) -> int:
    from dataclasses import asdict, replace

    from bot.answers.learning import ModelSet
    from bot.app import build_engine
    from bot.evaluation import EvalFileError, evaluate, format_report, read_question_files
    from bot.evaluation.crossval import cross_validate
    from bot.retrieval.index import progress_reporter

    if folds is not None and folds < 2:
        print("samizdat: --folds needs at least 2", file=sys.stderr)
        return 2
    if not 1 <= repeats <= MAX_REPEATS:
        print(f"samizdat: --repeats takes 1 to {MAX_REPEATS}", file=sys.stderr)
        return 2
    if repeats > 1 and folds is None:
        print(
            "samizdat: --repeats needs --folds (the shipped models have one answer each)",
            file=sys.stderr,
        )
        return 2
    try:
        questions = read_question_files(files)
    except EvalFileError as exc:
        print(f"samizdat: {exc}", file=sys.stderr)
        return 2
    if folds is not None and len(questions) < 2 * folds:
        print(
            f"samizdat: {len(questions)} questions are too few for {folds} folds", file=sys.stderr
        )
        return 2
    engine = build_engine(config, models=ModelSet.untrained() if folds else None)
    options = replace(engine.defaults, strictness=strictness)
    if folds:
        report = cross_validate(
            questions,
            engine.composer,
            folds,
            options,
            repeats=repeats,
            progress=progress_reporter(
                folds * repeats, noun="fold models", verb="fitting", every=1
            ),
        )
        assignments = f" x {repeats} fold assignments" if repeats > 1 else ""
        heading = f"out-of-fold, {folds} folds{assignments}, {len(questions)} questions"
    else:
        # As a server with default settings (but the strictness asked for) answers.
        report = evaluate(questions, lambda q: engine.answer(q.question, options))
        heading = (
            f"shipped models, {len(questions)} questions (in-sample if they were fitted on these)"
        )
    heading += f", strictness {strictness}"
    mode = engine.report.semantic_model or "BM25 alone"
    if as_json:
        print(json.dumps({"heading": heading, "semantic": mode, **asdict(report)}, indent=1))
        return 0
    print(f"{heading}; semantic layer: {mode}")
    print(format_report(report))
    if show_failures:
        for failure in report.failures:
            missed = f" (missed in {failure['missed_in']} of {repeats})" if repeats > 1 else ""
            print(f"- {failure['id']}{missed}: {failure['question']}\n    got: {failure['answer']}")
    return 0


def _train(config: Config, files: list[Path], output: Path | None) -> int:
    """Fit the answer models with and without the semantic layer, and save both."""
    from bot.answers.learning import ModelSet
    from bot.app import build_engine
    from bot.evaluation import EvalFileError, read_question_files
    from bot.evaluation.training import fit_answer_model, make_example

    try:
        questions = read_question_files(files)
    except EvalFileError as exc:
        print(f"samizdat: {exc}", file=sys.stderr)
        return 2
    models = {}
    for semantic in ("on", "off"):
        setting = config.model_copy(
            update={"retrieval": config.retrieval.model_copy(update={"semantic": semantic})}
        )
        engine = build_engine(setting, models=ModelSet.untrained())
        examples = [make_example(q, engine.composer) for q in questions]
        model = fit_answer_model(examples, engine.composer)
        models[model.semantic] = model
        print(
            f"fitted {'with' if model.semantic else 'without'} the semantic layer "
            f"on {len(examples)} questions; thresholds {model.thresholds}"
        )
    target = output or Path(__file__).parent / "answers" / "answer_model.json"
    ModelSet(models, tuple(f.name for f in files)).save(target)
    print(f"saved {target}")
    return 0


def _with_shards(config: Config, args: argparse.Namespace) -> Config:
    """The configuration with `run --shards/--shard-count` in force, validated like the file."""
    shards, count = getattr(args, "shards", None), getattr(args, "shard_count", None)
    if shards is None and count is None:
        return config
    from pydantic import ValidationError

    from bot.config import DiscordConfig

    values = config.discord.model_dump()
    values.update(
        shards=shards if shards is not None else values["shards"],
        shard_count=count if count is not None else values["shard_count"],
    )
    try:
        discord = DiscordConfig.model_validate(values)
    except ValidationError as exc:
        said = "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())
        raise ConfigError(f"--shards/--shard-count: {said}") from None
    return config.model_copy(update={"discord": discord})


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        config = _with_shards(_config(args.config), args)
    except ConfigError as exc:
        print(f"samizdat: {exc}", file=sys.stderr)
        return 2
    _start_logging(config, args.command)
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
