"""The terminal's operator adds files by path, end to end: the terminal's questions are
answered from them, with a citation saying so; another place never sees them; removing
one takes its answers away. Publishing puts a file under every place."""

from pathlib import Path

import pytest

from bot.app import App
from bot.console.chat import chat
from bot.core.places import Caller, Where
from bot.core.replies import AnswerReply

SHELVES = Path(__file__).resolve().parents[1] / "data" / "shelves"
ELSEWHERE = Where("matrix:!elsewhere:localhost")

# Each fixture's text is in no bundled document; each question only it answers.
CASES = {
    "pdf": ("paris-commune.pdf", "Where did Gustave Courbet die in 1877?", "Switzerland"),
    "epub": ("aragon-collectives.epub", "Who presided over the Council of Aragon?", "Ascaso"),
    "html": ("luddites.html", "Which mill near Cleckheaton did the Luddites attack?", "Rawfolds"),
    "markdown": ("diggers.md", "Who led the Diggers on St George's Hill?", "Winstanley"),
}


async def terminal(app: App, lines: list[str]) -> str:
    """Type `lines` at the terminal; everything it printed, lines unwrapped."""
    typed = iter([*lines, "quit"])
    out: list[str] = []
    await chat(app.core, read_line=lambda prompt: next(typed), write=out.append)
    return " ".join(" ".join(str(o) for o in out).split())


@pytest.mark.parametrize("kind", list(CASES))
async def test_add_ask_remove_from_the_terminal(plain_app: App, kind: str) -> None:
    name, question, fact = CASES[kind]
    before = await terminal(plain_app, [f"ask {question}"])
    assert fact not in before.split("Sources:")[0]

    added = await terminal(plain_app, [f"library add {SHELVES / name}", f"ask {question}"])
    assert "Added · this place's shelf" in added
    answer = added.split(f"ask {question}")[-1] if f"ask {question}" in added else added
    assert fact in answer and "added here · passage" in answer

    elsewhere = await plain_app.core.ask(question, Caller("someone"), ELSEWHERE)
    assert isinstance(elsewhere, AnswerReply)
    assert not any(c.shelf == "place" for c in elsewhere.answer.citations)
    assert fact not in elsewhere.answer.text

    doc_id = added.split("Added · this place's shelf - `")[1].split("`")[0]
    removed = await terminal(plain_app, [f"library remove {doc_id}", f"ask {question}"])
    assert f"Removed · this place's shelf - `{doc_id}`" in removed
    assert "added here" not in removed.split("Questions here no longer search it.")[1]


async def test_the_terminal_says_why_a_file_is_refused(plain_app: App, tmp_path: Path) -> None:
    renamed = tmp_path / "history.pdf"
    renamed.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(2000))
    printed = await terminal(
        plain_app,
        [
            f"library add {SHELVES / 'scanned.pdf'}",
            f"library add {renamed}",
            f"library add {tmp_path / 'missing.md'}",
            "library list",
        ],
    )
    assert "This PDF has no text layer" in printed
    assert "not a document I can read: it is image/png" in printed
    assert "Could not open" in printed and "No such file or directory" in printed
    assert "Nothing has been added to this place's shelf yet" in printed


async def test_the_operator_publishes_to_every_place(plain_app: App) -> None:
    name, question, fact = CASES["markdown"]
    published = await terminal(plain_app, [f"library publish {SHELVES / name}"])
    assert "Added · the shared shelf" in published
    elsewhere = await plain_app.core.ask(question, Caller("someone"), ELSEWHERE)
    assert isinstance(elsewhere, AnswerReply) and fact in elsewhere.answer.text
    assert elsewhere.answer.citations[0].shelf == "shared"
