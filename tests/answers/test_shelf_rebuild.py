"""A shelf's rebuild never pauses answering and never leaves a half-built index in use.

Questions asked while a 5,000-passage shelf is rebuilt are answered by the previous engine;
a process killed mid-build (SIGKILL) leaves the previous catalogue and index, which serve
again after a restart. The build is held at its first progress report, so "during" is a
fact of the test, not a matter of timing.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

from generated_documents import minutes

from bot.answers.engine import AnswerEngine
from bot.answers.shelves import DocumentFields, Upload
from bot.app import open_app
from bot.config import Config, RetrievalConfig
from bot.core.places import Caller
from bot.library.shelf import shelf_folder

ROOT = Path(__file__).resolve().parents[2]
SHELVES = ROOT / "tests" / "data" / "shelves"
PLACE = "discord:1"
ADMIN = "admin-1"
DIGGERS = "Who led the Diggers on St George's Hill?"
ARAGON = "Who presided over the Council of Aragon?"
# BM25 alone: embedding 5,000 passages would take minutes, and is not what is tested here.
PLAIN = RetrievalConfig(semantic="off")


def readers() -> Iterator[Caller]:
    n = 0
    while True:
        n += 1
        yield Caller(f"reader-{n}")


def cites(reply: object, prefix: str) -> bool:
    from bot.core.replies import AnswerReply

    assert isinstance(reply, AnswerReply)
    return any(c.passage_id.startswith(prefix) for c in reply.answer.citations)


async def test_a_question_during_a_rebuild_is_answered_by_the_previous_index(
    tmp_path: Path, plain_engine: AnswerEngine
) -> None:
    from bot.core.places import Where

    here = Where(PLACE)
    people = readers()
    config = Config(data_dir=tmp_path, retrieval=PLAIN)
    async with open_app(config, engine=plain_engine) as app:
        shelves = app.core.shelves
        assert shelves is not None
        await shelves.add(
            PLACE, Upload(minutes(5_000), "minutes.md"), DocumentFields(), ADMIN, True
        )
        old = await shelves.engine_for(PLACE, True)
        assert old is not None and len(old.library.passages) >= 5_000

        started, release = threading.Event(), threading.Event()

        def hold(stage: str, done: int, total: int) -> None:
            if not started.is_set():
                started.set()
                release.wait(120)

        diggers = Upload((SHELVES / "diggers.md").read_bytes(), "diggers.md")
        adding = asyncio.create_task(
            shelves.add(PLACE, diggers, DocumentFields(), ADMIN, True, progress=hold)
        )
        try:
            assert await asyncio.to_thread(started.wait, 120)
            assert await shelves.engine_for(PLACE, True) is old
            during = await app.core.ask(DIGGERS, next(people), here)
            assert not cites(during, "the-diggers-of-surrey")
            source = await app.core.source("minutes-of-the-assemblies:4999", next(people), here)
            assert type(source).__name__ == "PassageView"
        finally:
            release.set()
        added = await adding
        assert added.engine is await shelves.engine_for(PLACE, True)
        assert cites(await app.core.ask(DIGGERS, next(people), here), "the-diggers-of-surrey")


KILLED_MID_BUILD = """
import asyncio, sys, time
from pathlib import Path
from bot.answers.shelves import DocumentFields, Upload
from bot.app import open_app
from bot.config import Config, RetrievalConfig

def hold(stage, done, total):
    print("building", flush=True)
    time.sleep(600)

async def main():
    config = Config(data_dir=Path(sys.argv[1]), retrieval=RetrievalConfig(semantic="off"))
    async with open_app(config) as app:
        upload = Upload(Path(sys.argv[2]).read_bytes(), "diggers.md")
        await app.core.shelves.add(
            sys.argv[3], upload, DocumentFields(), "admin-1", True, progress=hold
        )

asyncio.run(main())
"""


async def test_a_kill_mid_build_leaves_the_previous_index_serving_after_restart(
    tmp_path: Path, plain_engine: AnswerEngine
) -> None:
    from bot.core.places import Where

    here = Where(PLACE)
    people = readers()
    config = Config(data_dir=tmp_path, retrieval=PLAIN)
    async with open_app(config, engine=plain_engine) as app:
        assert app.core.shelves is not None
        aragon = Upload((SHELVES / "aragon-collectives.epub").read_bytes(), "a.epub")
        await app.core.shelves.add(PLACE, aragon, DocumentFields(), ADMIN, True)
    folder = shelf_folder(tmp_path, PLACE)
    committed = (folder / "shelf.json").read_bytes()

    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        KILLED_MID_BUILD,
        str(tmp_path),
        str(SHELVES / "diggers.md"),
        PLACE,
        stdout=asyncio.subprocess.PIPE,
        env=environment,
    )
    try:
        assert child.stdout is not None
        line = await asyncio.wait_for(child.stdout.readline(), 120)
        assert line.strip() == b"building"
        # The new document's file and passages are written; its index is half-built.
        assert len(list((folder / "files").iterdir())) == 2
    finally:
        child.send_signal(signal.SIGKILL)
        await child.wait()
    assert child.returncode == -signal.SIGKILL
    assert (folder / "shelf.json").read_bytes() == committed

    async with open_app(config, engine=plain_engine) as app:
        assert cites(await app.core.ask(ARAGON, next(people), here), "the-council-of-aragon")
        assert not cites(await app.core.ask(DIGGERS, next(people), here), "the-diggers-of-surrey")
        # What the killed change left behind is gone once the shelf is read again.
        assert len(list((folder / "files").iterdir())) == 1
