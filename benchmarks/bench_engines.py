"""Where rank-bm25 itself stops being fast enough: both engines on libraries of N passages.

Run by hand:  python3 benchmarks/bench_engines.py --sizes 300,1000,2000,5000,10000

Both engines give the same scores (tests/retrieval/test_rank_engine.py); this measures the
time a question takes in each, and the build time, on passages resampled from the bundled
library's sentences with chat-style questions. It chose `RANK_BM25_MAX_PASSAGES`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_retrieval import library_sentences, passages, questions, tokenize

from bot.retrieval.fast_bm25 import PostingsBM25
from bot.retrieval.rank_engine import RankBM25


def measure(n: int, count: int) -> dict[str, float]:
    sentences = library_sentences()
    corpus = list(passages([tokenize(s) for s in sentences], n, seed=3))
    asked = [tokenize(q) for q in questions(sentences, count, seed=5)]
    row: dict[str, float] = {"passages": n}
    for name, make in (("rank_bm25", RankBM25), ("postings", PostingsBM25)):
        started = time.perf_counter()
        engine = make(corpus, variant="okapi", k1=1.2, b=0.75)
        row[f"{name}_build_ms"] = round((time.perf_counter() - started) * 1000, 1)
        for q in asked[:10]:
            engine.top_k(q, 20)
        timings = []
        for q in asked:
            started = time.perf_counter()
            engine.top_k(q, 20)
            timings.append((time.perf_counter() - started) * 1000)
        timings.sort()
        row[f"{name}_p50_ms"] = round(statistics.median(timings), 3)
        row[f"{name}_p99_ms"] = round(timings[int(len(timings) * 0.99) - 1], 3)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="300,1000,2000,5000,10000")
    parser.add_argument("--questions", type=int, default=200)
    args = parser.parse_args()
    for n in args.sizes.split(","):
        print(json.dumps(measure(int(n), args.questions)))


if __name__ == "__main__":
    main()
