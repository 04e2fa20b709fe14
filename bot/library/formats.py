"""What an uploaded file is, by its bytes, and the text and metadata inside it.

Everything here reads bytes a stranger sent, so it runs in a worker process with time and
memory bounds (`bot.library.upload`); nothing here may be trusted to finish. The type is
decided by the content, never by the name: `%PDF-` is a PDF, a zip whose `mimetype` says
so is an EPUB, other binaries are refused by what they are, and text is HTML, Markdown or
plain by its shape (the name only chooses between Markdown and plain text, which are read
alike and equally safe).

Each format is read by a well-kept library: pdfminer.six for PDF (its text boxes keep the
blank line between paragraphs that the PDF cleaner needs), readability-lxml and lxml for a
web page's main text, ebooklib and lxml for EPUB, markdown-it-py for Markdown. Formats that
carry structure come back as blocks (headings and paragraphs); PDF and plain text come back
as text for the library's own cleaners (de-hyphenation, glued words, page-end notes).
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from bot.library._cleaning_common import Block, squash

# A zip member or a whole EPUB that unpacks past these is a bomb, not a book: the largest
# real EPUBs (illustrated) unpack to a few hundred MB, text ones to a few MB.
MAX_UNPACKED_BYTES = 200_000_000
MAX_ZIP_ENTRIES = 10_000
MAX_ZIP_RATIO = 200
# Extracted text past this is refused: as much as the library takes from a text file.
MAX_TEXT_CHARS = 20_000_000
# Invalid UTF-8 in more than this share of a text file means it is not text at all.
MAX_BAD_BYTES_SHARE = 0.01

_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_PARAGRAPHS = frozenset({"p", "li", "blockquote", "pre", "dd", "dt", "figcaption", "td"})
_SKIPPED = frozenset({"script", "style", "nav", "header", "footer", "aside", "form", "noscript"})
_HTML_START = re.compile(
    rb"^\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head|body)\b",
    re.IGNORECASE | re.DOTALL,
)
_HTML_ANYWHERE = re.compile(rb"<(?:html|body|head)\b[^>]*>", re.IGNORECASE)
_ATX_HEADING = re.compile(r"^#{1,6}[ \t]+\S", re.MULTILINE)
_YEAR = re.compile(r"\b(1[0-9]{3}|20[0-9]{2})\b")
_PAGE_NUMBER = re.compile(r"^\s*(?:page\s+)?\d{1,4}\s*$", re.IGNORECASE)
_MARKDOWN_NAMES = (".md", ".markdown", ".mdown", ".mkd")


class Kind(StrEnum):
    """The formats an upload can be."""

    PDF = "pdf"
    EPUB = "epub"
    HTML = "html"
    MARKDOWN = "markdown"
    TEXT = "text"


class Problem(StrEnum):
    """Why a file cannot be added; the presenter words each one."""

    EMPTY = "empty"
    TOO_LARGE = "too_large"  # detail: the limit, in bytes
    NOT_A_DOCUMENT = "not_a_document"  # detail: what it is instead, when known
    NO_TEXT_LAYER = "no_text_layer"
    ENCRYPTED = "encrypted"
    DAMAGED = "damaged"  # detail: the kind it claimed to be
    UNPACKS_TOO_LARGE = "unpacks_too_large"
    NO_TEXT = "no_text"
    TOO_MUCH_TEXT = "too_much_text"
    TOO_SLOW = "too_slow"
    TOO_MUCH_MEMORY = "too_much_memory"


class Unreadable(Exception):
    """The file cannot become a document; `problem` says why, `detail` names what it is."""

    def __init__(self, problem: Problem, detail: str = "") -> None:
        super().__init__(f"{problem.value}{f': {detail}' if detail else ''}")
        self.problem = problem
        self.detail = detail


@dataclass(frozen=True)
class Metadata:
    """What the file says about itself; any of it may be missing."""

    title: str | None = None
    author: str | None = None
    year: int | None = None
    source: str | None = None


@dataclass(frozen=True)
class Extracted:
    """A file's words: `blocks` for structured formats, `text` for PDF and plain text."""

    kind: Kind
    metadata: Metadata = Metadata()
    blocks: tuple[Block, ...] = ()
    text: str = ""
    pages: int = 0  # PDF only

    @property
    def has_words(self) -> bool:
        words = self.text if self.text else " ".join(b.text for b in self.blocks)
        return any(ch.isalpha() for ch in words)


# -------------------------------------------------------------------------- sniffing


