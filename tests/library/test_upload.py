"""Reading an upload in the bounded worker process: what a hostile file gets is a refusal,
never a crash, a hang or a write."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import pytest

from bot.answers.shelves import read_limits
from bot.config import LibraryConfig
from bot.library.formats import Kind, Problem, Unreadable
from bot.library.upload import ReadLimits, read_upload

SHELVES = Path(__file__).resolve().parents[1] / "data" / "shelves"
LIMITS = ReadLimits()


def _refusal(data: bytes, name: str = "upload", limits: ReadLimits = LIMITS) -> Unreadable:
    with pytest.raises(Unreadable) as refused:
        read_upload(data, name, limits)
    return refused.value


def test_the_worker_reads_a_pdf_and_its_info() -> None:
    extracted = read_upload((SHELVES / "paris-commune.pdf").read_bytes(), "x", LIMITS)
    assert extracted.kind is Kind.PDF
    assert extracted.metadata.title == "The Fall of the Vendôme Column"
    assert "Vendôme Column" in extracted.text
    assert extracted.pages >= 1


def test_limits_come_from_the_library_settings() -> None:
    config = LibraryConfig(upload_max_bytes=5_000, upload_read_seconds=7, upload_read_memory_mb=300)
    assert read_limits(config) == ReadLimits(5_000, 7, 300_000_000)


def test_empty_and_zero_byte_pdf_are_refused_without_starting_a_worker() -> None:
    assert _refusal(b"", "book.pdf").problem is Problem.EMPTY


def test_a_file_over_the_limit_is_refused_unread() -> None:
    # A 50 MB web page: over the default 20 MB limit, refused before anything parses it.
    page = b"<html><body>" + b"<p>word word word</p>" * 2_500_000
    assert len(page) > 50_000_000
    refusal = _refusal(page, "page.html")
    assert refusal.problem is Problem.TOO_LARGE
    assert refusal.detail == str(LIMITS.max_bytes)


def test_a_pdf_without_a_text_layer_is_refused_by_the_worker() -> None:
    assert _refusal((SHELVES / "scanned.pdf").read_bytes()).problem is Problem.NO_TEXT_LAYER


def test_a_renamed_binary_is_refused_by_the_worker() -> None:
    refusal = _refusal(b"\x7fELF\x02\x01\x01\x00" + os.urandom(4000), "history.pdf")
    assert refusal.problem is Problem.NOT_A_DOCUMENT


def test_a_zip_bomb_is_refused_by_the_worker() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("mimetype", "application/epub+zip", zipfile.ZIP_STORED)
        archive.writestr("OEBPS/chapter.xhtml", bytes(5_000_000))
    assert _refusal(buffer.getvalue(), "book.epub").problem is Problem.UNPACKS_TOO_LARGE


def test_a_file_that_takes_too_long_is_cut_off() -> None:
    limits = ReadLimits(seconds=0.01)
    assert _refusal((SHELVES / "diggers.md").read_bytes(), limits=limits).problem is (
        Problem.TOO_SLOW
    )


def test_a_file_that_needs_too_much_memory_is_refused() -> None:
    page = b"<html><body>" + b"<p>word " * 2_400_000 + b"</body></html>"
    limits = ReadLimits(memory_bytes=300_000_000)
    refusal = _refusal(page, "page.html", limits)
    assert refusal.problem in {Problem.TOO_MUCH_MEMORY, Problem.DAMAGED}


def test_the_worker_cannot_write_files(tmp_path: Path) -> None:
    """The worker forbids itself to write before it reads: a parser tricked into writing
    fails. Shown by the limit itself, on a child that tries."""
    import subprocess
    import sys

    target = tmp_path / "written"
    script = (
        "import sys\n"
        "from bot.library.upload import _limit_self\n"
        "_limit_self(2_000_000_000, 10)\n"
        "try:\n"
        f"    open({str(target)!r}, 'wb', buffering=0).write(b'data')\n"
        "except OSError:\n"
        "    sys.exit(3)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, check=False)
    assert done.returncode == 3
    assert not target.exists() or target.stat().st_size == 0
