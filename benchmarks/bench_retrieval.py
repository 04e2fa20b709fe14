"""How BM25 retrieval engines scale with the library: build, memory, disk, load and latency.

Run by hand, never from the test suite:

    python3 benchmarks/bench_retrieval.py --sizes 10000,100000,1000000
    python3 benchmarks/bench_retrieval.py --corpus /path/to/real-prose/corpus --sizes 100000,1000000

Two corpora. By default, the synthetic one: the bundled library's sentences resampled (fixed
seed) into passages of realistic length, with chat-style questions drawn from its words: a
vocabulary of ~4,500 words, so every posting list is long (the stress case for pruning).
With `--corpus`, real English prose: `tokens.txt` made by `shared/bench/real-prose/
build_corpus.py` (its docstring has the `apt-get download` steps; about 4 minutes), ~320,000
distinct words and mostly short lists, with the real questions of
`benchmarks/data/real-prose-questions.txt`, tokenized as the corpus was. Every engine gets
the same tokens and the same BM25 parameters (k1 = 1.2, b = 0.75, Samizdat's defaults;
tantivy's are fixed at those). Each engine and size is built in one child process and
served from disk in `--rounds` fresh processes (latency and load time are their medians),
so peak memory (`ru_maxrss`) is that engine's own and "load" is a fresh process opening
the saved index (the OS page cache is warm: dropping it would disturb the machine).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import pickle
import re
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

ROOT = Path(__file__).resolve().parent.parent
LIBRARY = ROOT / "knowledge"
RESULTS = Path(__file__).resolve().parent / "results"
ENGINES = ("ours", "bm25s", "tantivy", "rank_bm25")
RANK_BM25_MAX = 100_000  # rank-bm25 scans every passage per term: too slow beyond this
SEED = 20_251_126
K = 10
K1, B = 1.2, 0.75  # Samizdat's configured defaults; tantivy's are the same
REAL_QUESTIONS = Path(__file__).resolve().parent / "data" / "real-prose-questions.txt"
# The stop words `tokens.txt` was made without (NLTK's English list, as build_corpus.py
# embeds it): the real questions must be tokenized the same way.
NLTK_STOP_WORDS = frozenset(
    """i me my myself we our ours ourselves you you're you've you'll you'd your yours yourself
    yourselves he him his himself she she's her hers herself it it's its itself they them their
    theirs themselves what which who whom this that that'll these those am is are was were be
    been being have has had having do does did doing a an the and but if or because as until
    while of at by for with about against between into through during before after above below
    to from up down in out on off over under again further then once here there when where why
    how all any both each few more most other some such no nor not only own same so than too
    very s t can will just don don't should should've now d ll m o re ve y ain aren aren't
    couldn couldn't didn didn't doesn doesn't hadn hadn't hasn hasn't haven haven't isn isn't ma
    mightn mightn't mustn mustn't needn needn't shan shan't shouldn shouldn't wasn wasn't weren
    weren't won won't wouldn wouldn't""".split()
)
_REAL_WORD = re.compile(r"[a-z0-9]+")


def real_tokenize(text: str) -> list[str]:
    return [t for t in _REAL_WORD.findall(text.lower()) if t not in NLTK_STOP_WORDS]


# A small stop list of function words.
STOP_WORDS = frozenset(
    """a about after all also an and any are as at be been but by can could did do does
    for from had has have he her his how i if in into is it its me my no not of on or our
    she so than that the their them then there these they this those to up us was we were
    what when where which who why will with would you your""".split()
)
_WORD = re.compile(r"\w+")
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_OPENERS = (
    "what did",
    "why did",
    "how did",
    "who was",
    "what was",
    "when did",
    "where did",
    "what happened to",
    "is it true that",
    "can you explain",
    "what does the book say about",
    "how come",
)
_CHAT_NOISE = ("tbh", "pls", "lol", "btw", "idk", "ok so")

Json = dict[str, Any]
AnswerPath = Callable[[str], object]


def tokenize(text: str) -> list[str]:
    """The one tokenizer of this benchmark, for passages and questions alike."""
    return [w for w in _WORD.findall(text.lower()) if w not in STOP_WORDS]