def sniff(data: bytes, name: str = "") -> Kind:
    """The file's kind by its content; refuses what is empty or not a document at all."""
    if not data.strip():
        raise Unreadable(Problem.EMPTY)
    head = data[:1024]
    if b"%PDF-" in head:
        return Kind.PDF
    if data.startswith(b"PK\x03\x04"):
        if _is_epub(data):
            return Kind.EPUB
        raise Unreadable(Problem.NOT_A_DOCUMENT, "a zip archive")
    binary = _binary_kind(data)
    if binary is not None:
        raise Unreadable(Problem.NOT_A_DOCUMENT, binary)
    if b"\x00" in data[:65536]:
        raise Unreadable(Problem.NOT_A_DOCUMENT)
    text = decode_text(data)
    if _HTML_START.match(data[:4096]) or _HTML_ANYWHERE.search(data[:4096]):
        return Kind.HTML
    if text.startswith("---\n") or name.lower().endswith(_MARKDOWN_NAMES):
        return Kind.MARKDOWN
    if _ATX_HEADING.search(text[:200_000]):
        return Kind.MARKDOWN
    return Kind.TEXT


def _binary_kind(data: bytes) -> str | None:
    """What a binary file is (`image/png`), by the signatures `filetype` knows."""
    import filetype

    guess = filetype.guess(data[:8192])
    return None if guess is None else str(guess.mime)


def decode_text(data: bytes) -> str:
    """UTF-8 text, a few bad bytes read as U+FFFD; mostly bad bytes is not text."""
    body = data.removeprefix(b"\xef\xbb\xbf")
    text = body.decode("utf-8", errors="replace")
    bad = text.count("\ufffd") - body.count("\ufffd".encode())
    if bad > MAX_BAD_BYTES_SHARE * max(len(text), 1):
        raise Unreadable(Problem.NOT_A_DOCUMENT)
    return text


def _is_epub(data: bytes) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            if "mimetype" in names:
                # Read 64 bytes, never the whole member: a bomb can hide in it too.
                with archive.open("mimetype") as member:
                    declared = member.read(64).strip()
                return declared == b"application/epub+zip"
            return "META-INF/container.xml" in names
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, RuntimeError):
        raise Unreadable(Problem.DAMAGED, "zip archive") from None


# -------------------------------------------------------------------------- extraction


def extract(data: bytes, name: str = "") -> Extracted:
    """The words and metadata of a file, by its sniffed kind; refuses a file without words."""
    kind = sniff(data, name)
    reader = {
        Kind.PDF: _pdf,
        Kind.EPUB: _epub,
        Kind.HTML: _html,
        Kind.MARKDOWN: _markdown,
        Kind.TEXT: _text,
    }[kind]
    extracted = reader(data)
    size = len(extracted.text) + sum(len(b.text) for b in extracted.blocks)
    if size > MAX_TEXT_CHARS:
        raise Unreadable(Problem.TOO_MUCH_TEXT)
    if not extracted.has_words:
        raise Unreadable(Problem.NO_TEXT_LAYER if kind is Kind.PDF else Problem.NO_TEXT)
    return extracted


