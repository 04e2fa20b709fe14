"""The terminal exercises every command; its user is the admin of console:local."""

from bot.app import App
from bot.console.chat import chat


async def test_every_command_from_the_terminal(console_app: App) -> None:
    out: list[str] = []
    lines = iter(
        [
            "which couple quit kuzbass and said the soviets scammed them",
            "ask how many people followed kropotkins funeral procession",
            "search kronstadt sailors",
            "source kuzbass:2",
            "library",
            "help",
            "about",
            "settings set sources_shown 2",
            "settings show",
            "settings reset",
            "channels allow general",
            "unanswered",
            "what caused the wall street crash of 1929",
            "unanswered askers",
            "settings set nonsense 1",
            "quit",
            "never read",
        ]
    )

    def read(prompt: str) -> str:
        return next(lines)

    await chat(console_app, read_line=read, write=out.append)
    text = "\n".join(str(o) for o in out)
    assert "Doyle" in text and "passage kuzbass:" in text
    assert "100,000" in text
    assert "Passages for “kronstadt sailors”" in text
    assert "kuzbass:2 — Kuzbass Autonomous Industrial Colony" in text
    assert "Daniel Guérin" in text
    assert "settings set <name> <value>" in text
    assert "Samizdat 0.1.0: 5 documents" in text
    assert "`sources_shown` is now 2 (was 3)." in text
    assert "Reset to the default: sources_shown." in text
    assert "This place has no channels" in text
    assert "No unanswered questions recorded here." in text
    assert "(console) what caused the wall street crash of 1929" in text
    assert "Unknown setting “nonsense”" in text
    assert "never read" not in text
    assert next(lines) == "never read"


async def test_end_of_input_ends_the_chat(console_app: App) -> None:
    out: list[str] = []

    def read(prompt: str) -> str:
        raise EOFError

    await chat(console_app, read_line=read, write=out.append)
    assert out[0].startswith("Samizdat")
