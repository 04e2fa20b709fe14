"""Times the whole answer path (retrieve + compose) over generated libraries of N passages.

Run by hand, never by the tests:  python3 benchmarks/bench_answers.py --sizes 10000,100000

The library is made from the bundled library's own sentences, resampled with a fixed seed
into passages of two to five sentences, so vocabulary and lengths are realistic; the
questions come from bench_retrieval's generator. Cleaning is skipped (the text is already
clean); indexing, retrieval and answer composition are the project's own.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_retrieval import library_sentences, questions

from bot.answers.engine import AnswerEngine, IndexReport
from bot.config import AnswerConfig, RetrievalConfig
from bot.library.catalogue import DocumentInfo
from bot.library.loader import Document, Library
from bot.library.segmentation import Passage, split_sentences
from bot.retrieval.index import indexed_text, params_of
from bot.retrieval.retriever import Retriever, build_bm25
from bot.retrieval.tokenize import Tokenizer, TokenizerOptions

RESULTS = Path(__file__).parent / "results"


def generated_library(n: int, seed: int = 7) -> Library:
    sentences = [s for text in library_sentences() for s in split_sentences(text)]
    rng = np.random.default_rng(seed)
    passages = []
    for ordinal in range(1, n + 1):
        start = int(rng.integers(len(sentences)))
        run = tuple(sentences[start : start + int(rng.integers(2, 6))]) or (sentences[0],)
        passages.append(Passage(f"gen:{ordinal}", "gen", ordinal, "Generated", run))
    info = DocumentInfo(id="gen", file="gen.txt", title="Generated library", author="Bench")
    return Library((Document(info, tuple(passages)),), (), f"generated-{n}-{seed}")


def engine_for(library: Library) -> tuple[AnswerEngine, float]:
    config = RetrievalConfig()
    tokenizer = Tokenizer(TokenizerOptions())
    started = time.perf_counter()
    bm25 = build_bm25(
        [tokenizer(indexed_text(p, library, config)) for p in library.passages],
        params_of(config),
    )
    built = time.perf_counter() - started
    report = IndexReport(1, len(library.passages), (), datetime.now(UTC), False)
    retriever = Retriever(library.passages, bm25, tokenizer)
    return AnswerEngine(library, retriever, report, AnswerConfig()), built


def measure(n: int, count: int) -> dict[str, float]:
    engine, built = engine_for(generated_library(n))
    asked = questions(library_sentences(), count, seed=11)
    for question in asked[:10]:
        engine.answer(question)
    timings = []
    for question in asked:
        started = time.perf_counter()
        engine.answer(question)
        timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    return {
        "passages": n,
        "build_s": round(built, 2),
        "answer_p50_ms": round(statistics.median(timings), 3),
        "answer_p99_ms": round(timings[min(len(timings) - 1, int(len(timings) * 0.99))], 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--questions", type=int, default=200)
    args = parser.parse_args()
    rows = [measure(int(n), args.questions) for n in args.sizes.split(",")]
    print(f"{'passages':>10} {'build s':>8} {'answer p50 ms':>14} {'answer p99 ms':>14}")
    for row in rows:
        print(
            f"{row['passages']:>10,} {row['build_s']:>8} {row['answer_p50_ms']:>14} "
            f"{row['answer_p99_ms']:>14}"
        )
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"answers-{datetime.now(UTC):%Y-%m-%d}.json"
    # Sizes measured earlier the same day are kept, so sizes can be run one at a time.
    earlier = json.loads(out.read_text()) if out.exists() else []
    measured = {row["passages"] for row in rows}
    merged = [r for r in earlier if r["passages"] not in measured] + rows
    out.write_text(json.dumps(sorted(merged, key=lambda r: r["passages"]), indent=2))
    print(f"written to {out}")


if __name__ == "__main__":
    main()
