"""Reading an upload in a worker process, bounded in time and memory.

A PDF parser fed a hostile file can loop for hours or allocate gigabytes, and a zip can
unpack to the size of the disk. So the parsing (`bot.library.formats`) runs in a child
Python (`python -m bot.library.upload`) that limits its own address space and CPU time and
forbids itself to write files before it reads a byte; the parent kills it when its
wall-clock time is up. Whatever the child does, the parent gets `Extracted` or
`Unreadable`, never a crash, and nothing the file holds runs in the bot's own process.

The child limits itself (rather than the parent using `preexec_fn`) because the parent
calls this from a thread, where `preexec_fn` can deadlock.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.library._cleaning_common import Block
from bot.library.formats import (
    Extracted,
    Kind,
    Metadata,
    Problem,
    Unreadable,
    extract,
    sniff,
)


@dataclass(frozen=True)
class ReadLimits:
    """How large a file may be, and how long and how much memory reading it may take."""

    max_bytes: int = 20_000_000
    seconds: float = 60.0
    memory_bytes: int = 1_500_000_000


def read_upload(data: bytes, name: str, limits: ReadLimits) -> Extracted:
    """The words of an uploaded file, read in a bounded worker; raises `Unreadable`.

    Blocking (it waits for the worker): call it from a thread, never the event loop.
    """
    if not data:
        raise Unreadable(Problem.EMPTY)
    if len(data) > limits.max_bytes:
        raise Unreadable(Problem.TOO_LARGE, str(limits.max_bytes))
    command = [
        sys.executable,
        "-m",
        "bot.library.upload",
        "--name",
        name[:200],
        "--memory",
        str(limits.memory_bytes),
        "--cpu-seconds",
        str(math.ceil(limits.seconds)),
    ]
    try:
        done = subprocess.run(
            command,
            input=data,
            capture_output=True,
            timeout=limits.seconds,
            env=_child_environment(),
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise Unreadable(Problem.TOO_SLOW) from None
    if done.returncode != 0:
        # The CPU limit ends the child with SIGXCPU (then SIGKILL); anything else is a
        # parser that crashed on the file.
        if done.returncode in (-24, -9):
            raise Unreadable(Problem.TOO_SLOW)
        raise Unreadable(Problem.DAMAGED)
    try:
        return decode_result(json.loads(done.stdout))
    except (ValueError, KeyError, TypeError):
        raise Unreadable(Problem.DAMAGED) from None


def _child_environment() -> dict[str, str]:
    """The parent's environment, with this copy of `bot` first on the child's path."""
    environment = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])
    existing = environment.get("PYTHONPATH")
    environment["PYTHONPATH"] = root if not existing else f"{root}{os.pathsep}{existing}"
    environment["PYTHONDONTWRITEBYTECODE"] = "1"
    return environment


def encode_result(extracted: Extracted) -> dict[str, Any]:
    return {
        "kind": extracted.kind.value,
        "metadata": {
            "title": extracted.metadata.title,
            "author": extracted.metadata.author,
            "year": extracted.metadata.year,
            "source": extracted.metadata.source,
        },
        "blocks": [[b.kind, b.text, b.level] for b in extracted.blocks],
        "text": extracted.text,
        "pages": extracted.pages,
    }


def decode_result(payload: dict[str, Any]) -> Extracted:
    """The child's answer; a refusal becomes `Unreadable` again."""
    if "refused" in payload:
        raise Unreadable(Problem(payload["refused"]), str(payload.get("detail") or ""))
    meta = payload["metadata"]
    year = meta.get("year")
    return Extracted(
        kind=Kind(payload["kind"]),
        metadata=Metadata(
            title=_optional_text(meta.get("title")),
            author=_optional_text(meta.get("author")),
            year=year if isinstance(year, int) and not isinstance(year, bool) else None,
            source=_optional_text(meta.get("source")),
        ),
        blocks=tuple(
            Block("heading" if kind == "heading" else "paragraph", str(text), int(level))
            for kind, text, level in payload["blocks"]
        ),
        text=str(payload["text"]),
        pages=int(payload["pages"]),
    )


def _optional_text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _limit_self(memory: int, cpu_seconds: int) -> None:
    """Bound this process before it reads the file: memory, CPU time, and no file writes."""
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))


def _preload(kind: Kind) -> None:
    """Import the kind's parser before the limits apply, so no limit is spent on imports
    (and only that parser: the worker starts for every upload)."""
    if kind is Kind.PDF:
        import pdfminer.high_level
        import pdfminer.pdfdocument  # noqa: F401
    elif kind is Kind.EPUB:
        import lxml.html
        from ebooklib import epub  # noqa: F401
    elif kind is Kind.HTML:
        import lxml.html
        import readability  # noqa: F401
    elif kind is Kind.MARKDOWN:
        import lxml.html  # noqa: F401
        import markdown_it  # noqa: F401
        import mdit_py_plugins.front_matter  # noqa: F401
        import yaml  # noqa: F401


def main(argv: list[str] | None = None) -> int:
    """The worker: read the file from stdin, write one JSON answer to stdout.

    The type is sniffed before the limits apply (it reads only the file's start and, for a
    zip, its directory), so that only its parser is imported, unbounded; everything that
    parses the file runs bounded.
    """
    parser = argparse.ArgumentParser(prog="python -m bot.library.upload")
    parser.add_argument("--name", default="")
    parser.add_argument("--memory", type=int, required=True)
    parser.add_argument("--cpu-seconds", type=int, required=True)
    args = parser.parse_args(argv)
    data = sys.stdin.buffer.read()
    answer: dict[str, Any]
    try:
        _preload(sniff(data, args.name))
        _limit_self(args.memory, args.cpu_seconds)
        answer = encode_result(extract(data, args.name))
    except Unreadable as refusal:
        answer = {"refused": refusal.problem.value, "detail": refusal.detail}
    except MemoryError:
        answer = {"refused": Problem.TOO_MUCH_MEMORY.value}
    except RecursionError:
        answer = {"refused": Problem.DAMAGED.value}
    except Exception as error:  # a parser that fails on a hostile file: it cannot be read
        print(f"reading failed: {type(error).__name__}: {error}"[:500], file=sys.stderr)
        answer = {"refused": Problem.DAMAGED.value}
    sys.stdout.write(json.dumps(answer))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
