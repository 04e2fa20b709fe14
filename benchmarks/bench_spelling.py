"""What spelling correction costs a question: time and peak memory, by word length and count.

Run by hand, never from the test suite (the tests bound the work by counting it):

    python3 benchmarks/bench_spelling.py

Over the bundled library it times `Retriever.query_pairs` for one unknown word of growing
length, for questions of many unknown words, and for an ordinary question, and reports the
peak memory `tracemalloc` saw while answering each (measured in a separate pass, since
tracing slows Python down).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.config import Config  # noqa: E402
from bot.retrieval.retriever import Retriever  # noqa: E402

CONSONANTS = "bcdfghjklmnpqrstvwxz"  # letters no stem or stop word is made of alone


def _word(rng: random.Random, length: int) -> str:
    return "".join(rng.choice(CONSONANTS) for _ in range(length))


def _measure(retriever: Retriever, question: str, repeat: int) -> tuple[float, float, int]:
    """Median and worst milliseconds over `repeat` runs, and the peak traced bytes."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        retriever.query_pairs(question)
        times.append((time.perf_counter() - start) * 1000)
    tracemalloc.start()
    try:
        retriever.query_pairs(question)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return statistics.median(times), max(times), peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    from bot.app import build_engine

    with tempfile.TemporaryDirectory() as data:
        retriever = build_engine(Config(data_dir=Path(data))).retriever
    rng = random.Random(15)
    cases = [
        ("ordinary question", "why did the kronstadt sailors rebell against the bolsheviks"),
        *[(f"one {n}-letter word", _word(rng, n)) for n in (10, 30, 100, 499, 4000, 20000)],
        *[
            (f"{n} unknown 9-letter words", " ".join(_word(rng, 9) for _ in range(n)))
            for n in (10, 50, 200, 2000)
        ],
    ]
    print(f"{'question':<28} {'chars':>7} {'median ms':>10} {'worst ms':>9} {'peak KiB':>9}")
    for name, question in cases:
        median, worst, peak = _measure(retriever, question, args.repeat)
        print(f"{name:<28} {len(question):>7} {median:>10.2f} {worst:>9.2f} {peak / 1024:>9.0f}")


if __name__ == "__main__":
    main()
