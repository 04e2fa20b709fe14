"""PostingsBM25 must rank exactly as rank-bm25 does, for every variant, and persist safely."""

from __future__ import annotations

import errno
import json
import re
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pytest
from numpy.typing import NDArray
from rank_bm25 import BM25L, BM25Okapi, BM25Plus

from bot.retrieval import fast_bm25
from bot.retrieval.fast_bm25 import PostingsBM25, Variant

VARIANTS: tuple[Variant, ...] = ("okapi", "plus", "l")
KNOWLEDGE = Path(__file__).resolve().parents[2] / "knowledge"
KS = (1, 3, 10, 50)


class Reference:
    """rank-bm25 itself, with its dense scores sorted best first, ties to the lower id."""

    def __init__(self, corpus: Sequence[Sequence[str]], variant: Variant) -> None:
        docs = [list(d) for d in corpus]
        model = {"okapi": BM25Okapi, "plus": BM25Plus, "l": BM25L}[variant]
        self.model = model(docs)

    def scores(self, query: Sequence[str]) -> NDArray[np.float64]:
        return np.asarray(self.model.get_scores(list(query)), dtype=np.float64)

    def top_k(self, query: Sequence[str], k: int) -> list[tuple[int, float]]:
        return ranked(self.scores(query), k)


def ranked(scores: NDArray[np.float64], k: int) -> list[tuple[int, float]]:
    order = np.lexsort((np.arange(len(scores)), -scores))[:k]
    return [(int(i), float(scores[i])) for i in order]


def assert_like_rank_bm25(ours: PostingsBM25, ref: Reference, query: list[str]) -> None:
    want = ref.scores(query)
    np.testing.assert_allclose(ours.scores(query), want, rtol=1e-6, atol=1e-12)
    for k in KS:
        assert_same_ranking(ours.top_k(query, k), ranked(want, k))


def assert_same_ranking(got: list[tuple[int, float]], want: list[tuple[int, float]]) -> None:
    assert [i for i, _ in got] == [i for i, _ in want]
    np.testing.assert_allclose([s for _, s in got], [s for _, s in want], rtol=1e-6, atol=0)


def zipf_library(seed: int, passages: int, vocabulary: int) -> list[list[str]]:
    """Passages of 0-80 words drawn from a Zipfian vocabulary, a few left empty."""
    rng = np.random.default_rng(seed)
    weights = 1 / np.arange(1, vocabulary + 1) ** 1.07
    weights /= weights.sum()
    lengths = rng.integers(0, 80, size=passages)
    return [[f"w{t}" for t in rng.choice(vocabulary, size=n, p=weights)] for n in lengths]


def zipf_queries(seed: int, count: int, vocabulary: int) -> list[list[str]]:
    """Queries of 1-12 words, some with unknown or repeated words."""
    rng = np.random.default_rng(seed)
    weights = 1 / np.arange(1, vocabulary + 1) ** 0.8
    weights /= weights.sum()
    queries = []
    for n in range(count):
        query = [f"w{t}" for t in rng.choice(vocabulary, size=int(rng.integers(1, 13)), p=weights)]
        if n % 5 == 0:
            query.append("never-indexed")
        if n % 7 == 0:
            query.append(query[0])
        queries.append(query)
    return queries


def bundled_library() -> list[list[str]]:
    paragraphs: list[list[str]] = []
    for path in sorted(KNOWLEDGE.iterdir()):
        if path.suffix in {".txt", ".md"}:
            for block in re.split(r"\n\s*\n", path.read_text(encoding="utf-8")):
                tokens = re.findall(r"\w+", block.lower())
                if tokens:
                    paragraphs.append(tokens)
    return paragraphs


