"""How long adding a document to a place's shelf takes, and what a question waits meanwhile.

Adds a generated Markdown document of `--passages` passages to a fresh shelf (reading it in
the worker, cleaning, indexing the shared library and the shelf together), then a small
fixture on top of it (a rebuild of the whole place's index), and prints each time. BM25
only, unless `--semantic`: embedding thousands of new passages takes minutes on a CPU.

    python3 benchmarks/bench_shelves.py --passages 5000
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # generated_documents, shared with the tests

from generated_documents import minutes  # noqa: E402

from bot.answers.shelves import DocumentFields, Shelves, Upload  # noqa: E402
from bot.app import build_engine  # noqa: E402
from bot.config import Config, RetrievalConfig  # noqa: E402


async def main(passages: int, semantic: bool) -> None:
    with tempfile.TemporaryDirectory() as folder:
        retrieval = RetrievalConfig(semantic="auto" if semantic else "off")
        config = Config(data_dir=Path(folder), retrieval=retrieval)
        started = time.perf_counter()
        shared = build_engine(config)
        print(
            f"shared library: {len(shared.library.passages)} passages, "
            f"{time.perf_counter() - started:.1f} s"
        )
        shelves = Shelves(shared, config.data_dir, config.library, config.retrieval)
        big = minutes(passages)
        started = time.perf_counter()
        added = await shelves.add("bench", Upload(big, "minutes.md"), DocumentFields(), "b", True)
        print(
            f"add {len(big) / 1e6:.1f} MB, {added.entry.passages} passages: "
            f"{time.perf_counter() - started:.1f} s ({added.engine.retriever.engine_name})"
        )
        small = (ROOT / "tests" / "data" / "shelves" / "diggers.md").read_bytes()
        started = time.perf_counter()
        await shelves.add("bench", Upload(small, "diggers.md"), DocumentFields(), "b", True)
        print(
            f"add a small file on top (rebuilds the place's index): "
            f"{time.perf_counter() - started:.1f} s"
        )
        engine = await shelves.engine_for("bench", True)
        assert engine is not None
        started = time.perf_counter()
        engine.answer("Who led the Diggers on St George's Hill?")
        print(f"one answer from the place's engine: {time.perf_counter() - started:.2f} s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--passages", type=int, default=5000)
    parser.add_argument("--semantic", action="store_true")
    args = parser.parse_args()
    asyncio.run(main(args.passages, args.semantic))
