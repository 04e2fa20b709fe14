"""`samizdat run matrix` at DEBUG, as a real process: the log never holds the access token."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from matrix_harness import Synapse

_WAIT = 60.0


def _run_until_logged_in(
    synapse: Synapse, bot_id: str, data_dir: Path, log: Path, extra: dict[str, str]
) -> str:
    """Start the bot, wait for its login, stop it with SIGTERM; return what it logged."""
    env = {
        **os.environ,
        "SAMIZDAT_DATA_DIR": str(data_dir),
        "SAMIZDAT_MATRIX__HOMESERVER": synapse.url,
        "SAMIZDAT_MATRIX__USER_ID": bot_id,
        "SAMIZDAT_MATRIX__PASSWORD": synapse.password,
        "SAMIZDAT_LOG_LEVEL": "DEBUG",
        **extra,
    }
    env.pop("SAMIZDAT_CONFIG", None)
    with log.open("w") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "run", "matrix"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err,
            cwd=data_dir.parent,
        )
    try:
        deadline = time.monotonic() + _WAIT
        while "logged in to Matrix" not in log.read_text():
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"the bot did not log in:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=_WAIT) == 0, log.read_text()[-3000:]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return log.read_text()


def _access_token(data_dir: Path) -> str:
    session = json.loads((data_dir / "matrix" / "session.json").read_text())
    token = session["access_token"]
    assert isinstance(token, str) and token
    return token


def test_debug_log_keeps_other_libraries_at_info_and_holds_no_token(
    synapse: Synapse, bot_id: str, data_dir: Path, tmp_path: Path
) -> None:
    written = _run_until_logged_in(synapse, bot_id, data_dir, tmp_path / "bot.log", {})
    assert " DEBUG nio" not in written
    assert _access_token(data_dir) not in written
    assert synapse.password not in written


def test_a_library_asked_for_by_name_logs_at_debug_with_its_tokens_redacted(
    synapse: Synapse, data_dir: Path, tmp_path: Path
) -> None:
    bot_id = synapse.register("bot")
    levels = {"SAMIZDAT_LOG_LEVELS": json.dumps({"nio": "DEBUG"})}
    written = _run_until_logged_in(synapse, bot_id, data_dir, tmp_path / "bot.log", levels)
    # nio logged the login response it validated, and the token in it was redacted.
    assert "DEBUG nio.responses: Validating response schema" in written
    assert "'access_token': '[redacted]'" in written
    assert _access_token(data_dir) not in written
    assert synapse.password not in written
