"""The numbers the bot exports, each in one registry per running app.

`Metrics` is built at the entry point and handed to whatever records into it (the core for
questions and latencies, the adapters for late acknowledgements and the Matrix sync), so two
apps in one process (as in the tests) never mix their counts, and nothing is a module-level
singleton. Values read from elsewhere at scrape time (the Matrix outbox lives in the
database) are refreshed by `refreshers` just before each scrape.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["CONTENT_TYPE_LATEST", "Metrics", "Outcome", "platform_of"]

log = logging.getLogger(__name__)

# Composing an answer takes tens of milliseconds on the bundled library and up to seconds
# on a million passages; retrieval alone is a few milliseconds to a few hundred.
_ANSWER_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_RETRIEVAL_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)

Outcome = str  # "answered", "declined" (the library did not answer) or "refused"
Refresher = Callable[[], Awaitable[None]]


def platform_of(place: str) -> str:
    """The platform of a place key (`discord:1` -> `discord`): the only label we derive."""
    return place.split(":", 1)[0] or "unknown"


class Metrics:
    """Every metric of one app, in its own `CollectorRegistry`."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._clock = clock
        self._refreshers: list[Refresher] = []
        self.questions = Counter(
            "samizdat_questions",
            "Questions by platform and outcome: answered, declined (the library had no "
            "answer) or refused (empty, too long, too fast, place closed)",
            ["platform", "outcome"],
            registry=self.registry,
        )
        self.answer_seconds = Histogram(
            "samizdat_answer_seconds",
            "Time to compose an answer (retrieval included), by platform",
            ["platform"],
            buckets=_ANSWER_BUCKETS,
            registry=self.registry,
        )
        self.retrieval_seconds = Histogram(
            "samizdat_retrieval_seconds",
            "Time to find a question's candidate passages (BM25 and the semantic layer)",
            buckets=_RETRIEVAL_BUCKETS,
            registry=self.registry,
        )
        self.discord_late_acknowledgements = Counter(
            "samizdat_discord_late_acknowledgements",
            "Interactions Discord had already given up on when the bot acknowledged them",
            registry=self.registry,
        )
        self.matrix_outbox_depth = Gauge(
            "samizdat_matrix_outbox_depth",
            "Matrix replies waiting in the outbox for the homeserver",
            registry=self.registry,
        )
        self._last_sync: float | None = None
        self.matrix_sync_lag = Gauge(
            "samizdat_matrix_sync_lag_seconds",
            "Seconds since the last completed Matrix sync (a long poll lasts up to 30 s)",
            registry=self.registry,
        )
        self.matrix_sync_lag.set_function(self._sync_lag)
        self.index_passages = Gauge(
            "samizdat_index_passages", "Passages in the loaded index", registry=self.registry
        )
        self.index_documents = Gauge(
            "samizdat_index_documents", "Documents in the loaded library", registry=self.registry
        )
        self._index_built: float | None = None
        self.index_age = Gauge(
            "samizdat_index_age_seconds",
            "Seconds since the loaded index was built",
            registry=self.registry,
        )
        self.index_age.set_function(self._index_age)

    # -- what the app records ------------------------------------------------------------

    def question(self, place: str, outcome: Outcome) -> None:
        self.questions.labels(platform=platform_of(place), outcome=outcome).inc()

    def answered_in(self, place: str, seconds: float, retrieval_seconds: float) -> None:
        self.answer_seconds.labels(platform=platform_of(place)).observe(seconds)
        self.retrieval_seconds.observe(retrieval_seconds)

    def index_loaded(self, documents: int, passages: int, built_at: datetime) -> None:
        self.index_documents.set(documents)
        self.index_passages.set(passages)
        self._index_built = built_at.timestamp()

    def matrix_synced(self) -> None:
        """A Matrix sync completed now."""
        self._last_sync = self._clock()

    @property
    def last_matrix_sync(self) -> float | None:
        """When the last Matrix sync completed (the clock's time), if one has."""
        return self._last_sync

    def add_refresher(self, refresher: Refresher) -> None:
        """Run `refresher` before every scrape (for values that live in the database)."""
        self._refreshers.append(refresher)

    def remove_refresher(self, refresher: Refresher) -> None:
        if refresher in self._refreshers:
            self._refreshers.remove(refresher)

    # -- the scrape -----------------------------------------------------------------------

    async def exposition(self) -> bytes:
        """The metrics in Prometheus' text format, after refreshing what is read on demand.

        A refresher that fails (the database is gone) leaves its gauge at the last value;
        the scrape still answers, and /readyz says what is wrong.
        """
        for refresher in self._refreshers:
            try:
                await refresher()
            except Exception:
                log.warning("a metric could not be refreshed", exc_info=True)
        return generate_latest(self.registry)

    def _sync_lag(self) -> float:
        return 0.0 if self._last_sync is None else max(0.0, self._clock() - self._last_sync)

    def _index_age(self) -> float:
        return 0.0 if self._index_built is None else max(0.0, self._clock() - self._index_built)