def library_sentences() -> list[str]:
    sentences: list[str] = []
    for path in sorted(LIBRARY.iterdir()):
        if path.suffix not in {".txt", ".md"}:
            continue
        text = " ".join(path.read_text(encoding="utf-8").split())
        sentences.extend(s for s in _SENTENCE.split(text) if len(tokenize(s)) >= 3)
    return sentences


def passages(sentences: Sequence[list[str]], n: int, seed: int) -> Iterator[list[str]]:
    """`n` passages of 40-140 words: a few runs of consecutive library sentences."""
    rng = np.random.default_rng(seed)
    count = len(sentences)
    targets = rng.integers(25, 80, size=n)  # tokens after stop words ~ 40-140 words
    for target in targets:
        doc: list[str] = []
        while len(doc) < target:
            start = int(rng.integers(count))
            for s in sentences[start : start + int(rng.integers(1, 4))]:
                doc.extend(s)
        yield doc


def questions(sentences: Sequence[str], count: int, seed: int) -> list[str]:
    """Lowercase chat-style questions of 5-15 words about one library sentence each."""
    rng = np.random.default_rng(seed + 1)
    result: list[str] = []
    while len(result) < count:
        words = _WORD.findall(sentences[int(rng.integers(len(sentences)))].lower())
        content = [w for w in words if w not in STOP_WORDS]
        if len(content) < 3:
            continue
        opener = _OPENERS[int(rng.integers(len(_OPENERS)))].split()
        room = int(rng.integers(5, 16)) - len(opener)
        take = max(2, min(len(content), room))
        picks = np.sort(rng.choice(len(content), size=take, replace=False))
        body = [content[i] for i in picks]
        if rng.random() < 0.15:
            body.insert(int(rng.integers(len(body) + 1)), rng.choice(_CHAT_NOISE))
        if rng.random() < 0.1:
            body.append(body[0])  # people repeat the word they care about
        result.append(" ".join([*opener, *body][:15]))
    return result


# -- workers (run in child processes) ------------------------------------------------------


def _load_tokens(work: Path, n: int) -> list[list[str]]:
    data = np.load(work / f"corpus-{n}.npz")
    vocab = np.array(json.loads((work / f"vocab-{n}.json").read_text()), dtype=object)
    words = vocab[data["ids"]]
    offsets = data["offsets"]
    return [words[offsets[i] : offsets[i + 1]].tolist() for i in range(n)]