def library_queries(library: Sequence[Sequence[str]], seed: int, count: int) -> list[list[str]]:
    """Words picked from one paragraph, chat-style, sometimes misspelled or repeated."""
    rng = np.random.default_rng(seed)
    queries = []
    for n in range(count):
        paragraph = library[int(rng.integers(len(library)))]
        size = min(len(paragraph), int(rng.integers(2, 12)))
        query = [paragraph[int(i)] for i in rng.choice(len(paragraph), size=size, replace=False)]
        if n % 6 == 0:
            query.append("bolshevikz")
        if n % 9 == 0:
            query.extend(query[:2])
        queries.append(query)
    return queries


@pytest.fixture(scope="module")
def zipf() -> list[list[str]]:
    return zipf_library(seed=7, passages=3000, vocabulary=4000)


@pytest.fixture(scope="module")
def bundled() -> list[list[str]]:
    library = bundled_library()
    assert len(library) > 100
    return library


@pytest.mark.parametrize("variant", VARIANTS)
def test_zipf_library_ranks_like_rank_bm25(zipf: list[list[str]], variant: Variant) -> None:
    ours, ref = PostingsBM25(zipf, variant=variant), Reference(zipf, variant)
    for query in zipf_queries(seed=11, count=100, vocabulary=4500):
        assert_like_rank_bm25(ours, ref, query)


@pytest.mark.parametrize("variant", VARIANTS)
def test_bundled_library_ranks_like_rank_bm25(bundled: list[list[str]], variant: Variant) -> None:
    ours, ref = PostingsBM25(bundled, variant=variant), Reference(bundled, variant)
    for query in library_queries(bundled, seed=3, count=100):
        assert_like_rank_bm25(ours, ref, query)


@pytest.mark.parametrize("variant", VARIANTS)
def test_parameters_reach_the_score(zipf: list[list[str]], variant: Variant) -> None:
    ours = PostingsBM25(zipf, variant=variant, k1=0.9, b=0.4, epsilon=0.5, delta=0.7)
    model = {"okapi": BM25Okapi, "plus": BM25Plus, "l": BM25L}[variant]
    extra = {"epsilon": 0.5} if variant == "okapi" else {"delta": 0.7}
    ref = model(zipf, k1=0.9, b=0.4, **extra)
    for query in zipf_queries(seed=5, count=20, vocabulary=4000):
        want = np.asarray(ref.get_scores(query))
        np.testing.assert_allclose(ours.scores(query), want, rtol=1e-6, atol=1e-12)
        assert_same_ranking(ours.top_k(query, 10), ranked(want, 10))


def test_repeated_term_counts_twice(zipf: list[list[str]]) -> None:
    ours = PostingsBM25(zipf)
    once, twice = ours.scores(["w3"]), ours.scores(["w3", "w3"])
    assert np.any(once > 0)
    np.testing.assert_allclose(twice, 2 * once, rtol=1e-12)
    assert_same_ranking(ours.top_k(["w3", "w3"], 5), Reference(zipf, "okapi").top_k(["w3"] * 2, 5))


@pytest.mark.parametrize("variant", VARIANTS)
def test_empty_query_scores_nothing(zipf: list[list[str]], variant: Variant) -> None:
    ours = PostingsBM25(zipf, variant=variant)
    assert not ours.scores([]).any()
    assert ours.top_k([], 10) == []


@pytest.mark.parametrize("variant", VARIANTS)
def test_unknown_words_only_rank_like_rank_bm25(zipf: list[list[str]], variant: Variant) -> None:
    ours = PostingsBM25(zipf, variant=variant)
    assert not ours.scores(["qqq", "zzz"]).any()
    assert ours.top_k(["qqq", "zzz"], 4) == [(0, 0.0), (1, 0.0), (2, 0.0), (3, 0.0)]


@pytest.mark.parametrize("variant", VARIANTS)
def test_k_beyond_the_library_returns_every_passage(variant: Variant) -> None:
    library = [["red", "army"], ["white", "army"], [], ["red", "guard", "red"], ["kronstadt"]]
    ours, ref = PostingsBM25(library, variant=variant), Reference(library, variant)
    for query in (["red"], ["army", "kronstadt"], ["guard", "nothing"]):
        got = ours.top_k(query, 50)
        assert len(got) == len(library)
        assert_same_ranking(got, ref.top_k(query, 50))


