"""Which library reads uploads best: measured on the shelf fixtures (tests/data/shelves).

Each fixture was made from a Markdown text in tests/data/shelves/sources by pandoc or
LibreOffice (scripts/make_shelf_fixtures.sh), so the true text is known. For each extractor
this prints the share of the source's sentences found whole in the extracted text (after
whitespace is squashed), how many words of page furniture leaked in (navigation, cookie
notice, footer), how many paragraphs the raw text keeps apart (blank-line separated chunks:
the PDF cleaner finds paragraphs by them; the source has headings + paragraphs), and the
time per file (the second of two runs, so imports are not counted).

    python3 benchmarks/bench_extractors.py

Candidates that are not installed are skipped (pypdf and trafilatura are not dependencies).
"""

from __future__ import annotations

import importlib.util
import io
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.library._cleaning_common import Vocabulary, squash  # noqa: E402
from bot.library.formats import extract  # noqa: E402
from bot.library.shelf import passages_of  # noqa: E402

SHELVES = ROOT / "tests" / "data" / "shelves"
FURNITURE = ("Accept all cookies", "Donate", "newsletter", "All rights reserved", "Archive")
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")


def source_sentences(name: str) -> list[str]:
    text = (SHELVES / "sources" / f"{name}.md").read_text(encoding="utf-8")
    body = text.split("---", 2)[2]
    prose = [line for line in body.splitlines() if line.strip() and not line.startswith("#")]
    return [s.strip() for line in prose for s in _SENTENCE.split(line) if s.strip()]


def ours(path: Path) -> str:
    """What the bot keeps: the extractor, then the library's cleaners, as passages."""
    extracted = extract(path.read_bytes(), path.name)
    words = extracted.text or " ".join(b.text for b in extracted.blocks)
    passages = passages_of(extracted, "d", "t", [], Vocabulary.from_texts([words]), 700)
    return "\n\n".join(p.text for p in passages)


def pdfminer_raw(path: Path) -> str:
    from pdfminer.high_level import extract_text

    return str(extract_text(io.BytesIO(path.read_bytes())))


def pypdf_raw(path: Path) -> str:
    import pypdf

    reader = pypdf.PdfReader(io.BytesIO(path.read_bytes()))
    return "\n".join(page.extract_text() or "" for page in reader.pages)


def readability_raw(path: Path) -> str:
    import lxml.html
    from readability import Document

    summary = Document(path.read_text(encoding="utf-8")).summary(html_partial=True)
    return str(lxml.html.document_fromstring(summary).text_content())


def trafilatura_raw(path: Path) -> str:
    import trafilatura

    return str(trafilatura.extract(path.read_text(encoding="utf-8")) or "")


CANDIDATES: dict[str, list[tuple[str, str | None, Callable[[Path], str]]]] = {
    "paris-commune.pdf": [
        ("ours: pdfminer.six + cleaners", None, ours),
        ("pdfminer.six raw", None, pdfminer_raw),
        ("pypdf raw", "pypdf", pypdf_raw),
    ],
    "luddites.html": [
        ("ours: readability-lxml + lxml blocks", None, ours),
        ("readability-lxml raw", None, readability_raw),
        ("trafilatura", "trafilatura", trafilatura_raw),
    ],
    "aragon-collectives.epub": [("ours: ebooklib + lxml blocks", None, ours)],
    "diggers.md": [("ours: markdown-it-py", None, ours)],
}


def main() -> None:
    print(
        f"{'file':24} {'extractor':37} {'sentences':>10} {'furniture':>9} {'chunks':>6} {'ms':>6}"
    )
    for name, candidates in CANDIDATES.items():
        sentences = source_sentences(name.rsplit(".", 1)[0])
        for label, module, read in candidates:
            if module is not None and importlib.util.find_spec(module) is None:
                print(f"{name:24} {label:37} {'(not installed)':>10}")
                continue
            read(SHELVES / name)
            started = time.perf_counter()
            raw = read(SHELVES / name)
            elapsed = (time.perf_counter() - started) * 1000
            text = squash(raw)
            chunks = sum(1 for chunk in re.split(r"\n\s*\n", raw) if chunk.strip())
            found = sum(s in text for s in sentences)
            leaked = sum(text.count(f) for f in FURNITURE)
            print(
                f"{name:24} {label:37} {found:>4}/{len(sentences):<5} {leaked:>9} {chunks:>6}"
                f" {elapsed:>6.1f}"
            )


if __name__ == "__main__":
    main()
