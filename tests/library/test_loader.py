import shutil
from pathlib import Path

import pytest

from bot.library.catalogue import CatalogueError
from bot.library.loader import bundled_library_dir, load_library


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


def test_empty_binary_and_undecodable_documents_are_reported_and_skipped(tmp_path: Path) -> None:
    (tmp_path / "empty.txt").write_text("   \n")
    (tmp_path / "binary.txt").write_bytes(b"\x00\x01\x02abc")
    (tmp_path / "latin1.txt").write_bytes("Gu\xe9rin".encode("latin-1"))
    (tmp_path / "good.md").write_text("# Good\n\nThe soviets met daily in 1917.\n")
    library = load_library([tmp_path], 700)
    assert [d.info.id for d in library.documents] == ["good"]
    reasons = dict((s.file, s.reason) for s in library.skipped)
    assert reasons == {
        "binary.txt": "is not a text file",
        "empty.txt": "is empty",
        "latin1.txt": "is not UTF-8 text",
    }


def test_a_broken_catalogue_names_the_problem(tmp_path: Path) -> None:
    (tmp_path / "catalogue.toml").write_text('[[document]]\nid = "Bad Id!"\nfile = "x.txt"\n')
    with pytest.raises(CatalogueError, match="title"):
        load_library([tmp_path], 700)
