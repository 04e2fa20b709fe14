"""Reading uploads by content: the fixture files (made by scripts/make_shelf_fixtures.sh from
texts that are not in the bundled library) and files that only pretend to be documents."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from bot.library._cleaning_common import Vocabulary
from bot.library.formats import Kind, Problem, Unreadable, extract, sniff, year_of
from bot.library.shelf import passages_of, words_of

SHELVES = Path(__file__).resolve().parents[1] / "data" / "shelves"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"


@pytest.mark.parametrize(
    ("name", "kind", "title", "fact"),
    [
        (
            "paris-commune.pdf",
            Kind.PDF,
            "The Fall of the Vendôme Column",
            "Courbet went into exile",
        ),
        ("aragon-collectives.epub", Kind.EPUB, "The Council of Aragon", "Joaquín Ascaso"),
        ("luddites.html", Kind.HTML, "The Luddite Rising in the West Riding", "Rawfolds Mill"),
        ("diggers.md", Kind.MARKDOWN, "The Diggers of Surrey", "St George's Hill"),
    ],
)
def test_each_format_gives_its_words_and_its_own_metadata(
    name: str, kind: Kind, title: str, fact: str
) -> None:
    extracted = extract((SHELVES / name).read_bytes(), name)
    assert extracted.kind is kind
    assert extracted.metadata.title == title
    assert extracted.metadata.author == "Samizdat contributors"
    passages = passages_of(
        extracted, "doc", title, [title, "Samizdat contributors", "2026"], Vocabulary(), 700
    )
    text = " ".join(p.text for p in passages)
    assert fact in text
    assert all(p.id == f"doc:{n}" for n, p in enumerate(passages, start=1))


def test_a_web_page_loses_its_navigation_cookie_notice_and_footer() -> None:
    extracted = extract((SHELVES / "luddites.html").read_bytes())
    words = words_of(extracted)
    assert "Seventeen men were hanged" in words
    for furniture in ("Accept all cookies", "Donate", "newsletter", "All rights reserved"):
        assert furniture not in words


def test_pdf_text_is_reflowed_into_whole_sentences() -> None:
    extracted = extract((SHELVES / "paris-commune.pdf").read_bytes())
    passages = passages_of(extracted, "doc", "t", [], Vocabulary.from_texts([extracted.text]), 700)
    text = " ".join(p.text for p in passages)
    # The PDF breaks this sentence over two lines; the cleaner joins them.
    assert "two days after the municipal elections" in text
    assert "\n" not in text


def test_type_is_decided_by_content_not_by_name() -> None:
    markdown = (SHELVES / "diggers.md").read_bytes()
    assert sniff((SHELVES / "paris-commune.pdf").read_bytes(), "notes.txt") is Kind.PDF
    assert sniff((SHELVES / "luddites.html").read_bytes(), "page.md") is Kind.HTML
    assert sniff(markdown, "diggers.pdf") is Kind.MARKDOWN
    with pytest.raises(Unreadable) as refused:
        sniff(PNG + bytes(200), "book.pdf")
    assert refused.value.problem is Problem.NOT_A_DOCUMENT
    assert refused.value.detail == "image/png"


@pytest.mark.parametrize(
    "data",
    [b"", b"   \n\t\n", bytes(range(256)) * 50, b"\x7fELF\x02\x01\x01" + bytes(500)],
    ids=["empty", "blank", "random-bytes", "executable"],
)
def test_what_is_not_a_document_is_refused_with_its_reason(data: bytes) -> None:
    with pytest.raises(Unreadable) as refused:
        extract(data, "book.epub")
    assert refused.value.problem in {Problem.EMPTY, Problem.NOT_A_DOCUMENT}


def test_a_scanned_pdf_has_no_text_layer() -> None:
    with pytest.raises(Unreadable) as refused:
        extract((SHELVES / "scanned.pdf").read_bytes())
    assert refused.value.problem is Problem.NO_TEXT_LAYER


def test_a_truncated_pdf_is_damaged() -> None:
    data = (SHELVES / "paris-commune.pdf").read_bytes()[:300]
    with pytest.raises(Unreadable) as refused:
        extract(data)
    assert refused.value.problem in {Problem.DAMAGED, Problem.NO_TEXT_LAYER}


def _epub_with(member: str, payload: bytes, count: int = 1) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("mimetype", "application/epub+zip", zipfile.ZIP_STORED)
        for n in range(count):
            archive.writestr(f"{member}{n}", payload)
    return buffer.getvalue()


def test_a_zip_bomb_epub_is_refused_before_it_is_unpacked() -> None:
    bomb = _epub_with("OEBPS/chapter", bytes(5_000_000))
    assert len(bomb) < 10_000
    with pytest.raises(Unreadable) as refused:
        extract(bomb, "book.epub")
    assert refused.value.problem is Problem.UNPACKS_TOO_LARGE


def test_an_epub_of_too_many_entries_is_refused() -> None:
    with pytest.raises(Unreadable) as refused:
        extract(_epub_with("x", b"", count=10_001), "book.epub")
    assert refused.value.problem is Problem.UNPACKS_TOO_LARGE


def test_a_zip_that_is_not_an_epub_is_not_a_document() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("report.docx.xml", "<w:document/>")
    with pytest.raises(Unreadable) as refused:
        extract(buffer.getvalue(), "book.epub")
    assert refused.value.problem is Problem.NOT_A_DOCUMENT


def test_markdown_front_matter_that_is_not_a_mapping_is_no_metadata() -> None:
    extracted = extract(b"---\n- just\n- a list\n---\n\n# Heading\n\nSome words here.\n", "n.md")
    assert extracted.metadata.title is None
    assert [b.text for b in extracted.blocks] == ["Heading", "Some words here."]


@pytest.mark.parametrize(
    ("value", "year"),
    [("2019-05-01", 2019), ("D:20190501120000", 2019), ("May 1919", 1919), ("someday", None)],
)
def test_year_of_reads_the_dates_formats_carry(value: str, year: int | None) -> None:
    assert year_of(value) == year