@pytest.mark.parametrize("variant", VARIANTS)
def test_fewer_matches_than_k_fill_in_by_id(zipf: list[list[str]], variant: Variant) -> None:
    ours, ref = PostingsBM25(zipf, variant=variant), Reference(zipf, variant)
    passages_with = Counter(t for passage in zipf for t in set(passage))
    rare = min(passages_with, key=lambda t: passages_with[t])
    assert passages_with[rare] < 40
    assert_same_ranking(ours.top_k([rare], 40), ref.top_k([rare], 40))


def test_negative_idf_floor_ranks_like_rank_bm25() -> None:
    # Every term is in most passages: all idfs are negative, so is the epsilon floor.
    library = [["a", "b"], ["a", "b", "b"], ["a"], ["b", "a", "a"], ["a", "b", "c"]]
    ours, ref = PostingsBM25(library), Reference(library, "okapi")
    assert ours.idf("a") < 0
    for query in (["a"], ["b", "a"], ["c", "a"], ["c"]):
        assert_same_ranking(ours.top_k(query, 3), ref.top_k(query, 3))


def test_rejects_bad_input(zipf: list[list[str]]) -> None:
    with pytest.raises(ValueError, match="empty corpus"):
        PostingsBM25([])
    with pytest.raises(ValueError, match="variant"):
        PostingsBM25(zipf, variant="bm42")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="positive"):
        PostingsBM25(zipf).top_k(["w1"], 0)


