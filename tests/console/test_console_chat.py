"""The terminal exercises every command; its user is the admin of console:local."""

import io
import json
import math

import pytest

from bot.app import App
from bot.console.chat import NOT_UTF8, ask_lines, chat, json_line, request_of
from bot.core.requests import Ask, Help, Request, Search, SettingsShow


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

    await chat(console_app.core, read_line=read, write=out.append)
    text = "\n".join(str(o) for o in out)
    assert "Doyle" in text and "passage kuzbass:" in text
    assert "100,000" in text
    assert "Passages for “kronstadt sailors”" in text
    assert "Kuzbass Autonomous Industrial Colony\n" in text and "`kuzbass:2`" in text
    assert "Daniel Guérin" in text
    assert "settings set <name> <value>" in text
    assert "Samizdat 0.1.0: 5 documents" in text
    assert "`sources_shown` is now 2 (was 3)." in text
    assert "Reset to the default: sources_shown." in text
    assert "This place has no channels" in text
    assert "No unanswered questions recorded here." in text
    assert "(console): what caused the wall street crash of 1929" in text
    assert "Unknown setting “nonsense”" in text
    assert "never read" not in text
    assert next(lines) == "never read"


async def test_a_decline_quotes_nothing_and_says_where_to_read_on(console_app: App) -> None:
    out: list[str] = []
    asked = ["what caused the wall street crash of 1929", "who replaced rutgers at kuzbass", "quit"]
    lines = iter(asked)
    await chat(console_app.core, read_line=lambda prompt: next(lines), write=out.append)
    replies = [str(o) for o in out if "library does not answer" in str(o) or "[1]" in str(o)]
    declined, answered = replies
    assert "Closest sections" in declined and "passage " in declined
    assert "Nothing was quoted. `source <passage id>` shows one" in declined
    assert "Quoted from the library" not in declined
    assert "Kutkin" in answered and "Quoted from the library; check the sources." in answered


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("/help", Help()),
        ("!help", Help()),
        ("/ask why did the sailors rebel", Ask("why did the sailors rebel")),
        ("!search kronstadt", Search("kronstadt")),
        ("/settings show", SettingsShow()),  # admin commands too: the terminal's user is admin
        ("/why did the sailors rebel", Ask("/why did the sailors rebel")),
        ("!", Ask("!")),
        ("help", Help()),
    ],
)
def test_a_chat_prefix_typed_out_of_habit_names_the_same_command(
    line: str, expected: Request
) -> None:
    assert request_of(line) == expected


async def test_end_of_input_ends_the_chat(console_app: App) -> None:
    out: list[str] = []

    def read(prompt: str) -> str:
        raise EOFError

    await chat(console_app.core, read_line=read, write=out.append)
    assert out[0].startswith("Samizdat")


def test_json_lines_never_hold_nan_or_invalid_text() -> None:
    """A NaN score would be written as bare `NaN`, which is not JSON."""
    line = json_line(
        {"question": "bad \udcff byte", "passages": [{"score": math.nan}, {"score": -math.inf}]}
    )
    assert line.endswith("\n") and line.count("\n") == 1
    line.encode("utf-8")  # no lone surrogate left to fail on

    def refuse(constant: str) -> object:
        raise AssertionError(f"{constant} is not JSON")

    row = json.loads(line, parse_constant=refuse)
    assert row == {"question": "bad \ufffd byte", "passages": [{"score": None}, {"score": None}]}


async def test_every_input_line_gets_one_json_object(console_app: App) -> None:
    out = io.StringIO()
    source = io.BytesIO(b"\n  \nwhich fleet was kronstadt the base of\r\n")
    assert await ask_lines(console_app.core, source, out) == 3
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [row["answered"] for row in rows] == [False, False, True]
    assert all("closest" in row for row in rows)
    assert rows[0]["error"] and rows[1]["error"]


async def test_a_line_that_is_not_utf8_gets_an_error_object_and_the_batch_goes_on(
    console_app: App,
) -> None:
    out = io.StringIO()
    source = io.BytesIO(
        b"\xff\xfe which fleet\n\xc3\n\xed\xa0\x80 surrogate\n"
        b"which fleet was kronstadt the base of\n"
    )
    assert await ask_lines(console_app.core, source, out) == 4
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [row["answered"] for row in rows] == [False, False, False, True]
    for bad in rows[:3]:
        assert "not valid UTF-8" in bad["error"] and bad["citations"] == []
    assert rows[0]["question"] == "\ufffd\ufffd which fleet"
    assert "byte 1" in rows[0]["error"]


async def test_the_chat_refuses_a_line_of_bad_bytes_and_carries_on(console_app: App) -> None:
    lines = iter(["bad \udcff byte", "", "which fleet was kronstadt the base of"])
    out: list[str] = []

    def read(prompt: str) -> str:
        line = next(lines, None)
        if line is None:
            raise EOFError
        if line == "":
            raise UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte")
        return line

    await chat(console_app.core, read_line=read, write=out.append)
    assert out[1:3] == [NOT_UTF8, NOT_UTF8]
    assert len(out) == 5 and "Kronstadt" in out[3]  # and "" at the end of input
