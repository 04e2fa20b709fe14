"""One process per Matrix account and database: the lock, across real processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.__main__ import _run_platforms
from bot.answers.engine import AnswerEngine
from bot.app import open_app
from bot.config import Config, MatrixConfig
from bot.core.exclusive import AlreadyRunningError, FileLocks
from bot.errors import describe_startup_error

ROOT = Path(__file__).parents[2]
ACCOUNT = "matrix:@bot:example.org"


async def test_a_second_holder_is_refused_until_the_first_lets_go(tmp_path: Path) -> None:
    database = tmp_path / "samizdat.db"
    first, second = FileLocks(database), FileLocks(database)
    async with first.hold(ACCOUNT, "the Matrix account @bot:example.org"):
        with pytest.raises(AlreadyRunningError) as refused:
            async with second.hold(ACCOUNT, "the Matrix account @bot:example.org"):
                pass
        async with second.hold("matrix:@other:example.org", "another account"):
            pass  # another account is another lock
    async with second.hold(ACCOUNT, "the Matrix account @bot:example.org"):
        pass  # released on the way out

    message = str(refused.value)
    assert message.startswith(
        f"the Matrix account @bot:example.org is already served by process {os.getpid()}"
    )
    assert str(database) in message and "\n" not in message


def _holder(database: Path) -> subprocess.Popen[str]:
    """Another process that takes the lock, says so, and waits to be killed."""
    script = textwrap.dedent(
        f"""
        import asyncio, sys
        from pathlib import Path
        from bot.core.exclusive import FileLocks

        async def main():
            async with FileLocks(Path({str(database)!r})).hold({ACCOUNT!r}, "it"):
                print("held", flush=True)
                await asyncio.sleep(60)

        asyncio.run(main())
        """
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=env
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "held"
    return process


async def test_samizdat_run_matrix_refuses_while_another_process_serves_the_account(
    tmp_path: Path, bundled_engine: AnswerEngine
) -> None:
    config = Config(
        data_dir=tmp_path,
        matrix=MatrixConfig(
            homeserver="http://127.0.0.1:9",
            user_id="@bot:example.org",
            password=SecretStr("unused"),
        ),
    )
    other = _holder(config.database_path)
    try:
        async with open_app(config, engine=bundled_engine) as app:
            with pytest.raises(AlreadyRunningError) as refused:
                await _run_platforms(app, "matrix")
        message = describe_startup_error(refused.value)
        assert message is not None and f"process {other.pid}" in message
        assert "@bot:example.org" in message and str(config.database_path) in message
    finally:
        other.send_signal(signal.SIGKILL)
        other.wait()
        assert other.stdout is not None
        other.stdout.close()

    # Killed outright, the other process leaves no stale lock behind.
    async with FileLocks(config.database_path).hold(ACCOUNT, "it"):
        pass
