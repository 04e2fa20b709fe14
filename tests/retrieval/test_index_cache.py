import shutil
from pathlib import Path

import pytest

from bot.app import build_engine
from bot.config import Config, RetrievalConfig
from bot.library.loader import bundled_library_dir


def test_index_is_saved_reused_and_rebuilt_when_a_document_or_config_changes(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "lib"
    shutil.copytree(bundled_library_dir(), folder)
    config = Config(data_dir=tmp_path / "data", retrieval=RetrievalConfig(engine="postings"))
    first = build_engine(config, [folder])
    assert not first.report.from_cache
    assert (tmp_path / "data" / "index" / "bm25" / "header.json").is_file()

    second = build_engine(config, [folder])
    assert second.report.from_cache

    kuzbass = folder / "kuzbass-autonomous-industrial-colony.md"
    kuzbass.write_text(kuzbass.read_text() + "\n\nThe colonists also kept bees in Kemerovo.\n")
    third = build_engine(config, [folder])
    assert not third.report.from_cache
    assert third.search("bees kemerovo", 1)[0].passage.doc_id == "kuzbass"

    changed = config.model_copy(update={"retrieval": RetrievalConfig(engine="postings", k1=1.6)})
    assert not build_engine(changed, [folder]).report.from_cache


def test_a_small_library_is_ranked_by_rank_bm25_and_remembers_when_it_was_indexed(
    tmp_path: Path,
) -> None:
    config = Config(data_dir=tmp_path)
    first = build_engine(config)
    assert first.report.engine == "rank-bm25" and not first.report.from_cache
    second = build_engine(config)
    assert second.report.from_cache and second.report.built_at == first.report.built_at
    assert not (tmp_path / "index" / "bm25").exists()  # nothing to save: built in a blink


def test_a_corrupt_cache_is_rebuilt(tmp_path: Path) -> None:
    config = Config(data_dir=tmp_path, retrieval=RetrievalConfig(engine="postings"))
    build_engine(config)
    (tmp_path / "index" / "bm25" / "doc_ids.npy").write_bytes(b"garbage")
    engine = build_engine(config)
    assert not engine.report.from_cache
    assert engine.report.passages > 100


def test_index_building_reports_progress_in_log_lines_when_not_on_a_terminal(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from bot.retrieval.index import progress_reporter

    report = progress_reporter(120_000)  # stderr is captured by pytest, so not a terminal
    with caplog.at_level("INFO", logger="bot.retrieval.index"):
        for done in range(10_000, 120_001, 10_000):
            report(done, 0)
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "indexed 50000 of 120000 passages",
        "indexed 100000 of 120000 passages",
        "indexed 120000 of 120000 passages",
    ]


def test_a_cache_with_damaged_values_is_rebuilt_and_answers_right(tmp_path: Path) -> None:
    import numpy as np

    config = Config(data_dir=tmp_path, retrieval=RetrievalConfig(engine="postings"))
    build_engine(config)
    ids = tmp_path / "index" / "bm25" / "doc_ids.npy"
    np.save(ids, np.load(ids) + 10**6)  # passages past the end: would read outside the arrays
    engine = build_engine(config)
    assert not engine.report.from_cache
    assert engine.search("kronstadt baltic fleet", 1)[0].score > 0


def test_an_index_of_the_previous_format_is_rebuilt_once(tmp_path: Path) -> None:
    import json

    config = Config(data_dir=tmp_path, retrieval=RetrievalConfig(engine="postings"))
    build_engine(config)
    folder = tmp_path / "index" / "bm25"
    header = json.loads((folder / "header.json").read_text())
    header["format_version"] = 7  # one level of block-max bounds, no fine windows
    del header["fine_passages"]
    (folder / "header.json").write_text(json.dumps(header))
    for name in ("fine_rows.npy", "fine_max.npy"):
        (folder / name).unlink()
    rebuilt = build_engine(config)
    assert not rebuilt.report.from_cache
    assert (folder / "fine_max.npy").is_file()
    assert build_engine(config).report.from_cache  # saved in the new format, then reused