def test_progress_reports_every_passage(zipf: list[list[str]]) -> None:
    seen: list[tuple[int, int]] = []
    PostingsBM25(zipf, progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (len(zipf), len(zipf))
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_generator_input_builds_the_same_index(zipf: list[list[str]]) -> None:
    def stream() -> Iterator[list[str]]:
        yield from zipf

    seen: list[tuple[int, int]] = []
    streamed = PostingsBM25(stream(), progress=lambda d, t: seen.append((d, t)))
    assert seen[-1] == (len(zipf), 0)
    query = ["w1", "w20", "w300"]
    np.testing.assert_array_equal(streamed.scores(query), PostingsBM25(zipf).scores(query))


def test_threads_share_one_index(zipf: list[list[str]]) -> None:
    ours = PostingsBM25(zipf)
    queries = zipf_queries(seed=2, count=60, vocabulary=4000)
    alone = [ours.top_k(q, 10) for q in queries]
    with ThreadPoolExecutor(max_workers=4) as pool:
        together = list(pool.map(lambda q: ours.top_k(q, 10), queries))
    assert together == alone


# -- persistence -------------------------------------------------------------------------------


@pytest.mark.parametrize("variant", VARIANTS)
def test_save_load_round_trip(tmp_path: Path, zipf: list[list[str]], variant: Variant) -> None:
    built = PostingsBM25(zipf, variant=variant)
    built.save(tmp_path, "hash-1")
    loaded = PostingsBM25.load(tmp_path, "hash-1", variant=variant)
    assert loaded is not None
    assert len(loaded) == len(built) and loaded.vocabulary_size == built.vocabulary_size
    for query in zipf_queries(seed=13, count=30, vocabulary=4000):
        np.testing.assert_array_equal(loaded.scores(query), built.scores(query))
        assert loaded.top_k(query, 10) == built.top_k(query, 10)


def test_saving_again_replaces_the_index(tmp_path: Path, zipf: list[list[str]]) -> None:
    PostingsBM25(zipf[:100]).save(tmp_path, "old")
    PostingsBM25(zipf).save(tmp_path, "new")
    assert PostingsBM25.load(tmp_path, "old") is None
    loaded = PostingsBM25.load(tmp_path, "new")
    assert loaded is not None and len(loaded) == len(zipf)


@pytest.fixture
def saved(tmp_path: Path, zipf: list[list[str]]) -> Path:
    PostingsBM25(zipf).save(tmp_path, "hash-1")
    assert PostingsBM25.load(tmp_path, "hash-1") is not None
    return tmp_path


def test_other_content_hash_is_not_loaded(saved: Path) -> None:
    assert PostingsBM25.load(saved, "hash-2") is None


@pytest.mark.parametrize(
    "params",
    [{"variant": "plus"}, {"k1": 1.2}, {"b": 0.5}, {"epsilon": 0.1}, {"delta": 0.5}],
)
def test_other_parameters_are_not_loaded(saved: Path, params: dict[str, object]) -> None:
    assert PostingsBM25.load(saved, "hash-1", **params) is None  # type: ignore[arg-type]


def test_other_format_version_is_not_loaded(saved: Path) -> None:
    header = json.loads((saved / "header.json").read_text())
    header["format_version"] += 1
    (saved / "header.json").write_text(json.dumps(header))
    assert PostingsBM25.load(saved, "hash-1") is None


def test_an_index_saved_before_block_max_bounds_is_rebuilt(saved: Path) -> None:
    # Format 6 had no window files: such a folder is refused (the caller rebuilds it).
    header = json.loads((saved / "header.json").read_text())
    header["format_version"] = 6
    del header["window_passages"]
    (saved / "header.json").write_text(json.dumps(header))
    for name in ("window_rows.npy", "window_max.npy", "fine_rows.npy", "fine_max.npy"):
        (saved / name).unlink()
    assert PostingsBM25.load(saved, "hash-1") is None


def test_an_index_saved_before_fine_windows_is_rebuilt(saved: Path) -> None:
    # Format 7 had one level of block-max bounds: such a folder is refused (and rebuilt).
    header = json.loads((saved / "header.json").read_text())
    header["format_version"] = 7
    del header["fine_passages"]
    (saved / "header.json").write_text(json.dumps(header))
    for name in ("fine_rows.npy", "fine_max.npy"):
        (saved / name).unlink()
    assert PostingsBM25.load(saved, "hash-1") is None


@pytest.mark.parametrize("fine", [0, 5, 256, "16", None])
def test_fine_windows_that_do_not_tile_the_windows_are_not_loaded(
    saved: Path, fine: object
) -> None:
    header = json.loads((saved / "header.json").read_text())
    assert header["window_passages"] == 128
    header["fine_passages"] = fine
    (saved / "header.json").write_text(json.dumps(header))
    assert PostingsBM25.load(saved, "hash-1") is None


def test_a_term_table_that_is_not_a_permutation_is_not_loaded(saved: Path) -> None:
    rows = np.load(saved / "term_rows.npy")
    rows[1] = rows[0]
    np.save(saved / "term_rows.npy", rows)
    assert PostingsBM25.load(saved, "hash-1") is None


def test_a_loaded_index_finds_terms_without_rebuilding_a_dictionary(
    saved: Path, zipf: list[list[str]]
) -> None:
    loaded = PostingsBM25.load(saved, "hash-1")
    built = PostingsBM25(zipf)
    assert loaded is not None
    assert loaded.terms() == built.terms()
    for term in [*built.terms()[:50], "not-a-term", ""]:
        assert loaded.document_frequency(term) == built.document_frequency(term)
    prefix = built.terms()[7][:2]
    every = [t for t in built.terms() if t.startswith(prefix)]
    assert loaded.terms_starting_with(prefix, 10**6) == every
    assert built.terms_starting_with(prefix, 10**6) == every
    assert loaded.terms_starting_with(prefix, len(every) - 1) is None  # counted, not read
    assert loaded.longest_term() == built.longest_term() == max(map(len, built.terms()))


def test_missing_folder_is_not_loaded(tmp_path: Path) -> None:
    assert PostingsBM25.load(tmp_path / "nowhere", "hash-1") is None


@pytest.mark.parametrize(
    "name",
    [
        "header.json",
        "term_bytes.npy",
        "term_rows.npy",
        "doc_ids.npy",
        "tfs.npy",
        "split.npy",
        "window_max.npy",
        "fine_rows.npy",
        "fine_max.npy",
    ],
)
def test_missing_file_is_not_loaded(saved: Path, name: str) -> None:
    (saved / name).unlink()
    assert PostingsBM25.load(saved, "hash-1") is None


@pytest.mark.parametrize(
    ("name", "damage"),
    [
        ("header.json", b"{not json"),
        ("header.json", b"[]"),
        ("term_starts.npy", b"\x00\x01"),
        ("term_rows.npy", b"garbage"),
        ("indptr.npy", b"garbage"),
        ("idf.npy", b""),
    ],
)
def test_corrupt_file_is_not_loaded(saved: Path, name: str, damage: bytes) -> None:
    (saved / name).write_bytes(damage)
    assert PostingsBM25.load(saved, "hash-1") is None


@pytest.mark.parametrize(
    "name",
    ["doc_ids.npy", "tfs.npy", "doc_len.npy", "max_gain.npy", "indptr.npy", "split.npy"],
)
def test_truncated_array_is_not_loaded(saved: Path, name: str) -> None:
    path = saved / name
    path.write_bytes(path.read_bytes()[:-16])
    assert PostingsBM25.load(saved, "hash-1") is None


def test_array_of_the_wrong_shape_is_not_loaded(saved: Path) -> None:
    np.save(saved / "doc_len.npy", np.ones(5, dtype=np.int32))
    assert PostingsBM25.load(saved, "hash-1") is None


def test_large_library_builds_in_chunks_like_rank_bm25() -> None:
    # More passages than one build chunk holds, so the chunked sort and merge are exercised.
    rng = np.random.default_rng(17)
    library = [
        [f"t{t}" for t in rng.integers(0, 300, size=int(n))] for n in rng.integers(0, 6, 40_000)
    ]
    ours, ref = PostingsBM25(library), Reference(library, "okapi")
    for query in (["t1"], ["t7", "t250", "t7"], ["t299", "t0", "t42", "nope"]):
        want = ref.scores(query)
        np.testing.assert_array_equal(ours.scores(query), want)
        assert_same_ranking(ours.top_k(query, 25), ranked(want, 25))


def test_vocabulary_beyond_16_bits_ranks_like_rank_bm25() -> None:
    # More terms than 16 bits number: the term table and the hash of its slots at scale.
    rng = np.random.default_rng(23)
    library = [
        [f"r{t}" for t in rng.integers(0, 200_000, size=40)] + [f"c{t}" for t in range(n % 7)]
        for n in range(2_500)
    ]
    ours, ref = PostingsBM25(library), Reference(library, "okapi")
    assert ours.vocabulary_size > 2**16
    for n in range(20):
        passage = library[int(rng.integers(len(library)))]
        query = [passage[int(i)] for i in rng.choice(len(passage), size=1 + n % 6, replace=False)]
        assert_like_rank_bm25(ours, ref, [*query, "c0", "c3"][: 2 + n % 8])


def test_tokens_of_any_characters_rank_like_rank_bm25() -> None:
    # Tokens are joined with a control character while building: tokens holding every one of
    # them, empty tokens, non-ASCII and lone surrogates must still be told apart exactly.
    controls = [chr(c) for c in range(32)]
    long = "k" * 300  # longer than the 255 a slot's mark holds
    library = [
        ["a\x00b", "a", "b", "", "ünï", "\ud800x", *controls, "abcdefgh1", long],
        ["a\x00b", "a\x00", "\x00b", "", "", "abcdefgh2", long + "k", "abcdefgh"],
        ["ünï", "uni", "a", "a", "abcdefgh1", long],
        [],
        ["".join(controls), "b", "\x1f", "abcdefgh"],
    ]
    ours, ref = PostingsBM25(library), Reference(library, "okapi")
    assert ours.vocabulary_size == len({t for passage in library for t in passage})
    for query in (
        ["a\x00b"],
        ["", "a"],
        ["ünï", "\ud800x"],
        ["\x1f", "b", "\x00"],
        ["".join(controls)],
        ["abcdefgh1", long],
        ["abcdefgh", long + "k"],
    ):
        assert_like_rank_bm25(ours, ref, query)


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize(
    ("layered", "window", "fine", "dense"),
    [(64, 12, 2, 0.0), (10**9, 6, 2, 0.0), (64, 6, 3, 2.0), (64, 10**6, 10**6, 0.0)],
)
def test_every_pruning_step_ranks_like_rank_bm25(
    monkeypatch: pytest.MonkeyPatch,
    zipf: list[list[str]],
    variant: Variant,
    layered: int,
    window: int,
    fine: int,
    dense: float,
) -> None:
    # Layers and both levels of block-max windows scaled down to this library's size (or
    # none), so that two runs per term, lists turning non-essential, lookups, windows
    # skipped whole (with bounds saved for common terms and gathered for rare ones), fine
    # windows skipped inside them (always, or only while the walk is dense) and the last
    # exact scoring all take part.
    monkeypatch.setattr(fast_bm25, "_LAYER_MIN_POSTINGS", layered)
    monkeypatch.setattr(fast_bm25, "_WINDOW_PASSAGES", window)
    monkeypatch.setattr(fast_bm25, "_FINE_PASSAGES", fine)
    monkeypatch.setattr(fast_bm25, "_DENSE", dense)
    ours, ref = PostingsBM25(zipf, variant=variant), Reference(zipf, variant)
    a = ours._a
    if window < 100:
        for rows in (a.window_rows, a.fine_rows):
            assert (rows >= 0).any() and (rows < 0).any()  # both kinds of bounds are used
    if window == 12:  # and terms with saved bounds over windows but none over fine ones
        assert ((a.window_rows >= 0) & (a.fine_rows < 0)).any()
    for query in zipf_queries(seed=29, count=100, vocabulary=4500):
        assert_like_rank_bm25(ours, ref, query)


@pytest.mark.parametrize(
    ("name", "damage"),
    [
        ("tfs.npy", lambda a: np.zeros_like(a)),
        ("gains.npy", lambda a: np.full_like(a, np.nan)),
        ("doc_ids.npy", lambda a: a + 10**6),
        ("split.npy", lambda a: a + 10**6),
        ("max_gain.npy", lambda a: np.full_like(a, np.nan)),
        ("indptr.npy", lambda a: a[::-1].copy()),
        ("idf.npy", lambda a: np.full_like(a, np.inf)),
        ("window_rows.npy", lambda a: a + 10**6),
        ("window_rows.npy", lambda a: np.roll(a, 1)),  # in range, but another term's bounds
        ("window_max.npy", lambda a: a / 2),  # bounds too low would drop true top passages
        ("fine_rows.npy", lambda a: a + 10**6),
        ("fine_rows.npy", lambda a: np.roll(a, 1)),
        ("fine_max.npy", lambda a: a // 2),
        ("fine_max.npy", lambda a: a[::-1].copy()),  # right values, wrong windows
    ],
)
def test_an_index_with_damaged_values_is_not_loaded(
    saved: Path, name: str, damage: Callable[[NDArray[Any]], NDArray[Any]]
) -> None:
    """Right shapes and types, wrong values: NaN bounds, zero counts or ids past the end."""
    np.save(saved / name, damage(np.load(saved / name)))
    assert PostingsBM25.load(saved, "hash-1") is None


def test_a_save_that_fails_leaves_the_old_index_and_no_stray_files(
    tmp_path: Path, zipf: list[list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "bm25"
    PostingsBM25(zipf[:50]).save(folder, "old")
    written = [0]
    real_save = np.save

    def disk_fills_up(file: BinaryIO, arr: NDArray[Any]) -> None:  # the platform edge
        written[0] += 1
        if written[0] > 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_save(file, arr)

    monkeypatch.setattr(np, "save", disk_fills_up)
    with pytest.raises(OSError, match="No space left"):
        PostingsBM25(zipf).save(folder, "new")
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bm25"]
    old = PostingsBM25.load(folder, "old")
    assert old is not None and len(old) == 50
