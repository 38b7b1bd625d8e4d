"""SQLite store for what happens around answers: questions asked, 👍/👎 feedback, and the audit of edits.

The engine never imports this module; the faces record into it after answering.

Concurrency: one connection per Store, used under a lock. The bot shares one Store
across asyncio.to_thread workers, and a lock on one connection is simpler than a
connection per thread (nothing to clean up when a worker thread goes away). Several
bot processes on one machine each open their own Store: WAL lets readers and one
writer proceed together, busy_timeout makes a writer wait instead of failing, and
every write is a single short statement or transaction.

Privacy: a reader's user id is never stored, only an HMAC-SHA256 of it keyed by a salt
(the configured one, or a random one kept in the database). Moderators' ids are
stored as they are in the audit log: their edits are accountable.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bot.knowledge.loader import phrasing_key

BUSY_TIMEOUT = 5.0  # seconds a writer waits for another process's transaction
MAX_QUESTION = 1000  # characters of a question kept; Discord allows more, nobody asks that much
GAP_WINDOW = 20_000  # most recently missed distinct wordings considered by missed_wordings()
MISS_ROWS = 50_000  # …found among this many latest misses of each kind, so the read stays short at 2 M rows

# Each migration takes the schema from version i to i+1; run once, in order, inside one transaction.
_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        """CREATE TABLE questions (
            id INTEGER PRIMARY KEY,
            asked_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
            question TEXT NOT NULL,
            question_key TEXT NOT NULL,
            answered INTEGER NOT NULL,
            source TEXT,
            confidence REAL NOT NULL,
            guild_id INTEGER,
            channel_id INTEGER,
            user_hash TEXT
        )""",
        "CREATE INDEX questions_missed ON questions (answered, question_key)",
        """CREATE TABLE feedback (
            question_id INTEGER NOT NULL REFERENCES questions (id) ON DELETE CASCADE,
            user_hash TEXT NOT NULL,
            helpful INTEGER NOT NULL,
            at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
            PRIMARY KEY (question_id, user_hash)
        )""",
        "CREATE INDEX feedback_unhelpful ON feedback (helpful, question_id)",
        """CREATE TABLE edits (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
            action TEXT NOT NULL,
            entry_id TEXT NOT NULL,
            moderator_id INTEGER,
            detail TEXT NOT NULL
        )""",
    ),
    (
        # "Did you mean" picks: the reader's wording and the answer they chose, a phrasing waiting to be added.
        """CREATE TABLE picks (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
            question TEXT NOT NULL,
            question_key TEXT NOT NULL,
            chosen_source TEXT NOT NULL,
            offered TEXT NOT NULL DEFAULT '',
            guild_id INTEGER,
            channel_id INTEGER,
            user_hash TEXT
        )""",
        # A missed wording stops being a gap when it is answered now; asked and missed again later, it reopens.
        """CREATE TABLE closed_gaps (
            question_key TEXT PRIMARY KEY,
            closed_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
            how TEXT NOT NULL
        )""",
        "CREATE INDEX closed_gaps_at ON closed_gaps (closed_at)",
        "ALTER TABLE edits ADD COLUMN before TEXT",
        "ALTER TABLE edits ADD COLUMN after TEXT",
        "CREATE INDEX edits_entry ON edits (entry_id, id)",
        # /kb stats at millions of rows: totals and top entries read this small index, not the table.
        "CREATE INDEX questions_answered_source ON questions (answered, source)",
    ),
)
SCHEMA_VERSION = len(_MIGRATIONS)


@dataclass(frozen=True, slots=True)
class MissedWording:
    """Every miss of one wording (questions equal under phrasing_key) since it was last closed."""

    key: str
    text: str  # the wording as last asked
    unanswered: int  # times the bot abstained
    unhelpful: int  # 👎 votes on answers it gave
    picked: int  # "did you mean" picks: the reader had to choose
    sources: tuple[str, ...]  # answers that got 👎 for it
    chosen: tuple[str, ...]  # answers readers picked for it
    last_asked: str

    @property
    def count(self) -> int:
        return self.unanswered + self.unhelpful + self.picked


@dataclass(frozen=True, slots=True)
class Stats:
    questions: int
    answered: int
    votes: int
    helpful: int
    top_entries: tuple[tuple[str, int], ...]  # (source, times it answered), most used first

    @property
    def answered_share(self) -> float:
        return self.answered / self.questions if self.questions else 0.0

    @property
    def helpful_share(self) -> float:
        return self.helpful / self.votes if self.votes else 0.0


@dataclass(frozen=True, slots=True)
class Edit:
    at: str
    action: str
    entry_id: str
    moderator_id: int | None
    detail: str
    before: str | None = None  # the entry as YAML before the edit (remove, phrasing), when recorded
    after: str | None = None  # …and after it (add, phrasing, restore)


class Store:
    def __init__(self, path: Path, *, salt: str) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._path = path
        self._lock = threading.Lock()
        # isolation_level=None: we open transactions ourselves, so each one is as short as we write it.
        self._db = sqlite3.connect(path, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # durable enough in WAL mode, and much faster
        self._db.execute("PRAGMA foreign_keys=ON")
        self._migrate()
        self._salt = (salt or self._stored_salt()).encode()

    # --- schema -------------------------------------------------------------

    def _migrate(self) -> None:
        with self._transaction():
            # Read inside the write transaction: two processes starting together migrate once.
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise RuntimeError(f"database schema {version} is newer than this bot ({SCHEMA_VERSION}); upgrade it")
            for statements in _MIGRATIONS[version:]:
                for sql in statements:
                    self._db.execute(sql)
            self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _stored_salt(self) -> str:
        """A random salt made once per database, for when none is configured."""
        with self._transaction():
            self._db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('salt', ?)", (secrets.token_hex(16),))
            return self._db.execute("SELECT value FROM meta WHERE key = 'salt'").fetchone()[0]

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        # IMMEDIATE takes the write lock up front, so busy_timeout applies instead of a deadlock on upgrade.
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _hash(self, user_id: int | None) -> str | None:
        if user_id is None:
            return None
        return hmac.new(self._salt, str(user_id).encode(), hashlib.sha256).hexdigest()[:32]

    # --- recording ----------------------------------------------------------

    def record_question(
        self,
        *,
        question: str,
        answered: bool,
        source: str | None,
        confidence: float,
        guild_id: int | None,
        channel_id: int | None,
        user_id: int | None,
    ) -> int:
        """Record one question and how it went; returns its id for the 👍/👎 buttons."""
        text = question.strip()[:MAX_QUESTION]
        with self._lock:
            cur = self._db.execute(
                "INSERT INTO questions (question, question_key, answered, source, confidence, guild_id, channel_id,"
                " user_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (text, phrasing_key(text), int(answered), source, float(confidence), guild_id, channel_id,
                 self._hash(user_id)),
            )
            return int(cur.lastrowid)

    def record_feedback(self, question_id: int, *, helpful: bool, user_id: int | None) -> None:
        """One vote per reader per question; voting again replaces the earlier vote.

        A vote on a question this database does not hold (a button older than the database) is dropped.
        """
        with self._lock:
            self._db.execute(
                "INSERT INTO feedback (question_id, user_hash, helpful)"
                " SELECT ?, ?, ? WHERE EXISTS (SELECT 1 FROM questions WHERE id = ?)"
                " ON CONFLICT (question_id, user_hash) DO UPDATE SET helpful = excluded.helpful, at = excluded.at",
                (question_id, self._hash(user_id) or "", int(helpful), question_id),
            )

    def record_edit(self, *, action: str, entry_id: str, moderator_id: int | None, detail: str,
                    before: str | None = None, after: str | None = None) -> None:
        """Audit one moderator action (add, remove, reload, phrasing, restore): who, when, what, before/after."""
        with self._lock:
            self._db.execute(
                "INSERT INTO edits (action, entry_id, moderator_id, detail, before, after) VALUES (?, ?, ?, ?, ?, ?)",
                (action, entry_id, moderator_id, detail, before, after),
            )

    def record_pick(self, *, question: str, chosen_source: str, user_id: int | None, offered: Sequence[str] = (),
                    guild_id: int | None = None, channel_id: int | None = None) -> None:
        """A reader answered "did you mean…?" by choosing `chosen_source` (e.g. "qa:trump-message") for `question`.

        The wording joins the moderators' gaps queue: it is a phrasing that entry lacks.
        """
        text = question.strip()[:MAX_QUESTION]
        with self._lock:
            self._db.execute(
                "INSERT INTO picks (question, question_key, chosen_source, offered, guild_id, channel_id, user_hash)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (text, phrasing_key(text), chosen_source, "\n".join(offered), guild_id, channel_id,
                 self._hash(user_id)),
            )

    def close_gaps(self, keys: Iterable[str], *, how: str) -> None:
        """Mark missed wordings (phrasing_key) as answered now: `how` is "reasked", "phrasing" or "add"."""
        rows = [(key, how) for key in dict.fromkeys(keys)]
        if not rows:
            return
        with self._transaction():
            self._db.executemany(
                "INSERT INTO closed_gaps (question_key, how) VALUES (?, ?) ON CONFLICT (question_key)"
                " DO UPDATE SET closed_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now'), how = excluded.how", rows)

    # --- reading ------------------------------------------------------------

    def edits(self, limit: int = 50) -> list[Edit]:
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_EDIT_COLUMNS} FROM edits ORDER BY id DESC LIMIT ?", (limit,)
            ).fetchall()
        return [Edit(*row) for row in rows]

    def entry_edits(self, entry_id: str, limit: int = 25) -> list[Edit]:
        """One entry's audit, newest first: what /kb history shows."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_EDIT_COLUMNS} FROM edits WHERE entry_id = ? ORDER BY id DESC LIMIT ?", (entry_id, limit)
            ).fetchall()
        return [Edit(*row) for row in rows]

    def last_removal(self, entry_id: str) -> Edit | None:
        """The latest removal of `entry_id` in the audit: /kb restore writes its `before` back."""
        with self._lock:
            row = self._db.execute(
                f"SELECT {_EDIT_COLUMNS} FROM edits WHERE entry_id = ? AND action = 'remove' ORDER BY id DESC LIMIT 1",
                (entry_id,),
            ).fetchone()
        return Edit(*row) if row else None

    def removed_entry_ids(self, limit: int = 100) -> list[str]:
        """Ids whose latest audit row is a removal (not restored or re-added since), most recent first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT entry_id FROM edits e WHERE action = 'remove' AND id = (SELECT MAX(id) FROM edits"
                " WHERE entry_id = e.entry_id AND action IN ('add', 'remove', 'restore')) ORDER BY id DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [entry_id for (entry_id,) in rows]

    def missed_wordings(self, window: int = GAP_WINDOW) -> list[MissedWording]:
        """Wordings readers missed (unanswered, 👎, or a "did you mean" pick) since each was last closed,
        the `window` most recently asked, one row per wording.

        Read on a connection of its own: a long read must not hold the lock answers are recorded under.
        (`+answered`: walk the table newest first and stop at MISS_ROWS, rather than sort every miss.)
        """
        with self._reading() as db:
            rows = db.execute(
                """WITH misses (key, text, at, unanswered, unhelpful, picked, source, chosen) AS (
                       SELECT * FROM (SELECT question_key, question, asked_at, 1, 0, 0, NULL, NULL FROM questions
                                      WHERE +answered = 0 ORDER BY id DESC LIMIT :rows)
                       UNION ALL
                       SELECT * FROM (SELECT q.question_key, q.question, f.at, 0, 1, 0, q.source, NULL
                                      FROM feedback f JOIN questions q ON q.id = f.question_id
                                      WHERE +f.helpful = 0 ORDER BY f.rowid DESC LIMIT :rows)
                       UNION ALL
                       SELECT * FROM (SELECT question_key, question, at, 0, 0, 1, NULL, chosen_source FROM picks
                                      ORDER BY id DESC LIMIT :rows)
                   )
                   SELECT m.key, m.text, SUM(m.unanswered), SUM(m.unhelpful), SUM(m.picked),
                          group_concat(m.source), group_concat(m.chosen), MAX(m.at)
                   FROM misses m LEFT JOIN closed_gaps c ON c.question_key = m.key
                   WHERE c.closed_at IS NULL OR m.at > c.closed_at
                   GROUP BY m.key ORDER BY MAX(m.at) DESC LIMIT :window""",
                {"rows": MISS_ROWS, "window": window},
            ).fetchall()
        # SQLite takes a bare column (text) from the row holding MAX(at): the latest wording.
        return [MissedWording(key, text, unanswered, unhelpful, picked, _split(sources), _split(chosen), at)
                for key, text, unanswered, unhelpful, picked, sources, chosen, at, in rows]

    def gaps_closed_since(self, since: str) -> int:
        """Missed wordings closed (answered now) at or after `since` (an ISO time like the stored ones)."""
        with self._reading() as db:
            return int(db.execute("SELECT COUNT(*) FROM closed_gaps WHERE closed_at >= ?", (since,)).fetchone()[0])

    def stats(self) -> Stats:
        """Totals over every row: read on a connection of its own, as missed_wordings is."""
        with self._reading() as db:
            questions, answered = db.execute(
                "SELECT COUNT(*), COALESCE(SUM(answered), 0) FROM questions"
            ).fetchone()
            votes, helpful = db.execute("SELECT COUNT(*), COALESCE(SUM(helpful), 0) FROM feedback").fetchone()
            top = db.execute(
                "SELECT source, COUNT(*) AS n FROM questions WHERE answered = 1 AND source IS NOT NULL"
                " GROUP BY source ORDER BY n DESC, source LIMIT 5"
            ).fetchall()
        return Stats(questions, answered, votes, helpful, tuple((s, n) for s, n in top))

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        """A short-lived read-only connection: WAL lets it read while the shared one writes."""
        db = sqlite3.connect(f"{self._path.resolve().as_uri()}?mode=ro", uri=True, timeout=BUSY_TIMEOUT)
        try:
            yield db
        finally:
            db.close()

    def close(self) -> None:
        with self._lock:
            self._db.close()


_EDIT_COLUMNS = "at, action, entry_id, moderator_id, detail, before, after"


def _split(joined: str | None) -> tuple[str, ...]:
    """group_concat's list, each once (DISTINCT in SQL costs a b-tree per group: more than the whole read)."""
    return tuple(sorted(set(joined.split(",")))) if joined else ()
