"""What the Matrix adapter tells /readyz and /metrics, against a real Synapse."""

from __future__ import annotations

import asyncio

from matrix_harness import KUZBASS_QUESTION, Human, room_with_bot
from prometheus_client.parser import text_string_to_metric_families

from bot.answers.engine import AnswerEngine
from bot.app import open_app
from bot.config import Config
from bot.matrix_bot import run_matrix
from bot.observability.health import Readiness


async def test_ready_once_synced_and_the_sync_and_questions_are_measured(
    engine: AnswerEngine, config: Config, human: Human, bot_id: str
) -> None:
    readiness = Readiness()
    stop = asyncio.Event()
    async with open_app(config, engine=engine, readiness=readiness) as app:
        running = asyncio.create_task(
            run_matrix(
                config.matrix,
                config.data_dir,
                app.core,
                app.state,
                stop=stop,
                readiness=readiness,
                locks=app.locks,
            )
        )
        try:
            room = await room_with_bot(human, bot_id, quiet=True)
            question = await human.say(room, f"!ask {KUZBASS_QUESTION}")
            await human.reply_to(question, bot_id)
            report = await readiness.report()
            page = (await app.metrics.exposition()).decode()
        finally:
            stop.set()
            await asyncio.wait_for(running, 30)
        after = await readiness.report()

    assert report == {"index": True, "database": True, "matrix": True}
    assert "matrix" not in after, "a stopped adapter leaves no check behind"
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(page)
        for s in family.samples
    }
    answered = (("outcome", "answered"), ("platform", "matrix"))
    assert samples[("samizdat_questions_total", answered)] == 1
    assert samples[("samizdat_matrix_outbox_depth", ())] == 0
    assert samples[("samizdat_matrix_sync_lag_seconds", ())] >= 0
    assert app.metrics.last_matrix_sync is not None, "the syncs were seen"
