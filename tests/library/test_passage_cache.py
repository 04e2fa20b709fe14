"""The cleaned-passage cache: reused while nothing that shapes a document changes, never trusted
when damaged, stale or foreign, and never a reason for the library not to load."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.app import build_engine
from bot.config import Config, RetrievalConfig
from bot.library import loader
from bot.library.loader import Library, bundled_library_dir, load_library
from bot.library.passage_cache import CACHE_FORMAT, SUFFIX, cache_file

CATALOGUE = """
[[document]]
id = "colony"
file = "colony.txt"
title = "The Colony"
format = "pdf-text"

[[document]]
id = "strike"
file = "strike.md"
title = "The Strike"
"""
# A PDF-shaped line break that only the library's vocabulary can mend: `co-`/`operative` is
# joined as "cooperative" unless some document writes "co-operative".
COLONY = " The colony was run as a co-\noperative by its members from 1922.\nThey met weekly.\n"
STRIKE = "# Putilov\n\nThe workers stopped the machines in March. They met in the yard.\n"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    books = tmp_path / "books"
    books.mkdir()
    (books / "catalogue.toml").write_text(CATALOGUE)
    (books / "colony.txt").write_text(COLONY)
    (books / "strike.md").write_text(STRIKE)
    return books


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "data" / "index" / "library-cache"


def contents(library: Library) -> list[tuple[str, str, int, str, tuple[str, ...]]]:
    return [(p.id, p.doc_id, p.ordinal, p.section, p.sentences) for p in library.passages]


def test_an_unchanged_library_is_read_from_the_cache_with_the_same_passages(
    tmp_path: Path, cache: Path
) -> None:
    fresh = load_library([bundled_library_dir()], 700)
    first = load_library([bundled_library_dir()], 700, cache)
    second = load_library([bundled_library_dir()], 700, cache)

    ids = {d.info.id for d in fresh.documents}
    assert first.from_cache == frozenset()
    assert second.from_cache == ids
    assert {p.name.removesuffix(SUFFIX) for p in cache.iterdir()} == ids, "no temporary files"
    assert contents(first) == contents(second) == contents(fresh)
    assert second.fingerprint == fresh.fingerprint


def test_a_new_document_that_changes_the_vocabulary_cleans_the_others_again(
    folder: Path, cache: Path
) -> None:
    before = load_library([folder], 700, cache)
    assert "run as a cooperative" in before.document("colony").passages[0].text

    (folder / "letters.txt").write_text("The Kuzbass co-operative sent engineers.\n")
    after = load_library([folder], 700, cache)

    assert "colony" not in after.from_cache, "its cleaning depends on every document's words"
    assert "run as a co-operative" in after.document("colony").passages[0].text
    assert contents(after) == contents(load_library([folder], 700))


def test_a_changed_catalogue_entry_cleans_that_document_again_and_only_it(
    folder: Path, cache: Path
) -> None:
    load_library([folder], 700, cache)
    catalogue = folder / "catalogue.toml"
    catalogue.write_text(catalogue.read_text().replace("The Colony", "The Kemerovo Colony"))
    library = load_library([folder], 700, cache)

    assert library.from_cache == {"strike"}
    assert library.document("colony").passages[0].section == "The Kemerovo Colony"


def test_a_changed_passage_size_or_pipeline_cleans_everything_again(
    folder: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_library([folder], 700, cache)
    assert load_library([folder], 40, cache).from_cache == frozenset()
    assert load_library([folder], 40, cache).from_cache == {"colony", "strike"}

    monkeypatch.setattr(loader, "PIPELINE_VERSION", "a later cleaner")  # a developer's bump
    assert load_library([folder], 40, cache).from_cache == frozenset()


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _flip_a_letter(path: Path) -> None:
    head, _, body = path.read_bytes().partition(b"\n")
    altered = body.replace(b"workers", b"vorkers", 1)
    assert altered != body
    path.write_bytes(head + b"\n" + altered)


def _garbage(path: Path) -> None:
    path.write_bytes(b"\x00\xff not a cache file")


def _empty(path: Path) -> None:
    path.write_bytes(b"")


def _foreign(path: Path) -> None:
    """Another document's whole, valid file under this document's name."""
    path.write_bytes(cache_file(path.parent, "colony").read_bytes())


def _forged_shape(path: Path) -> None:
    """A header that matches, over passages of the wrong shape."""
    head = json.loads(path.read_bytes().partition(b"\n")[0])
    body = json.dumps([["strike:1", 1, "Putilov", []]]).encode()
    head["sha256"] = hashlib.sha256(body).hexdigest()
    path.write_bytes(json.dumps(head).encode() + b"\n" + body)


def _old_format(path: Path) -> None:
    head, _, body = path.read_bytes().partition(b"\n")
    header = json.loads(head)
    header["format"] = CACHE_FORMAT - 1
    path.write_bytes(json.dumps(header).encode() + b"\n" + body)


@pytest.mark.parametrize(
    "damage",
    [_truncate, _flip_a_letter, _garbage, _empty, _foreign, _forged_shape, _old_format],
    ids=lambda damage: damage.__name__.strip("_"),
)
def test_a_damaged_or_foreign_cache_file_is_ignored_and_rebuilt(
    folder: Path, cache: Path, damage: Callable[[Path], None]
) -> None:
    load_library([folder], 700, cache)
    damage(cache_file(cache, "strike"))

    library = load_library([folder], 700, cache)
    assert library.from_cache == {"colony"}
    assert contents(library) == contents(load_library([folder], 700))
    assert load_library([folder], 700, cache).from_cache == {"colony", "strike"}, "rebuilt"


def test_a_cache_that_cannot_be_written_costs_only_time(
    folder: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    in_the_way = tmp_path / "a-file"
    in_the_way.write_text("not a folder")
    with caplog.at_level(logging.WARNING):
        library = load_library([folder], 700, in_the_way)
    assert library.from_cache == frozenset()
    assert contents(library) == contents(load_library([folder], 700))
    assert "cannot save the cleaned passages" in caplog.text


def test_a_removed_document_leaves_no_cache_file_behind(folder: Path, cache: Path) -> None:
    load_library([folder], 700, cache)
    (folder / "strike.md").unlink()
    load_library([folder], 700, cache)
    assert sorted(p.name for p in cache.iterdir()) == [f"colony{SUFFIX}"]


def test_the_engine_keeps_the_cleaned_passages_in_the_data_folder(
    folder: Path, tmp_path: Path
) -> None:
    # Without the semantic layer: its model is slow to load and has nothing to do with this.
    config = Config(data_dir=tmp_path / "data", retrieval=RetrievalConfig(semantic="off"))
    build_engine(config, folders=[folder])
    engine = build_engine(config, folders=[folder])
    assert engine.library.from_cache == {"colony", "strike"}
    saved = config.data_dir / "index" / "library-cache"
    assert sorted(p.name for p in saved.iterdir()) == [f"colony{SUFFIX}", f"strike{SUFFIX}"]
