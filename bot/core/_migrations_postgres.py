"""The PostgreSQL twin of every step in `bot.core._migrations`, numbered alike.

Step N here creates exactly the tables and indexes step N creates for SQLite, in PostgreSQL's
words: identity columns for `INTEGER PRIMARY KEY`, `DOUBLE PRECISION` for `REAL`, plain
tables for `WITHOUT ROWID`. Timestamps stay ISO text, as in SQLite, so both backends compare
and return them alike. To add a step, append it to both lists under the same number; the
version lives in the one-row table `samizdat_schema`, changed in the step's transaction.
"""

from __future__ import annotations

POSTGRES_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 1: per-place settings (only the fields an admin changed) and who changed them.
    (
        """
        CREATE TABLE place_settings (
            place      TEXT PRIMARY KEY,
            data       TEXT NOT NULL DEFAULT '{}',
            updated_at TEXT NOT NULL
        )
        """,
        """
        CREATE TABLE audit_log (
            id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            at        TEXT NOT NULL,
            place     TEXT NOT NULL,
            user_id   TEXT NOT NULL,
            setting   TEXT NOT NULL,
            old_value TEXT,
            new_value TEXT
        )
        """,
        "CREATE INDEX audit_log_by_place ON audit_log (place, id)",
    ),
    # 2: what the library could not answer and what readers thought of answers.
    (
        """
        CREATE TABLE unanswered (
            id       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            at       TEXT NOT NULL,
            place    TEXT NOT NULL,
            channel  TEXT,
            user_id  TEXT NOT NULL,
            question TEXT NOT NULL
        )
        """,
        "CREATE INDEX unanswered_by_place ON unanswered (place, id)",
        "CREATE INDEX unanswered_by_user ON unanswered (user_id)",
        """
        CREATE TABLE feedback (
            id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            at          TEXT NOT NULL,
            place       TEXT NOT NULL,
            user_id     TEXT NOT NULL,
            question    TEXT NOT NULL,
            passage_ids TEXT NOT NULL,
            helpful     INTEGER NOT NULL CHECK (helpful IN (0, 1))
        )
        """,
        "CREATE INDEX feedback_by_place ON feedback (place, id)",
        "CREATE INDEX feedback_by_user ON feedback (user_id)",
        "CREATE INDEX audit_log_by_user ON audit_log (user_id)",
    ),
    # 3: adapter state that must survive a restart: events already answered, sync tokens.
    (
        """
        CREATE TABLE handled_events (
            platform   TEXT NOT NULL,
            event_id   TEXT NOT NULL,
            handled_at TEXT NOT NULL,
            PRIMARY KEY (platform, event_id)
        )
        """,
        "CREATE INDEX handled_events_by_age ON handled_events (handled_at)",
        """
        CREATE TABLE kv (
            key   TEXT PRIMARY KEY,
            value TEXT NOT NULL
        )
        """,
    ),
    # 4: replies on their way out, claimed with their question in one transaction; which
    # reply answered which event, and redacted questions. (SQLite's step also moves an older
    # version's JSON outbox out of `kv`; no PostgreSQL database predates this step.)
    (
        """
        CREATE TABLE outbox (
            id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            sender    TEXT NOT NULL,
            txn_id    TEXT NOT NULL,
            room_id   TEXT NOT NULL,
            action    TEXT NOT NULL CHECK (action IN ('reply', 'edit', 'redact')),
            subject   TEXT,
            content   TEXT NOT NULL,
            queued_at DOUBLE PRECISION NOT NULL,
            UNIQUE (sender, txn_id)
        )
        """,
        "ALTER TABLE handled_events ADD COLUMN reply_id TEXT",
        "ALTER TABLE handled_events ADD COLUMN redacted INTEGER NOT NULL DEFAULT 0",
    ),
    # 5: questions asked, for cooldowns and per-place budgets that hold across processes.
    (
        """
        CREATE TABLE questions_asked (
            id      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            at      DOUBLE PRECISION NOT NULL,
            place   TEXT NOT NULL,
            user_id TEXT NOT NULL
        )
        """,
        "CREATE INDEX questions_asked_by_place ON questions_asked (place, at)",
        "CREATE INDEX questions_asked_by_asker ON questions_asked (place, user_id, at)",
        "CREATE INDEX questions_asked_by_user ON questions_asked (user_id)",
    ),
    # 6: answers whose buttons may still be clicked.
    (
        """
        CREATE TABLE kept_answers (
            id       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            at       TEXT NOT NULL,
            place    TEXT NOT NULL,
            user_id  TEXT NOT NULL,
            question TEXT NOT NULL,
            passages TEXT NOT NULL,
            cited    TEXT NOT NULL
        )
        """,
        "CREATE INDEX kept_answers_by_place ON kept_answers (place, id)",
        "CREATE INDEX kept_answers_by_user ON kept_answers (user_id)",
    ),
)