def _clean(value: object, limit: int = 300) -> str | None:
    """A metadata value as one short line, or None when it says nothing."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    if not isinstance(value, str):
        return None
    text = squash(value)
    return text[:limit] or None


def year_of(value: object) -> int | None:
    """The year in a date (`2019-05-01`, `D:20190501`, `May 1919`), if one is plain."""
    text = _clean(value)
    if text is None:
        return None
    text = text.removeprefix("D:")
    if text[:8].isdigit():  # a compact date: 20190501
        text = text[:4]
    match = _YEAR.search(text)
    return int(match.group(1)) if match else None


# PDF ----------------------------------------------------------------------------------


def _pdf(data: bytes) -> Extracted:
    from pdfminer.high_level import extract_text
    from pdfminer.pdfdocument import PDFDocument, PDFEncryptionError, PDFPasswordIncorrect
    from pdfminer.pdfparser import PDFParser, PDFSyntaxError
    from pdfminer.psexceptions import PSException

    try:
        document = PDFDocument(PDFParser(io.BytesIO(data)))
        info: dict[str, Any] = dict(document.info[0]) if document.info else {}
        raw = extract_text(io.BytesIO(data))
    except (PDFPasswordIncorrect, PDFEncryptionError):
        raise Unreadable(Problem.ENCRYPTED) from None
    except (
        PDFSyntaxError,
        PSException,
        ValueError,
        KeyError,
        TypeError,
        AttributeError,
        IndexError,
        AssertionError,
        OSError,
        EOFError,
        UnicodeError,
    ):
        raise Unreadable(Problem.DAMAGED, "PDF") from None
    except RecursionError:
        raise Unreadable(Problem.DAMAGED, "PDF") from None
    pages = raw.split("\x0c")
    metadata = Metadata(
        title=_pdf_string(info.get("Title")),
        author=_pdf_string(info.get("Author")),
        source=_pdf_string(info.get("Subject")),
    )
    return Extracted(Kind.PDF, metadata, text=pdf_pages_text(pages), pages=len(pages))


def _pdf_string(value: object) -> str | None:
    from pdfminer.pdftypes import resolve1
    from pdfminer.utils import decode_text as pdf_decode

    value = resolve1(value)
    if isinstance(value, bytes):
        value = pdf_decode(value)
    return _clean(value)


def pdf_pages_text(pages: Iterable[str]) -> str:
    """Pages as the PDF cleaner reads them: each page's first line starts with a space,
    paragraphs are separated by blank lines, and lone page numbers are dropped."""
    out: list[str] = []
    for page in pages:
        lines = [line.rstrip() for line in page.split("\n")]
        kept = [line for line in lines if not _PAGE_NUMBER.match(line)]
        while kept and not kept[0].strip():
            kept.pop(0)
        if not kept:
            continue
        kept[0] = " " + kept[0].lstrip()
        out.extend(kept)
        out.append("")
    return "\n".join(out).strip("\n")


# HTML and EPUB ------------------------------------------------------------------------


def blocks_of_html(markup: str | bytes) -> list[Block]:
    """Headings and paragraphs of an HTML body, in reading order, without page furniture.

    A block element is taken whole when no other block element is inside it, so a `<p>`
    inside an `<li>` is not read twice.
    """
    import lxml.html
    from lxml import etree

    try:
        root = lxml.html.document_fromstring(markup)
    except (etree.ParserError, ValueError):
        return []
    blocks: list[Block] = []
    for element in _leaf_blocks(root):
        text = squash(element.text_content())
        if not text:
            continue
        tag = str(element.tag).lower()
        if tag in _HEADINGS:
            blocks.append(Block("heading", text, int(tag[1])))
        else:
            blocks.append(Block("paragraph", text))
    return blocks


def _leaf_blocks(root: Any) -> Iterator[Any]:
    wanted = _HEADINGS | _PARAGRAPHS
    for element in root.iter():
        tag = element.tag
        if not isinstance(tag, str) or tag.lower() not in wanted:
            continue
        if any(
            isinstance(a.tag, str) and a.tag.lower() in _SKIPPED for a in element.iterancestors()
        ):
            continue
        inner = (
            d
            for d in element.iterdescendants()
            if isinstance(d.tag, str) and d.tag.lower() in wanted
        )
        if tag.lower() in _HEADINGS or next(inner, None) is None:
            yield element


def _html(data: bytes) -> Extracted:
    """A web page's article: readability finds the main text, lxml reads its blocks."""
    import lxml.html
    from lxml import etree
    from readability import Document

    text = decode_text(data)
    try:
        page = Document(text)
        summary = page.summary(html_partial=True)
        title = _clean(page.short_title())
        root = lxml.html.document_fromstring(text)
    except (etree.ParserError, ValueError, TypeError):
        raise Unreadable(Problem.DAMAGED, "web page") from None
    except Exception as error:  # readability wraps every failure in its own Unparseable
        if isinstance(error.__context__, MemoryError):
            raise Unreadable(Problem.TOO_MUCH_MEMORY) from None
        if type(error).__name__ == "Unparseable":
            raise Unreadable(Problem.DAMAGED, "web page") from None
        raise
    metadata = Metadata(
        title=title or _meta(root, "og:title", "dc.title", "citation_title"),
        author=_meta(root, "author", "article:author", "dc.creator", "citation_author"),
        year=year_of(
            _meta(
                root,
                "citation_publication_date",
                "article:published_time",
                "dcterms.date",
                "dc.date",
                "date",
            )
        ),
        source=_meta(root, "og:url", "og:site_name"),
    )
    return Extracted(Kind.HTML, metadata, blocks=tuple(blocks_of_html(summary)))


def _meta(root: Any, *names: str) -> str | None:
    """The first `<meta name|property=...>` of `names` that has content."""
    found: dict[str, str] = {}
    for element in root.iter("meta"):
        key = (element.get("name") or element.get("property") or "").lower()
        content = element.get("content")
        if key and content and key not in found:
            found[key] = content
    for name in names:
        value = _clean(found.get(name))
        if value:
            return value
    return None