def _peak_mb() -> float:
    """This process's own peak resident memory. Linux keeps `ru_maxrss` across fork and
    exec, so a worker started by a driver holding a million passages' tokens would report
    the driver's size; `VmHWM` belongs to the worker's own address space."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _dir_mb(path: Path) -> float:
    if path.is_file():
        return path.stat().st_size / 2**20
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20


def build_worker(engine: str, n: int, work: Path) -> Json:
    corpus = _load_tokens(work, n)
    target = work / f"index-{engine}-{n}"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    before = _peak_mb()
    start = time.perf_counter()
    if engine == "ours":
        from bot.retrieval.fast_bm25 import PostingsBM25

        PostingsBM25(corpus, k1=K1, b=B).save(target, f"bench-{n}")
    elif engine == "bm25s":
        import bm25s

        retriever = bm25s.BM25(k1=K1, b=B)
        retriever.index(corpus, show_progress=False)
        retriever.save(str(target), show_progress=False)
    elif engine == "tantivy":
        import tantivy

        builder = tantivy.SchemaBuilder()
        builder.add_text_field("body", tokenizer_name="whitespace", index_option="freq")
        index = tantivy.Index(builder.build(), path=str(target))
        writer = index.writer(heap_size=256_000_000, num_threads=2)
        for doc in corpus:
            writer.add_document(tantivy.Document(body=" ".join(doc)))
        writer.commit()
        writer.wait_merging_threads()
    elif engine == "rank_bm25":
        from rank_bm25 import BM25Okapi

        with open(target / "model.pickle", "wb") as f:
            pickle.dump(BM25Okapi(corpus, k1=K1, b=B), f, protocol=pickle.HIGHEST_PROTOCOL)
    else:
        raise ValueError(f"unknown engine {engine}")
    seconds = time.perf_counter() - start
    return {
        "build_s": seconds,
        "build_peak_mb": _peak_mb(),
        "corpus_in_memory_mb": before,
        "index_mb": _dir_mb(target),
    }


Searcher = Callable[[list[str]], list[int]]


def _open(engine: str, target: Path, n: int) -> Searcher:
    """Load the saved index of `engine` and return a top-K search over query tokens."""
    if engine == "ours":
        from bot.retrieval.fast_bm25 import PostingsBM25

        index = PostingsBM25.load(target, f"bench-{n}", k1=K1, b=B)
        if index is None:
            raise RuntimeError("saved index did not load")
        loaded = index
        return lambda q: [i for i, _ in loaded.top_k(q, K)] if q else []
    if engine == "bm25s":
        import bm25s

        retriever = bm25s.BM25.load(str(target), mmap=True, show_progress=False)

        def search_bm25s(q: list[str]) -> list[int]:
            docs, _ = retriever.retrieve([q or [""]], k=K, show_progress=False, n_threads=1)
            return [int(i) for i in docs[0]]

        return search_bm25s
    if engine == "tantivy":
        import tantivy

        opened = tantivy.Index.open(str(target))
        schema = opened.schema
        searcher = opened.searcher()

        def search_tantivy(q: list[str]) -> list[int]:
            terms = [(tantivy.Occur.Should, tantivy.Query.term_query(schema, "body", t)) for t in q]
            hits = searcher.search(tantivy.Query.boolean_query(terms), K, count=False).hits
            return [int(address.doc) for _, address in hits]

        return search_tantivy
    if engine == "rank_bm25":
        with open(target / "model.pickle", "rb") as f:
            model = pickle.load(f)

        def search_rank_bm25(q: list[str]) -> list[int]:
            scores: NDArray[np.float64] = model.get_scores(q)
            kth = np.partition(scores, len(scores) - K)[len(scores) - K]
            pool = np.flatnonzero(scores >= kth)  # all boundary ties, then lower id first
            return [int(i) for i in pool[np.lexsort((pool, -scores[pool]))][:K]]

        return search_rank_bm25
    raise ValueError(f"unknown engine {engine}")


def serve_worker(engine: str, n: int, work: Path, repeat: int) -> Json:
    query_tokens: list[list[str]] = json.loads((work / "questions.json").read_text())["tokens"]
    start = time.perf_counter()
    search = _open(engine, work / f"index-{engine}-{n}", n)
    load_s = time.perf_counter() - start
    start = time.perf_counter()
    results = [search(query_tokens[0])]
    first_ms = (time.perf_counter() - start) * 1000
    latencies: list[float] = []
    if engine == "rank_bm25":  # a second per question at 100k: one timed pass, no warm-up
        for q in query_tokens[1:]:
            start = time.perf_counter()
            results.append(search(q))
            latencies.append((time.perf_counter() - start) * 1000)
    else:
        results.extend(search(q) for q in query_tokens[1:])  # warm-up pass, untimed
        for _ in range(repeat):
            for q in query_tokens:
                start = time.perf_counter()
                search(q)
                latencies.append((time.perf_counter() - start) * 1000)
    (work / f"results-{engine}-{n}.json").write_text(json.dumps(results))
    return {
        "load_s": load_s,
        "first_query_ms": first_ms,
        "p50_ms": float(np.percentile(latencies, 50)),
        "p99_ms": float(np.percentile(latencies, 99)),
        "mean_ms": float(np.mean(latencies)),
        "serve_peak_mb": _peak_mb(),
        "load_average_1m": os.getloadavg()[0],  # other work on the machine skews latency
    }


# -- driver ----------------------------------------------------------------------------------


def prepare_real(work: Path, sizes: Sequence[int], corpus: Path) -> list[str]:
    """The real-prose corpus: its first N passages for each size, and the real questions."""
    asked = [q for q in REAL_QUESTIONS.read_text(encoding="utf-8").splitlines() if q.strip()]
    (work / "questions.json").write_text(
        json.dumps({"text": asked, "tokens": [real_tokenize(q) for q in asked]})
    )
    for n in sizes:
        if (work / f"corpus-{n}.npz").exists() and (work / f"vocab-{n}.json").exists():
            continue
        vocab: dict[str, int] = {}
        ids: list[int] = []
        offsets = [0]
        with open(corpus / "tokens.txt", encoding="utf-8") as lines:
            for _, line in zip(range(n), lines, strict=False):
                ids.extend(vocab.setdefault(t, len(vocab)) for t in line.split())
                offsets.append(len(ids))
        if len(offsets) - 1 < n:
            raise SystemExit(f"{corpus / 'tokens.txt'} has only {len(offsets) - 1} passages")
        np.savez(
            work / f"corpus-{n}.npz",
            ids=np.array(ids, dtype=np.int32),
            offsets=np.array(offsets, dtype=np.int64),
        )
        (work / f"vocab-{n}.json").write_text(json.dumps(list(vocab)))
    return asked


def prepare(work: Path, sizes: Sequence[int], count: int) -> list[str]:
    """Write each size's token ids and the questions to `work`; return the questions."""
    sentences = library_sentences()
    tokenized = [tokenize(s) for s in sentences]
    asked = questions(sentences, count, SEED)
    (work / "questions.json").write_text(
        json.dumps({"text": asked, "tokens": [tokenize(q) for q in asked]})
    )
    for n in sizes:
        if (work / f"corpus-{n}.npz").exists() and (work / f"vocab-{n}.json").exists():
            continue
        vocab: dict[str, int] = {}
        ids: list[int] = []
        offsets = [0]
        for doc in passages(tokenized, n, SEED + n):
            ids.extend(vocab.setdefault(t, len(vocab)) for t in doc)
            offsets.append(len(ids))
        np.savez(
            work / f"corpus-{n}.npz",
            ids=np.array(ids, dtype=np.int32),
            offsets=np.array(offsets, dtype=np.int64),
        )
        (work / f"vocab-{n}.json").write_text(json.dumps(list(vocab)))
    return asked


