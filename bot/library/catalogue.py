"""The catalogue: who wrote each document and where it comes from.

Adding a document is adding a file and an entry; a file without an entry still loads,
titled by its file name, so an admin's half-finished addition is never silently dropped.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

CATALOGUE_FILE = "catalogue.toml"
DOCUMENT_SUFFIXES = (".txt", ".md", ".markdown")


class CatalogueError(Exception):
    """The catalogue file cannot be read; the message names the file and the problem."""


class DocumentInfo(BaseModel):
    """One catalogue entry."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")
    file: str
    title: str
    author: str = "Unknown author"
    publication: str = ""
    year: int | None = None
    source: str = ""
    format: Literal["wiki-markdown", "markdown", "web-article", "text", "pdf-text"] | None = None
    end_marker: str | None = None
    drop_lines: tuple[str, ...] = ()
    satire: str | None = None


class _CatalogueFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    document: list[DocumentInfo] = []


def doc_id_from_filename(name: str) -> str:
    """A stable id for a file without a catalogue entry."""
    stem = Path(name).stem.lower()
    slug = re.sub(r"[^a-z0-9._-]+", "-", stem).strip("-._")
    return (slug or "document")[:64]


def title_from_filename(name: str) -> str:
    return Path(name).stem.replace("-", " ").replace("_", " ").strip().capitalize() or name


def read_catalogue(folder: Path) -> dict[str, DocumentInfo]:
    """Entries of `folder/catalogue.toml` by file name; no catalogue means no entries."""
    path = folder / CATALOGUE_FILE
    if not path.exists():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        entries = _CatalogueFile.model_validate(data).document
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise CatalogueError(f"cannot read {path}: {exc}") from None
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise CatalogueError(f"{path}: {problems}") from None
    by_file: dict[str, DocumentInfo] = {}
    seen_ids: set[str] = set()
    for entry in entries:
        if entry.id in seen_ids:
            raise CatalogueError(f"{path}: document id `{entry.id}` is used twice")
        seen_ids.add(entry.id)
        by_file[entry.file] = entry
    return by_file


def catalogue_for(folder: Path) -> list[tuple[Path, DocumentInfo]]:
    """Every document file in `folder` with its entry, sorted by file name."""
    entries = read_catalogue(folder)
    found: list[tuple[Path, DocumentInfo]] = []
    for path in sorted(folder.iterdir()):
        if not path.is_file() or path.suffix.lower() not in DOCUMENT_SUFFIXES:
            continue
        if path.name.lower() in {"readme.md", "readme.txt"}:
            continue
        info = entries.get(path.name) or DocumentInfo(
            id=doc_id_from_filename(path.name),
            file=path.name,
            title=title_from_filename(path.name),
        )
        found.append((path, info))
    return found
