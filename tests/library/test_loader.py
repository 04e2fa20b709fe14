import codecs
import logging
import shutil
from pathlib import Path

import pytest

from bot.library.catalogue import CatalogueError
from bot.library.loader import (
    MAX_DOCUMENT_BYTES,
    BadBytes,
    bundled_library_dir,
    decode_document,
    load_library,
)


def test_bundled_library_loads_every_document_with_its_catalogue_entry() -> None:
    library = load_library([bundled_library_dir()], passage_max_chars=700)
    ids = {d.info.id for d in library.documents}
    assert ids == {
        "kuzbass",
        "workers-opposition",
        "guerin",
        "on-the-russian-revolution",
        "crimethinc-1919",
    }
    assert library.skipped == ()
    guerin = library.document("guerin")
    assert guerin.info.author == "Daniel Guérin"
    assert all(p.text.strip() for p in library.passages)


def test_passage_ids_are_stable_across_reloads_and_other_documents_changing(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "lib"
    shutil.copytree(bundled_library_dir(), folder)
    before = load_library([folder], 700)
    (folder / "new-notes.txt").write_text("A New Note\nThe colony had a library of its own.\n")
    after = load_library([folder], 700)
    for document in before.documents:
        old = [(p.id, p.text) for p in document.passages]
        new = [(p.id, p.text) for p in after.document(document.info.id).passages]
        assert old == new
    assert before.fingerprint != after.fingerprint


def test_document_without_catalogue_entry_loads_with_its_file_name(tmp_path: Path) -> None:
    (tmp_path / "strike-at-putilov.txt").write_text(
        "Strike at Putilov\nThe workers stopped the machines in March. They met in the yard.\n"
    )
    library = load_library([tmp_path], 700)
    (document,) = library.documents
    assert document.info.id == "strike-at-putilov"
    assert document.info.title == "Strike at putilov"
    assert document.passages[0].id == "strike-at-putilov:1"


def test_empty_binary_and_oversized_documents_are_reported_and_skipped(tmp_path: Path) -> None:
    (tmp_path / "empty.txt").write_text("   \n")
    (tmp_path / "binary.txt").write_bytes(b"\x00\x01\x02abc")
    with (tmp_path / "huge.txt").open("wb") as huge:
        huge.truncate(MAX_DOCUMENT_BYTES + 1)  # sparse: the size is refused before the NULs
    (tmp_path / "good.md").write_text("# Good\n\nThe soviets met daily in 1917.\n")
    library = load_library([tmp_path], 700)
    assert [d.info.id for d in library.documents] == ["good"]
    reasons = dict((s.file, s.reason) for s in library.skipped)
    assert reasons == {
        "binary.txt": "is not a text file",
        "empty.txt": "is empty",
        "huge.txt": "is larger than 20 MB",
    }


@pytest.mark.parametrize(
    ("prefix", "newline"),
    [(b"", b"\n"), (b"", b"\r\n"), (codecs.BOM_UTF8, b"\n")],
    ids=["lf", "crlf", "bom"],
)
def test_a_document_with_invalid_bytes_is_kept_and_the_warning_names_the_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, prefix: bytes, newline: bytes
) -> None:
    lines = [
        b"The Guerin Chapter",
        b"",
        "Daniel Gu\xe9rin wrote of the soviets in 1921.".encode("latin-1"),  # line 3
        "The factory committees met in Petrograd. Kronstadt rose in M\xe4rz.".encode("latin-1"),
    ]
    (tmp_path / "guerin.txt").write_bytes(prefix + newline.join(lines) + newline)
    with caplog.at_level(logging.WARNING, logger="bot.library.loader"):
        library = load_library([tmp_path], 700)

    assert library.skipped == ()
    text = " ".join(p.text for p in library.document("guerin").passages)
    assert "Daniel Gu\ufffdrin wrote of the soviets in 1921." in text
    assert "Kronstadt rose in M\ufffdrz." in text
    [warning] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert str(tmp_path / "guerin.txt") in warning
    assert "2 place(s), the first on line 3" in warning


def test_decoding_counts_bad_sequences_not_real_replacement_characters() -> None:
    data = "ok \ufffd\nfine\n".encode() + b"bad \xff\xfe and \xe2\x82\n"
    text, bad = decode_document(data)
    assert text == "ok \ufffd\nfine\nbad \ufffd\ufffd and \ufffd\n"
    assert bad == BadBytes(count=3, first_line=3)
    assert decode_document("Guérin\n".encode()) == ("Guérin\n", None)


def test_a_broken_catalogue_names_the_problem(tmp_path: Path) -> None:
    (tmp_path / "catalogue.toml").write_text('[[document]]\nid = "Bad Id!"\nfile = "x.txt"\n')
    with pytest.raises(CatalogueError, match="title"):
        load_library([tmp_path], 700)