def _check_archive(data: bytes) -> None:
    """Refuse a zip bomb before anything unpacks it: too many entries, or too much inside."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, RuntimeError):
        raise Unreadable(Problem.DAMAGED, "EPUB") from None
    if len(entries) > MAX_ZIP_ENTRIES:
        raise Unreadable(Problem.UNPACKS_TOO_LARGE)
    total = 0
    for entry in entries:
        total += entry.file_size
        ratio = entry.file_size / max(entry.compress_size, 1)
        if total > MAX_UNPACKED_BYTES or (entry.file_size > 1_000_000 and ratio > MAX_ZIP_RATIO):
            raise Unreadable(Problem.UNPACKS_TOO_LARGE)


def _epub(data: bytes) -> Extracted:
    """An EPUB's chapters in spine order, and its title, author and date from the OPF."""
    import warnings

    from ebooklib import ITEM_DOCUMENT, epub

    _check_archive(data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            book = epub.read_epub(io.BytesIO(data), {"ignore_ncx": True})
    except (
        zipfile.BadZipFile,
        KeyError,
        ValueError,
        OSError,
        EOFError,
        AttributeError,
        IndexError,
        TypeError,
        UnicodeError,
    ):
        raise Unreadable(Problem.DAMAGED, "EPUB") from None
    except Exception as error:  # ebooklib's own EpubException, lxml's XMLSyntaxError
        if type(error).__name__ in {"EpubException", "XMLSyntaxError"}:
            raise Unreadable(Problem.DAMAGED, "EPUB") from None
        raise
    blocks: list[Block] = []
    seen: set[str] = set()
    for idref, _linear in book.spine:
        item = book.get_item_with_id(idref)
        if item is None or item.get_type() != ITEM_DOCUMENT or item.get_name() in seen:
            continue
        seen.add(item.get_name())
        blocks.extend(blocks_of_html(item.get_content()))

    def first(name: str) -> object:
        found = book.get_metadata("DC", name)
        return found[0][0] if found else None

    metadata = Metadata(
        title=_clean(first("title")),
        author=_clean(first("creator")),
        year=year_of(first("date")),
        source=_clean(first("source")) or _clean(first("publisher")),
    )
    return Extracted(Kind.EPUB, metadata, blocks=tuple(blocks))


# Markdown and text --------------------------------------------------------------------


@dataclass
class _Inline:
    parts: list[str] = field(default_factory=list)

    def add(self, tokens: Iterable[Any]) -> None:
        for token in tokens:
            if token.type in {"text", "code_inline"}:
                self.parts.append(token.content)
            elif token.type in {"softbreak", "hardbreak"}:
                self.parts.append(" ")
            elif token.children:
                self.add(token.children)

    @property
    def text(self) -> str:
        return squash("".join(self.parts))


def _markdown(data: bytes) -> Extracted:
    """Headings and paragraphs by markdown-it-py (CommonMark); front matter as metadata."""
    from markdown_it import MarkdownIt
    from mdit_py_plugins.front_matter import front_matter_plugin

    text = decode_text(data)
    parser = MarkdownIt("commonmark").use(front_matter_plugin)
    tokens = parser.parse(text)
    blocks: list[Block] = []
    front: dict[str, Any] = {}
    level = 0
    for index, token in enumerate(tokens):
        if token.type == "front_matter":
            front = _front_matter(token.content)
        elif token.type == "heading_open":
            level = int(token.tag[1])
        elif token.type == "inline":
            inline = _Inline()
            inline.add(token.children or [])
            if not inline.text:
                continue
            if index and tokens[index - 1].type == "heading_open":
                blocks.append(Block("heading", inline.text, level))
            else:
                blocks.append(Block("paragraph", inline.text))
        elif token.type == "html_block":
            blocks.extend(b for b in blocks_of_html(token.content) if b.kind == "paragraph")
    metadata = Metadata(
        title=_clean(front.get("title")),
        author=_clean(front.get("author") or front.get("creator")),
        year=_front_year(front),
        source=_clean(front.get("source") or front.get("url")),
    )
    return Extracted(Kind.MARKDOWN, metadata, blocks=tuple(blocks))


def _front_matter(content: str) -> dict[str, Any]:
    """YAML front matter as a mapping; anything else (or broken YAML) is no metadata."""
    import yaml

    try:
        loaded = yaml.safe_load(content[:100_000])
    except yaml.YAMLError:
        return {}
    return loaded if isinstance(loaded, dict) else {}


def _front_year(front: dict[str, Any]) -> int | None:
    year = front.get("year")
    if isinstance(year, int) and not isinstance(year, bool):
        return year if 0 < year < 10_000 else None
    return year_of(str(front.get("date") or year or ""))


def _text(data: bytes) -> Extracted:
    return Extracted(Kind.TEXT, text=decode_text(data))
