"""What the cleaned-passage cache saves at start with a large document in the library.

Run by hand, never from the test suite:

    python3 benchmarks/bench_library_cache.py                # a 19 MB book, a few minutes

The book is the bundled library's sentences resampled (fixed seed) into the shape of text
extracted from a PDF: hard-wrapped lines, words broken over line ends, pages that start with
a space, a heading now and then. It is loaded beside the bundled library, as an admin's
addition would be. Each start runs in a fresh process, so nothing is shared between them
but the files: a start as it was before the cache, a first start that fills the cache, and
starts that read it. Every start must produce the same passages; the script checks that.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # this checkout's code, not an installed copy
SEED = 20_261_215
LINES_PER_PAGE = 45
WIDTH = 72
CATALOGUE = """[[document]]
id = "big-book"
file = "big-book.txt"
title = "A Big Book"
format = "pdf-text"
"""


def library_sentences() -> list[str]:
    """Plain prose sentences of the bundled library (no markup, no lists)."""
    from bot.library.segmentation import split_sentences

    sentences: list[str] = []
    for path in sorted((ROOT / "knowledge").iterdir()):
        if path.suffix not in {".txt", ".md"}:
            continue
        for paragraph in path.read_text(encoding="utf-8").split("\n\n"):
            for sentence in split_sentences(" ".join(paragraph.split())):
                if 30 <= len(sentence) <= 300 and not re.search(r"[\[\]|#<>*_=]", sentence):
                    sentences.append(sentence)
    return sentences


def _break_words(lines: list[str], rng: random.Random) -> list[str]:
    """Break a word over some line ends (`revolu-` / `tionary`), as PDF extraction does."""
    for i in range(len(lines) - 1):
        first, _, rest = lines[i + 1].partition(" ")
        if rng.random() < 0.08 and len(first) >= 6 and first.isalpha() and rest:
            cut = rng.randint(2, len(first) - 3)
            lines[i] = f"{lines[i]} {first[:cut]}-"
            lines[i + 1] = f"{first[cut:]} {rest}"
    return lines


def make_book(size_bytes: int, seed: int = SEED) -> str:
    """A PDF-shaped text of about `size_bytes`, the same for the same seed."""
    rng = random.Random(seed)
    sentences = library_sentences()
    lines: list[str] = []
    size = 0
    paragraphs = 0
    while size < size_bytes:
        if paragraphs % 40 == 0:
            lines.extend([f"Chapter {paragraphs // 40 + 1}", ""])
        paragraph = " ".join(rng.choice(sentences) for _ in range(rng.randint(3, 7)))
        wrapped = _break_words(textwrap.wrap(paragraph, WIDTH, break_long_words=False), rng)
        lines.extend([*wrapped, ""])
        size += len(paragraph) + len(wrapped) + 1
        paragraphs += 1
    for start in range(0, len(lines), LINES_PER_PAGE):
        lines[start] = " " + lines[start]  # the extractor marks a page's first line
    return "\n".join(lines) + "\n"


def child(work: Path, cached: bool) -> None:
    """One start: load the library, print what it took and what it produced."""
    from bot.library.loader import bundled_library_dir, load_library

    started = time.perf_counter()
    cache = work / "library-cache" if cached else None
    library = load_library([bundled_library_dir(), work / "book"], 700, cache)
    seconds = time.perf_counter() - started
    digest = hashlib.sha256()
    for passage in library.passages:
        digest.update(f"{passage.id}\x00{passage.section}\x00{passage.text}\x01".encode())
    report = {
        "seconds": seconds,
        "passages": len(library.passages),
        "from_cache": sorted(library.from_cache),
        "digest": digest.hexdigest(),
    }
    print(json.dumps(report))


def start(work: Path, cached: bool) -> dict[str, object]:
    command = [sys.executable, __file__, "--work", str(work), "--child"]
    command += ["cached"] if cached else ["plain"]
    path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    env = {**os.environ, "PYTHONPATH": path}
    result = subprocess.run(command, capture_output=True, text=True, check=True, env=env)
    report: dict[str, object] = json.loads(result.stdout.splitlines()[-1])
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--megabytes", type=float, default=19.0, help="size of the book")
    parser.add_argument("--warm", type=int, default=3, help="starts with a full cache")
    parser.add_argument("--work", type=Path, default=Path("/tmp/samizdat-bench/library-cache"))
    parser.add_argument("--child", choices=["plain", "cached"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.work, args.child == "cached")
        return 0

    book = args.work / "book"
    book.mkdir(parents=True, exist_ok=True)
    (book / "catalogue.toml").write_text(CATALOGUE, encoding="utf-8")
    text = make_book(int(args.megabytes * 1_000_000))
    (book / "big-book.txt").write_text(text, encoding="utf-8")
    shutil.rmtree(args.work / "library-cache", ignore_errors=True)
    size = len(text.encode())
    print(f"book: {size / 1e6:.1f} MB, {text.count(chr(10)):,} lines, beside the bundled library")

    runs = [("no cache (every start before)", start(args.work, cached=False))]
    runs.append(("first start, empty cache", start(args.work, cached=True)))
    runs.extend(
        ("next start, cache filled", start(args.work, cached=True)) for _ in range(args.warm)
    )
    digests = {str(report["digest"]) for _, report in runs}
    for name, report in runs:
        cached = len(report["from_cache"]) if isinstance(report["from_cache"], list) else 0
        print(
            f"{name:<32} {report['seconds']:8.2f} s  {report['passages']:,} passages, "
            f"{cached} documents from the cache"
        )
    warm = [float(str(report["seconds"])) for name, report in runs if name.startswith("next")]
    cold = float(str(runs[0][1]["seconds"]))
    if warm:
        print(
            f"median start with the cache: {statistics.median(warm):.2f} s "
            f"({cold / statistics.median(warm):.0f}x faster than without)"
        )
    on_disk = sum(p.stat().st_size for p in (args.work / "library-cache").iterdir())
    print(f"cache on disk: {on_disk / 1e6:.1f} MB")
    print("same passages in every start:", "yes" if len(digests) == 1 else "NO")
    # The machine may be shared: other work slows the uncached starts most.
    print(f"1-minute load average at the end: {os.getloadavg()[0]:.2f}")
    return 0 if len(digests) == 1 else 1


if __name__ == "__main__":
    sys.exit(main())
