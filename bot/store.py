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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from rapidfuzz import fuzz, process

from bot.knowledge.loader import phrasing_key

BUSY_TIMEOUT = 5.0  # seconds a writer waits for another process's transaction
MAX_QUESTION = 1000  # characters of a question kept; Discord allows more, nobody asks that much
GAP_SIMILARITY = 80  # rapidfuzz token_sort_ratio at or above which two questions are one gap
GAP_WINDOW = 20_000  # most recent missed questions considered by gaps()

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
        # "Did you mean…?" picks: which of two close answers a reader meant by a question.
        """CREATE TABLE picks (
            question_id INTEGER NOT NULL REFERENCES questions (id) ON DELETE CASCADE,
            user_hash TEXT NOT NULL,
            title TEXT NOT NULL,
            at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
            PRIMARY KEY (question_id, user_hash)
        )""",
    ),
)
SCHEMA_VERSION = len(_MIGRATIONS)


@dataclass(frozen=True, slots=True)
class Gap:
    """A group of similar questions readers did not get a useful answer to."""

    question: str  # the most asked wording in the group
    unanswered: int  # times the bot abstained
    unhelpful: int  # 👎 votes on answers it gave
    phrasings: tuple[str, ...]  # other wordings in the group, most asked first
    sources: tuple[str, ...]  # answers that got 👎 (e.g. "qa:trump-message")
    last_asked: str

    @property
    def count(self) -> int:
        return self.unanswered + self.unhelpful


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


class Store:
    def __init__(self, path: Path, *, salt: str) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
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

    def record_pick(self, question_id: int, *, title: str, user_id: int | None) -> None:
        """Which of the offered answers a reader picked for a question; picking again replaces the earlier pick.

        A pick on a question this database does not hold (a button older than the database) is dropped.
        """
        with self._lock:
            self._db.execute(
                "INSERT INTO picks (question_id, user_hash, title)"
                " SELECT ?, ?, ? WHERE EXISTS (SELECT 1 FROM questions WHERE id = ?)"
                " ON CONFLICT (question_id, user_hash) DO UPDATE SET title = excluded.title, at = excluded.at",
                (question_id, self._hash(user_id) or "", title.strip()[:MAX_QUESTION], question_id),
            )

    def record_edit(self, *, action: str, entry_id: str, moderator_id: int | None, detail: str) -> None:
        """Audit one moderator action (add, remove, reload): who, when, what."""
        with self._lock:
            self._db.execute(
                "INSERT INTO edits (action, entry_id, moderator_id, detail) VALUES (?, ?, ?, ?)",
                (action, entry_id, moderator_id, detail),
            )

    # --- reading ------------------------------------------------------------

    def edits(self, limit: int = 50) -> list[Edit]:
        with self._lock:
            rows = self._db.execute(
                "SELECT at, action, entry_id, moderator_id, detail FROM edits ORDER BY id DESC LIMIT ?", (limit,)
            ).fetchall()
        return [Edit(*row) for row in rows]

    def gaps(self, limit: int = 10) -> list[Gap]:
        """Unanswered and 👎 questions, similar wordings grouped, the most missed first."""
        with self._lock:
            rows = self._db.execute(
                """SELECT q.question, q.question_key, q.answered, q.source, q.asked_at,
                          (SELECT COUNT(*) FROM feedback f WHERE f.question_id = q.id AND f.helpful = 0)
                   FROM questions q
                   WHERE q.answered = 0
                      OR EXISTS (SELECT 1 FROM feedback f WHERE f.question_id = q.id AND f.helpful = 0)
                   ORDER BY q.id DESC LIMIT ?""",
                (GAP_WINDOW,),
            ).fetchall()
        return _group(rows)[:limit]

    def stats(self) -> Stats:
        with self._lock:
            questions, answered = self._db.execute(
                "SELECT COUNT(*), COALESCE(SUM(answered), 0) FROM questions"
            ).fetchone()
            votes, helpful = self._db.execute("SELECT COUNT(*), COALESCE(SUM(helpful), 0) FROM feedback").fetchone()
            top = self._db.execute(
                "SELECT source, COUNT(*) AS n FROM questions WHERE answered = 1 AND source IS NOT NULL"
                " GROUP BY source ORDER BY n DESC, source LIMIT 5"
            ).fetchall()
        return Stats(questions, answered, votes, helpful, tuple((s, n) for s, n in top))

    def close(self) -> None:
        with self._lock:
            self._db.close()


@dataclass
class _Wording:
    """All the misses of one wording (questions equal under phrasing_key)."""

    text: str
    unanswered: int = 0
    unhelpful: int = 0
    last_asked: str = ""

    @property
    def count(self) -> int:
        return self.unanswered + self.unhelpful


def _group(rows: list[tuple]) -> list[Gap]:
    wordings: dict[str, _Wording] = {}
    sources: dict[str, set[str]] = {}
    for question, key, answered, source, asked_at, down in rows:
        w = wordings.setdefault(key, _Wording(question))
        w.unanswered += not answered
        w.unhelpful += down
        w.last_asked = max(w.last_asked, asked_at)
        if down and source:
            sources.setdefault(key, set()).add(source)

    # Greedy: the most missed wording founds a group; each later one joins the closest group if similar enough.
    ordered = sorted(wordings, key=lambda k: (-wordings[k].count, k))
    founders: list[str] = []
    groups: dict[str, list[str]] = {}
    for key in ordered:
        match = process.extractOne(key, founders, scorer=fuzz.token_sort_ratio, score_cutoff=GAP_SIMILARITY)
        if match is None:
            founders.append(key)
            groups[key] = [key]
        else:
            groups[match[0]].append(key)

    gaps = []
    for founder, keys in groups.items():
        members = [wordings[k] for k in keys]
        gaps.append(Gap(
            question=wordings[founder].text,
            unanswered=sum(w.unanswered for w in members),
            unhelpful=sum(w.unhelpful for w in members),
            phrasings=tuple(w.text for w in members[1:6]),
            sources=tuple(sorted(set().union(*(sources.get(k, set()) for k in keys)))),
            last_asked=max(w.last_asked for w in members),
        ))
    gaps.sort(key=lambda g: g.last_asked, reverse=True)
    gaps.sort(key=lambda g: g.count, reverse=True)  # stable: among equals, the most recently asked first
    return gaps