def _child(args: list[str]) -> Json:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, __file__, *args], capture_output=True, text=True, env=env, check=False
    )
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1:] or ["failed"]}
    result: Json = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _agreement(work: Path, engine: str, n: int) -> float | None:
    """Share of questions where rank-bm25 returns the same top-K ids as ours, in order (the
    other engines use other BM25 formulas, and tantivy numbers documents per segment)."""
    ours, theirs = work / f"results-ours-{n}.json", work / f"results-{engine}-{n}.json"
    if engine != "rank_bm25" or not ours.exists() or not theirs.exists():
        return None
    a: list[list[int]] = json.loads(ours.read_text())
    b: list[list[int]] = json.loads(theirs.read_text())
    return sum(x == y for x, y in zip(a, b, strict=True)) / len(a)


def measure_answer_path(answer: AnswerPath, asked: Sequence[str], repeat: int) -> Json:
    """Latency of the whole answer path (question text in, reply out) over the questions."""
    for q in asked:
        answer(q)
    latencies: list[float] = []
    for _ in range(repeat):
        for q in asked:
            start = time.perf_counter()
            answer(q)
            latencies.append((time.perf_counter() - start) * 1000)
    return {
        "p50_ms": float(np.percentile(latencies, 50)),
        "p99_ms": float(np.percentile(latencies, 99)),
        "mean_ms": float(np.mean(latencies)),
    }


def _available(engine: str) -> bool:
    if engine in {"ours", "rank_bm25"}:
        return True
    try:
        __import__(engine)
    except ImportError:
        return False
    return True


def _fmt(value: object, digits: int = 2) -> str:
    if isinstance(value, float):
        return "-" if math.isnan(value) else f"{value:.{digits}f}"
    return "-" if value is None else str(value)


