"""The `samizdat` command as a user or a script runs it: a real process, real files."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]


def samizdat(
    *args: str, data_dir: Path, stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "SAMIZDAT_DATA_DIR": str(data_dir), **(env or {})}
    environment.pop("SAMIZDAT_CONFIG", None)
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
        cwd=data_dir.parent,
    )


JSON_KEYS = {"question", "answered", "answer", "citations", "passages", "closest"}


def _strict_json(line: str) -> dict[str, object]:
    """A JSON object as any JSON reader takes it: no bare NaN or Infinity."""

    def refuse(constant: str) -> object:
        raise AssertionError(f"{constant} is not JSON")

    row = json.loads(line, parse_constant=refuse)
    assert isinstance(row, dict)
    return row


def test_json_lines_interface(tmp_path: Path) -> None:
    questions = "\n".join(
        [
            "which couple quit kuzbass and said the soviets had scammed them",
            "",
            "who was the first emperor of the qin dynasty",
            "x" * 20_000,
            "🙂🙂🙂",
            "   \t ",
        ]
    )
    result = samizdat("ask", "--json", "-", data_dir=tmp_path / "data", stdin=questions)
    assert result.returncode == 0, result.stderr
    rows = [_strict_json(line) for line in result.stdout.splitlines()]
    assert len(rows) == 6  # one object for every line, blank ones included
    answered, blank, declined, too_long, emoji, spaces = rows
    for row in rows:
        assert set(row) >= JSON_KEYS, row
    assert answered["answered"] is True
    assert isinstance(answered["answer"], str) and "Doyle" in answered["answer"]
    citations = answered["citations"]
    passages = answered["passages"]
    assert isinstance(citations, list) and isinstance(passages, list)
    assert {"passage_id", "doc_id", "title", "author", "section", "quote"} <= set(citations[0])
    assert citations[0]["doc_id"] == "kuzbass"
    assert citations[0]["passage_id"] in [p["passage_id"] for p in passages]
    assert {"passage_id", "doc_id", "score", "text"} <= set(passages[0])
    assert declined["answered"] is False and declined["citations"] == []
    assert too_long["answered"] is False and "at most 500" in str(too_long["error"])
    assert emoji["answered"] is False and emoji["error"]
    for refused in (blank, spaces):
        assert refused["answered"] is False and refused["error"] and refused["closest"] == []
    assert "Traceback" not in result.stderr


def test_json_lines_are_utf8_whatever_bytes_come_in_under_a_c_locale(tmp_path: Path) -> None:
    data = tmp_path / "data"
    environment = {**os.environ, "SAMIZDAT_DATA_DIR": str(data), "LC_ALL": "C.UTF-8"}
    environment.pop("SAMIZDAT_CONFIG", None)
    environment.pop("PYTHONIOENCODING", None)
    result = subprocess.run(
        [sys.executable, "-m", "bot", "ask", "--json", "-"],
        input=b"\xff\xfe\n\xc3 which fleet\nwhich fleet was kronstadt the base of\n",
        capture_output=True,
        env=environment,
        timeout=120,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    rows = [_strict_json(line) for line in result.stdout.decode("utf-8").splitlines()]
    assert len(rows) == 3 and rows[2]["answered"] is True
    assert "Traceback" not in result.stderr.decode("utf-8", errors="replace")
    assert rows[0]["question"] == "\ufffd\ufffd" and rows[0]["answered"] is False
    assert "not valid UTF-8" in str(rows[0]["error"])
    # A bad byte in a line refuses that line; the next lines are answered.
    assert rows[1]["answered"] is False and "not valid UTF-8" in str(rows[1]["error"])


def test_ask_once_prints_answer_and_sources(tmp_path: Path) -> None:
    result = samizdat("ask", "which fleet was kronstadt the base of", data_dir=tmp_path / "d")
    assert result.returncode == 0, result.stderr
    assert "Baltic Fleet" in result.stdout
    assert "Sources:" in result.stdout
    assert re.search(r"passage\s+on-the-russian-revolution:\d+", result.stdout)


def test_index_and_eval_commands(tmp_path: Path) -> None:
    data = tmp_path / "data"
    index = samizdat("index", data_dir=data)
    assert index.returncode == 0, index.stderr
    assert "5 documents" in index.stdout and "index built" in index.stdout
    again = samizdat("index", data_dir=data)
    assert "index loaded from cache" in again.stdout

    questions = tmp_path / "q.jsonl"
    questions.write_text(
        json.dumps(
            {
                "id": "a",
                "question": "which fleet was kronstadt the base of",
                "answers": ["Baltic"],
                "doc": "on-the-russian-revolution.txt",
                "evidence": "Kronstadt was traditionally a base of the Russian Baltic Fleet",
                "type": "fact",
            }
        )
        + "\n"
        + json.dumps(
            {
                "id": "b",
                "question": "who won the 1929 world series",
                "answers": [],
                "doc": None,
                "evidence": None,
                "type": "unanswerable",
            }
        )
        + "\n"
    )
    result = samizdat("eval", str(questions), data_dir=data)
    assert result.returncode == 0, result.stderr
    overall = next(line for line in result.stdout.splitlines() if line.startswith("overall"))
    assert overall.split()[1:6] == ["100.0%", "100.0%", "100.0%", "100.0%", "0.0%"]


def test_eval_answers_with_the_strictness_asked_for(tmp_path: Path) -> None:
    """Answerable questions the library answers less surely than most: a strict place
    declines more of them than a lenient one."""
    data = tmp_path / "data"
    questions = tmp_path / "q.jsonl"
    unsure = [
        "roughly how many anarchists were there in russia at the time according to guerin",
        "according to guerin what had already revived anarchism before the russian revolution",
        "why did the bolsheviks go after the independent co-ops in the first place",
    ]
    questions.write_text(
        "".join(
            json.dumps(
                {
                    "id": f"u{i}",
                    "question": question,
                    "answers": ["-"],
                    "doc": "guerin.txt",
                    "evidence": "anarchism",
                    "type": "fact",
                }
            )
            + "\n"
            for i, question in enumerate(unsure)
        )
    )
    declined = {}
    for strictness in ("lenient", "strict"):
        result = samizdat("eval", "--strictness", strictness, str(questions), data_dir=data)
        assert result.returncode == 0, result.stderr
        assert f"strictness {strictness}" in result.stdout
        overall = next(line for line in result.stdout.splitlines() if line.startswith("overall"))
        declined[strictness] = float(overall.split()[5].rstrip("%"))
    assert declined["strict"] > declined["lenient"], declined

    refused = samizdat("eval", "--strictness", "harsh", str(questions), data_dir=data)
    assert refused.returncode == 2 and "invalid choice: 'harsh'" in refused.stderr


def test_eval_averages_over_fold_assignments_when_asked(tmp_path: Path) -> None:
    data = tmp_path / "data"
    questions = tmp_path / "q.jsonl"
    lines = (ROOT / "tests" / "data" / "eval-dev.jsonl").read_text().splitlines()
    questions.write_text("\n".join(lines[:24]) + "\n")

    result = samizdat(
        "eval", "--folds", "3", "--repeats", "2", "--failures", str(questions), data_dir=data
    )
    assert result.returncode == 0, result.stderr
    assert "out-of-fold, 3 folds x 2 fold assignments, 24 questions" in result.stdout
    assert re.search(r"over 2 fold assignments: answer hit [\d.]+-[\d.]+%", result.stdout)
    overall = next(line for line in result.stdout.splitlines() if line.startswith("overall"))
    assert overall.split()[-1] == "24"
    assert re.search(r"^- \w+ \(missed in [12] of 2\): ", result.stdout, re.MULTILINE)

    for args, message in (
        (["--folds", "3", "--repeats", "0"], "--repeats takes 1 to 100"),
        (["--repeats", "2"], "--repeats needs --folds"),
    ):
        refused = samizdat("eval", *args, str(questions), data_dir=data)
        assert refused.returncode == 2 and message in refused.stderr, refused.stderr


def test_bad_eval_file_and_bad_config_are_one_line_messages(tmp_path: Path) -> None:
    broken = tmp_path / "broken.jsonl"
    broken.write_text("{not json\n")
    result = samizdat("eval", str(broken), data_dir=tmp_path / "d")
    assert result.returncode == 2
    assert "broken.jsonl, line 1" in result.stderr and "Traceback" not in result.stderr

    config = tmp_path / "samizdat.toml"
    config.write_text("[retrieval]\nk1 = 1.2\nflavour = 'mint'\n")
    result = samizdat("--config", str(config), "index", data_dir=tmp_path / "d")
    assert result.returncode == 2
    assert "unknown key `retrieval.flavour`" in result.stderr

    result = samizdat("index", data_dir=tmp_path / "d", env={"SAMIZDAT_RETRIEVAL__VARIANT": "x"})
    assert result.returncode == 2
    assert "retrieval.variant" in result.stderr and "okapi" in result.stderr


def test_documented_default_configuration_is_the_built_in_one() -> None:
    from bot.config import Config, load_config

    assert load_config(ROOT / "config" / "samizdat.toml") == Config()


def test_run_with_no_platform_configured_says_what_to_set(tmp_path: Path) -> None:
    result = samizdat("run", "all", data_dir=tmp_path / "d")
    assert result.returncode == 1
    assert "SAMIZDAT_DISCORD__TOKEN" in result.stderr
    assert "Traceback" not in result.stderr
    matrix = samizdat("run", "matrix", data_dir=tmp_path / "d")
    assert matrix.returncode == 1
    assert "matrix.homeserver" in matrix.stderr and "Traceback" not in matrix.stderr


def test_an_empty_or_missing_library_folder_is_a_one_line_message(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    for folder, reason in [(empty, "no readable documents"), (tmp_path / "nope", "not a folder")]:
        result = samizdat(
            "ask", "who", data_dir=tmp_path / "d", env={"SAMIZDAT_LIBRARY__PATH": str(folder)}
        )
        assert result.returncode == 1
        assert reason in result.stderr and "library.path" in result.stderr
        assert "Traceback" not in result.stderr


def test_a_config_file_that_is_not_utf8_is_a_one_line_message_naming_the_key(
    tmp_path: Path,
) -> None:
    config = tmp_path / "samizdat.toml"
    config.write_bytes(b'[retrieval]\nk1 = 1.2\nvariant = "ok\xffapi"\n')
    result = samizdat("--config", str(config), "index", data_dir=tmp_path / "d")
    assert result.returncode == 2
    assert "not UTF-8" in result.stderr and "line 3 (`retrieval.variant`)" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.splitlines()) == 1


def test_an_environment_list_that_is_not_json_is_a_one_line_message_naming_it(
    tmp_path: Path,
) -> None:
    env = {"SAMIZDAT_LIBRARY__EXTRA_PATHS": "/x"}
    result = samizdat("index", data_dir=tmp_path / "d", env=env)
    assert result.returncode == 2
    assert "SAMIZDAT_LIBRARY__EXTRA_PATHS" in result.stderr and "must be JSON" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.splitlines()) == 1


def test_infinity_and_nan_are_refused_in_every_float_setting(tmp_path: Path) -> None:
    for variable, value, key in [
        ("SAMIZDAT_RETRIEVAL__K1", "inf", "retrieval.k1"),
        ("SAMIZDAT_RETRIEVAL__B", "nan", "retrieval.b"),
        ("SAMIZDAT_DISCORD__VIEW_TIMEOUT_SECONDS", "Infinity", "discord.view_timeout_seconds"),
    ]:
        result = samizdat("index", data_dir=tmp_path / "d", env={variable: value})
        assert result.returncode == 2, (variable, result.stderr)
        assert f"`{key}`" in result.stderr and "finite" in result.stderr
    config = tmp_path / "samizdat.toml"
    config.write_text("[retrieval]\nk1 = inf\n")  # TOML itself has inf and nan
    result = samizdat("--config", str(config), "index", data_dir=tmp_path / "d")
    assert result.returncode == 2 and "`retrieval.k1`" in result.stderr


def test_misspelt_environment_variables_are_warned_about(tmp_path: Path) -> None:
    env = {"SAMIZDAT_RETRIEVL__K1": "2", "SAMIZDAT_DATADIR": "/elsewhere"}
    result = samizdat(
        "ask", "--json", "which fleet was kronstadt the base of", data_dir=tmp_path / "d", env=env
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["answered"] is True
    assert "SAMIZDAT_RETRIEVL__K1 is ignored; did you mean SAMIZDAT_RETRIEVAL__K1?" in result.stderr
    assert "SAMIZDAT_DATADIR is ignored; did you mean SAMIZDAT_DATA_DIR?" in result.stderr


def test_empty_data_dir_and_database_mean_the_defaults(tmp_path: Path) -> None:
    here = tmp_path / "cwd"
    here.mkdir()
    xdg = tmp_path / "xdg"
    env = {"SAMIZDAT_DATA_DIR": "", "SAMIZDAT_DATABASE": "", "XDG_DATA_HOME": str(xdg)}
    result = samizdat(
        "ask", "which fleet was kronstadt the base of", data_dir=here / "unused", env=env
    )
    assert result.returncode == 0, result.stderr
    assert "Baltic Fleet" in result.stdout
    assert (xdg / "samizdat" / "samizdat.db").is_file()
    assert list(here.iterdir()) == []


def test_a_secret_in_the_config_file_is_refused_without_repeating_it(tmp_path: Path) -> None:
    config = tmp_path / "samizdat.toml"
    for section, key in [("discord", "token"), ("matrix", "password"), ("matrix", "access_token")]:
        config.write_text(f'[{section}]\n{key} = "s3cr3t-value-42"\n')
        result = samizdat("--config", str(config), "index", data_dir=tmp_path / "d")
        assert result.returncode == 2
        variable = f"SAMIZDAT_{section.upper()}__{key.upper()}"
        assert f"`{section}.{key}`" in result.stderr and variable in result.stderr
        assert "s3cr3t-value-42" not in result.stderr
