"""Times the whole answer path (prepare, retrieve, re-score, compose, decide).

Run by hand, never by the tests:
    python3 benchmarks/bench_answers.py --bundled          # the bundled library, real vectors
    python3 benchmarks/bench_answers.py --sizes 10000,1000000

`--busy N` keeps N other processes spinning on the CPU while it measures: a host where the
bot is not alone (another program, or the bot itself indexing a new document).

`--bundled` answers the development questions over the bundled library exactly as the bot
does (semantic layer on, its shipped vectors). `--sizes` builds libraries from the bundled
library's own sentences, resampled with a fixed seed into passages of two to five
sentences, and times each answer with the semantic layer on and off: the question is
embedded by the real model, while the passages' vectors are random unit vectors (embedding a
million passages takes this machine days; the cost of *using* vectors does not depend on
their values). Cleaning is skipped; everything else is the project's own code.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_retrieval import library_sentences, questions

from bot.answers.compose import Composer
from bot.answers.engine import AnswerEngine, IndexReport
from bot.answers.learning import ModelSet
from bot.app import build_engine
from bot.config import AnswerConfig, Config, RetrievalConfig
from bot.evaluation import read_question_files
from bot.library.catalogue import DocumentInfo
from bot.library.loader import Document, Library
from bot.library.segmentation import Passage, split_sentences
from bot.retrieval.index import indexed_text, params_of
from bot.retrieval.retriever import Retriever, build_bm25, choose_engine
from bot.retrieval.tokenize import Tokenizer, TokenizerOptions
from bot.semantic.encoder import Encoder, load_encoder
from bot.semantic.vectors import SemanticIndex

RESULTS = Path(__file__).parent / "results"
ROOT = Path(__file__).resolve().parents[1]
DEV_SETS = [
    ROOT / "tests" / "data" / "eval-dev.jsonl",
    ROOT / "tests" / "data" / "eval-dev-b.jsonl",
]


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


def random_vectors(
    rows: int, dim: int, seed: int
) -> np.ndarray[tuple[int, int], np.dtype[np.float16]]:
    rng = np.random.default_rng(seed)
    out = np.empty((rows, dim), dtype=np.float16)
    for start in range(0, rows, 100_000):  # in chunks: a million float64 rows is 3 GB
        block = rng.standard_normal((min(100_000, rows - start), dim), dtype=np.float32)
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        out[start : start + len(block)] = block
    return out


def engine_for(library: Library, encoder: Encoder | None) -> tuple[AnswerEngine, float]:
    config = RetrievalConfig()
    tokenizer = Tokenizer(TokenizerOptions())
    started = time.perf_counter()
    bm25 = build_bm25(
        [tokenizer(indexed_text(p, library, config)) for p in library.passages],
        params_of(config),
        engine=choose_engine(config.engine, len(library.passages)),
    )
    built = time.perf_counter() - started
    report = IndexReport(1, len(library.passages), (), datetime.now(UTC), False)
    retriever = Retriever(library.passages, bm25, tokenizer)
    semantic = None
    if encoder is not None:
        starts = np.concatenate([[0], np.cumsum([len(p.sentences) for p in library.passages])])
        semantic = SemanticIndex(
            encoder,
            random_vectors(len(library.passages), encoder.dim, 1),
            random_vectors(int(starts[-1]), encoder.dim, 2),
            random_vectors(int(starts[-1]) - len(library.passages), encoder.dim, 3),
            starts.astype(np.int64),
        )
    model = ModelSet.load().for_mode(semantic is not None)
    composer = Composer(library, retriever, config, encoder, semantic, model)
    return AnswerEngine(library, retriever, composer, report, AnswerConfig()), built


def percentiles(timings: list[float]) -> dict[str, float]:
    timings = sorted(timings)
    return {
        "answer_p50_ms": round(statistics.median(timings), 3),
        "answer_p99_ms": round(timings[min(len(timings) - 1, int(len(timings) * 0.99))], 3),
    }


def timed_answers(engine: AnswerEngine, asked: list[str]) -> list[float]:
    for question in asked[:10]:
        engine.answer(question)
    timings = []
    for question in asked:
        started = time.perf_counter()
        engine.answer(question)
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def measure(n: int, count: int, encoder: Encoder | None) -> dict[str, float]:
    library = generated_library(n)
    asked = questions(library_sentences(), count, seed=11)
    row: dict[str, float] = {"passages": n}
    for name, used in (("bm25", None), ("semantic", encoder)):
        if name == "semantic" and encoder is None:
            continue
        engine, built = engine_for(library, used)
        row["build_s"] = round(built, 2)
        stats = percentiles(timed_answers(engine, asked))
        row.update({f"{name}_{k}": v for k, v in stats.items()})
        del engine
    if encoder is not None:
        # Embedding the question costs the same at any library size; what grows with the
        # library is everything after it.
        encoding = percentiles(timed_encodings(encoder, asked))
        row["question_embedding_p50_ms"] = encoding["answer_p50_ms"]
        row["semantic_over_bm25_p50"] = round(
            row["semantic_answer_p50_ms"] / row["bm25_answer_p50_ms"], 2
        )
        row["semantic_without_embedding_over_bm25_p50"] = round(
            (row["semantic_answer_p50_ms"] - encoding["answer_p50_ms"]) / row["bm25_answer_p50_ms"],
            2,
        )
    return row


def timed_encodings(encoder: Encoder, asked: list[str]) -> list[float]:
    timings = []
    for question in asked:
        started = time.perf_counter()
        encoder.queries([question])
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def measure_bundled(data_dir: Path) -> dict[str, float]:
    engine = build_engine(Config(data_dir=data_dir))
    asked = [q.question for q in read_question_files(DEV_SETS)]
    row: dict[str, float] = {"passages": len(engine.library.passages)}
    row.update(percentiles(timed_answers(engine, asked * 2)))
    row["semantic"] = engine.report.semantic_model is not None
    return row


@contextmanager
def busy(processes: int) -> Iterator[None]:
    """`processes` other programs keeping a core each busy, for as long as the block runs."""
    spinning = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(processes)
    ]
    try:
        yield
    finally:
        for process in spinning:
            process.kill()
            process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--bundled", action="store_true", help="time the bundled library")
    parser.add_argument("--data-dir", type=Path, default=Path(".bench-data"))
    parser.add_argument("--busy", type=int, default=0, help="other processes kept spinning")
    args = parser.parse_args()
    if args.bundled:
        with busy(args.busy):
            row = measure_bundled(args.data_dir)
        row["busy_processes"] = args.busy
        print(json.dumps(row))
        return
    encoder = load_encoder("auto")
    with busy(args.busy):
        rows = [measure(int(n), args.questions, encoder) for n in args.sizes.split(",")]
    for row in rows:
        print(json.dumps(row))
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