def print_table(rows: list[Json]) -> None:
    columns = (
        ("size", "passages", 0),
        ("engine", "engine", 0),
        ("build s", "build_s", 2),
        ("build MB", "build_peak_mb", 0),
        ("disk MB", "index_mb", 1),
        ("load s", "load_s", 3),
        ("1st ms", "first_query_ms", 2),
        ("p50 ms", "p50_ms", 3),
        ("p99 ms", "p99_ms", 3),
        ("serve MB", "serve_peak_mb", 0),
        ("p50 x ours", "p50_vs_ours", 2),
        ("same top10", "same_top10_as_ours", 2),
    )
    table = [[h for h, _, _ in columns]]
    table += [[_fmt(r.get(key), d) for _, key, d in columns] for r in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(columns))]
    for line in table:
        print("  ".join(cell.rjust(w) for cell, w in zip(line, widths, strict=True)))


def _median_of_rounds(rounds: list[Json]) -> Json:
    """Each number is the median over fresh-process rounds (the first round's results)."""
    ok = [r for r in rounds if "error" not in r]
    if not ok:
        return rounds[0]
    merged: Json = dict(ok[0])
    for key, value in ok[0].items():
        if isinstance(value, float):
            merged[key] = float(np.median([r[key] for r in ok]))
    merged["rounds"] = len(ok)
    return merged


def run(
    sizes: Sequence[int],
    engines: Sequence[str],
    work: Path,
    count: int,
    repeat: int,
    answer_path: AnswerPath | None = None,
    corpus: Path | None = None,
    rounds: int = 1,
) -> Json:
    """Benchmark every engine at every size; `answer_path`, when given, is timed over the
    same questions (the lead wires it to the project's answer composer)."""
    work.mkdir(parents=True, exist_ok=True)
    asked = prepare_real(work, sizes, corpus) if corpus else prepare(work, sizes, count)
    rows: list[Json] = []
    for n in sizes:
        for engine in engines:
            if not _available(engine) or (engine == "rank_bm25" and n > RANK_BM25_MAX):
                continue
            print(f"[{dt.datetime.now():%H:%M:%S}] {engine} at {n:,}", file=sys.stderr)
            row: Json = {"passages": n, "engine": engine}
            row.update(_child(["--worker", "build", engine, str(n), str(work)]))
            if "error" not in row:
                serve = ["--worker", "serve", engine, str(n), str(work), str(repeat)]
                row.update(_median_of_rounds([_child(serve) for _ in range(rounds)]))
            row["same_top10_as_ours"] = _agreement(work, engine, n)
            rows.append(row)
            shutil.rmtree(work / f"index-{engine}-{n}", ignore_errors=True)
        ours = next((r for r in rows if r["passages"] == n and r["engine"] == "ours"), None)
        for r in rows:
            if r["passages"] == n and ours and "p50_ms" in r and "p50_ms" in ours:
                r["p50_vs_ours"] = r["p50_ms"] / ours["p50_ms"]
    report: Json = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "corpus": str(corpus) if corpus else "synthetic (bundled library resampled)",
        "k1": K1,
        "b": B,
        "rounds": rounds,
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        "k": K,
        "questions": len(asked),
        "question_samples": asked[:5],
        "repeat": repeat,
        "rows": rows,
    }
    if answer_path is not None:
        report["answer_path"] = measure_answer_path(answer_path, asked, repeat)
    return report


def main(argv: Sequence[str] | None = None, answer_path: AnswerPath | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["--worker"]:
        kind, engine, n, work = args[1], args[2], int(args[3]), Path(args[4])
        if kind == "build":
            result = build_worker(engine, n, work)
        else:
            result = serve_worker(engine, n, work, int(args[5]))
        print(json.dumps(result))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated passage counts")
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3, help="timed passes over the questions")
    parser.add_argument("--work", type=Path, default=Path("/tmp/samizdat-bench"))
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument(
        "--corpus", type=Path, default=None, help="folder with the real-prose tokens.txt"
    )
    parser.add_argument("--rounds", type=int, default=3, help="fresh serving processes")
    options = parser.parse_args(args)
    sizes = [int(s.replace("_", "")) for s in options.sizes.split(",")]
    report = run(
        sizes,
        options.engines.split(","),
        options.work,
        options.questions,
        options.repeat,
        answer_path,
        options.corpus,
        options.rounds,
    )
    print_table(report["rows"])
    kind = "real" if options.corpus else "synthetic"
    out = options.out or RESULTS / f"retrieval-{kind}-{dt.date.today().isoformat()}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
