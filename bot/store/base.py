"""The store's one interface: questions asked, 👍/👎 feedback, and the audit of moderators' edits.

The engine never imports this package; the faces record into it after answering. The SQL is
written once, here, in the dialect SQLite and PostgreSQL share (`?` placeholders are turned
into the driver's by the backend); the backends (sqlite.py, postgres.py) add connections,
transactions, migrations and, for PostgreSQL, entries shared between machines.

- Answer first, record after: questions and votes go to a WriteQueue drained by a background
  thread, so a locked, full or unreachable database never delays or fails a reader's answer.
  The id handed to the 👍/👎 buttons is made here (a random 63-bit `ref`), not by the database,
  so it is known before the row is written.
- An edit and its audit row land together: the audit row is committed first as `pending`
  (if that fails, nothing is changed and the moderator is told), then the file is written,
  then the row is marked `done` (or `failed`). The entry's text before and as planned after the
  edit is in the row from the start, so a row left `pending` by a crash between the file write
  and its completion is reconciled against the knowledge files (at open and periodically):
  `done` if the change is there, `failed` if it is not, never left pending nor dropped.
- Reads (gaps, stats, edits) first wait briefly for this process's queued writes, so a
  moderator sees the questions that were just asked.

Privacy: a reader's user id is never stored, only an HMAC-SHA256 of it keyed by a salt that
is never kept in the database (STATS_SALT, or the file beside the database that
`Settings.with_salt` keeps). Moderators' ids are stored as they are in the audit log: their
edits are accountable.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import threading
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import yaml

from bot.config import DEFAULT_KEEP_DAYS as KEEP_DAYS
from bot.config import DEFAULT_KEEP_ROWS as MAX_ROWS
from bot.knowledge import editor
from bot.knowledge.editor import EditResult, NewEntry
from bot.knowledge.loader import phrasing_key
from bot.knowledge.model import KnowledgeBase
from bot.knowledge.packs import MAIN_STORY
from bot.store.queue import Write, WriteQueue

log = logging.getLogger(__name__)
T = TypeVar("T")

BUSY_TIMEOUT = 5.0  # seconds a synchronous write (an edit's audit row) waits for another process's transaction
MAX_QUESTION = 1000  # characters of a question kept; Discord allows more, nobody asks that much
GAP_WINDOW = 20_000  # most recently missed distinct wordings considered by missed_wordings()
MISS_ROWS = 50_000  # …found among this many latest misses of each kind, so the read stays short at 2 M rows
READ_FLUSH = 2.0  # seconds a read waits for this process's queued writes
CLOSE_FLUSH = 10.0  # seconds close() waits for queued writes
PRUNE_EVERY = 3600.0  # seconds between prunes and reconciliations (on a timer in the writer thread)
SETTLE = 60.0  # seconds an edit has to finish before its pending audit row is judged against the files
PHRASING_NOTE = "+ "  # a phrasing edit's note: this, then the phrasing
_REF_FLOOR = 1 << 40  # refs are above every autoincrement id a database of the old schema handed out
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
DIALECTS = ("sqlite", "postgres")


def migration_steps(dialect: str) -> tuple[tuple[str, ...], ...]:
    """The schema's steps for one dialect, oldest first, each the statements of one numbered .sql file
    (bot/store/migrations/<dialect>/NNN_name.sql): every dialect has the same steps, so one version number
    says what a database holds whichever it is."""
    files = sorted((MIGRATIONS_DIR / dialect).glob("[0-9][0-9][0-9]_*.sql"))
    steps = []
    for number, path in enumerate(files, 1):
        if int(path.name[:3]) != number:
            raise RuntimeError(f"{path}: migrations are numbered 001, 002, … without gaps")
        sql = "\n".join(line for line in path.read_text(encoding="utf-8").splitlines()
                        if not line.lstrip().startswith("--"))
        steps.append(tuple(statement.strip() for statement in sql.split(";") if statement.strip()))
    return tuple(steps)


MIGRATIONS = {dialect: migration_steps(dialect) for dialect in DIALECTS}
if len({len(steps) for steps in MIGRATIONS.values()}) != 1:
    raise RuntimeError(f"{MIGRATIONS_DIR}: every dialect needs the same numbered steps")
SCHEMA_VERSION = len(MIGRATIONS["sqlite"])


class StoreUnavailable(RuntimeError):
    """The database cannot be used right now; the message says why, in one line, for people."""


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
    status: str = "done"  # pending (the file write's outcome is not known yet), done or failed
    before: str | None = None  # the entry as YAML before the edit (remove, phrasing), when recorded
    after: str | None = None  # …and after it (add, phrasing, restore)


def entry_detail(entry: NewEntry) -> str:
    """What the audit keeps of an added entry."""
    return f"{entry.question} | {entry.answer} | ¶{entry.paragraph} {entry.quote}"


def phrasing_detail(phrasing: str) -> str:
    """The audit's note of a phrasing added to an entry."""
    return PHRASING_NOTE + " ".join(phrasing.split())


def utc_now() -> datetime:
    return datetime.now(UTC)


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(TIME_FORMAT)


class Store:
    """What the bot keeps, on one database. Subclasses supply the connection and the dialect.

    One connection (`_db`, under `_lock`) serves reads and the synchronous writes of edits; the
    write queue has a connection of its own in its thread.
    """

    dialect: str  # which of bot/store/migrations/'s folders builds its schema
    errors: tuple[type[BaseException], ...] = ()  # the driver's errors: any of them makes the database unusable
    transient: tuple[type[BaseException], ...] = ()  # the ones worth retrying

    def __init__(self, *, salt: str, keep_days: int = KEEP_DAYS, max_rows: int = MAX_ROWS,
                 prune_every: float = PRUNE_EVERY, knowledge_dir: Path | None = None) -> None:
        """`salt` keys the readers' hashes and must come from outside the database (see the module's note).

        `knowledge_dir`: the files edits from Discord write, against which audit rows an edit left pending
        are reconciled (at open and periodically); None for a store that only records questions.
        """
        if not salt:
            raise ValueError("a salt is required: it is never kept in the database with the hashes it keys")
        self._salt = salt.encode()
        self.keep_days = keep_days
        self.max_rows = max_rows
        self.knowledge_dir = knowledge_dir
        self._lock = threading.Lock()
        self._migrated = False
        self._db: Any = None  # None only while a server down at start has not been reached yet
        try:
            self._db = self._ready_connection()
        except self.errors as exc:
            if not self._unreachable(exc):
                raise StoreUnavailable(self._describe(exc)) from exc
            log.error("DATABASE UNREACHABLE at start (%s): answering as usual; questions and votes are queued and "
                      "written once it is back, /kb edits are refused until then; connecting again in the "
                      "background", self._describe(exc))
        self._queue = WriteQueue(connect=self._ready_connection, transaction=self._transaction,
                                 transient=self.transient, periodic=self._maintain, period=prune_every)
        self.reconcile()

    def _ready_connection(self) -> Any:
        """A new connection, the schema migrated first if this store has not done so yet."""
        conn = self._connect()
        if not self._migrated:
            try:
                self._migrate(conn)
            except BaseException:
                conn.close()
                raise
            self._migrated = True
        return conn

    # --- what a backend supplies -------------------------------------------------------

    def _connect(self) -> Any:
        raise NotImplementedError

    def _transaction(self, conn: Any) -> AbstractContextManager[Any]:
        raise NotImplementedError

    def _schema_version(self, conn: Any) -> int:
        raise NotImplementedError

    def _set_schema_version(self, conn: Any, version: int) -> None:
        raise NotImplementedError

    def _unreachable(self, exc: BaseException) -> bool:
        """Whether a failure to open is a server that cannot be reached (yet): then the store opens all the same,
        as when the server goes away mid-run, queuing writes and connecting when it can. Never for a file, where a
        failure at start is a corrupt, unwritable or locked file to report."""
        return False

    def _revive(self) -> None:
        """Replace `_db` if it broke (a server restart); called under `_lock` before each use."""

    def _broken(self) -> bool:
        """Whether the last failure broke `_db` itself (then one more attempt on a new connection is worth it)."""
        return False

    def _sql(self, query: str) -> str:
        """The query with the driver's placeholders (written with `?` here)."""
        return query

    def _describe(self, exc: BaseException) -> str:
        return f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"

    # --- schema -----------------------------------------------------------------------

    def _migrate(self, conn: Any) -> None:
        """Raises StoreUnavailable for a schema newer than this bot's, else the driver's errors."""
        with self._transaction(conn):
            # Read inside the write transaction: two processes starting together migrate once.
            version = self._schema_version(conn)
            if version > SCHEMA_VERSION:
                raise StoreUnavailable(f"database schema {version} is newer than this bot ({SCHEMA_VERSION}); "
                                       "upgrade the bot")
            for step in MIGRATIONS[self.dialect][version:]:
                for sql in step:
                    conn.execute(sql)
            self._set_schema_version(conn, SCHEMA_VERSION)

    def _exec(self, conn: Any, query: str, params: tuple = ()) -> Any:
        return conn.execute(self._sql(query), params)

    def _hash(self, user_id: int | None) -> str | None:
        if user_id is None:
            return None
        return hmac.new(self._salt, str(user_id).encode(), hashlib.sha256).hexdigest()[:32]

    # --- recording (queued: never blocks, never raises) ----------------------------------

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
        story: str = MAIN_STORY,
    ) -> int:
        """Queue one question about `story` and how it went; returns its id for the 👍/👎 buttons at once."""
        text = question.strip()[:MAX_QUESTION]
        ref = _REF_FLOOR + secrets.randbelow((1 << 63) - _REF_FLOOR)
        row = (ref, stamp(utc_now()), text, phrasing_key(text), int(answered), source, float(confidence), guild_id,
               channel_id, self._hash(user_id), story)

        def run(conn: Any) -> None:
            self._exec(conn, "INSERT INTO questions (ref, asked_at, question, question_key, answered, source,"
                             " confidence, guild_id, channel_id, user_hash, story)"
                             " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (ref) DO NOTHING", row)

        self._queue.put(Write("a question", run))
        return ref

    def record_feedback(self, question_id: int, *, helpful: bool, user_id: int | None) -> None:
        """One vote per reader per question; voting again replaces the earlier vote.

        A vote on a question this database does not hold (a button older than the database) is dropped.
        """
        self._per_reader("feedback", {"helpful": int(helpful)}, question_id, user_id, "a vote")

    def record_pick(self, question_id: int, *, title: str, source: str | None = None, user_id: int | None) -> None:
        """Which of the offered answers a reader picked for a question; picking again replaces the earlier pick.

        `title` is the answer as offered, `source` the answer it stands for (e.g. "qa:trump-message"), when
        known. The question's wording joins the moderators' gaps queue: a phrasing that entry may lack.
        A pick on a question this database does not hold (a button older than the database) is dropped.
        """
        self._per_reader("picks", {"title": title.strip()[:MAX_QUESTION], "source": source}, question_id,
                         user_id, "a pick")

    def _per_reader(self, table: str, values: Mapping[str, object], question_id: int, user_id: int | None,
                    what: str) -> None:
        """Queue one reader's say on a question (a vote, a pick), replacing their earlier one."""
        row = (self._hash(user_id) or "", *values.values(), stamp(utc_now()), question_id)
        # table and columns are this class's own names, never a reader's text
        columns = ", ".join(values)
        marks = ", ".join("?" for _ in values)
        updates = ", ".join(f"{c} = excluded.{c}" for c in values)

        def run(conn: Any) -> None:
            self._exec(conn, f"INSERT INTO {table} (question_id, user_hash, {columns}, at)"
                             f" SELECT id, ?, {marks}, ? FROM questions WHERE ref = ?"
                             f" ON CONFLICT (question_id, user_hash) DO UPDATE SET {updates}, at = excluded.at", row)

        self._queue.put(Write(what, run))

    def flush(self, timeout: float = CLOSE_FLUSH) -> bool:
        """Wait until the writes queued so far are done; False if the database did not take them in time."""
        return self._queue.flush(timeout)

    @property
    def queue(self) -> WriteQueue:
        return self._queue

    # --- the audit of edits (synchronous: the moderator is waiting and must know) -------------

    def record_edit(self, *, action: str, entry_id: str, moderator_id: int | None, detail: str,
                    before: str | None = None, after: str | None = None) -> None:
        """Audit one moderator action (add, remove, reload, phrasing, restore): who, when, what, before/after.

        Raises StoreUnavailable.
        """
        self._audit_row(action, entry_id, moderator_id, detail, "done", before, after)

    def _audit_row(self, action: str, entry_id: str, moderator_id: int | None, detail: str, status: str,
                   before: str | None = None, after: str | None = None) -> int:
        row = (stamp(utc_now()), action, entry_id, moderator_id, detail, status, before, after)
        return self._use(lambda db: self._exec(db, "INSERT INTO edits (at, action, entry_id, moderator_id, detail,"
                                                   " status, before, after) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                                                   " RETURNING id", row).fetchone()[0])

    def _finish_edit(self, row: int, status: str, entry_id: str, after: str | None = None) -> None:
        """Mark an audit row done or failed (with the entry's YAML after the edit, when known); if the
        database is busy now, the write queue retries it."""
        if after is None:
            self._now_or_queued(f"audit row {row}", "UPDATE edits SET status = ?, entry_id = ? WHERE id = ?",
                                (status, entry_id, row))
        else:
            self._now_or_queued(f"audit row {row}", "UPDATE edits SET status = ?, entry_id = ?, after = ?"
                                " WHERE id = ?", (status, entry_id, after, row))

    def _forget_edit(self, row: int) -> None:
        """An edit the editor refused changed nothing: its pending row goes (later, if the database is busy now)."""
        self._now_or_queued(f"audit row {row}", "DELETE FROM edits WHERE id = ?", (row,))

    def _now_or_queued(self, what: str, query: str, params: tuple) -> None:
        try:
            self._use(lambda db: self._exec(db, query, params))
        except StoreUnavailable as exc:
            log.warning("store: %s stays pending for now (%s); retrying in the background", what, exc)
            self._queue.put(Write(what, lambda conn: self._exec(conn, query, params)))

    def audited(self, *, action: str, entry_id: str, moderator_id: int | None, detail: str,
                change: Callable[[], EditResult], before: str | None = None,
                after: str | Callable[[EditResult], str | None] | None = None) -> EditResult:
        """Run `change` (a file edit) with its audit row: pending first, then done, or gone if it was refused.

        `before` (the entry's YAML before the edit) and `after` (its YAML after, or a function of the edit's
        result giving it) are in the row from the start, so a crash before the row is finished can be
        reconciled; a function is asked first with no entry id yet (for an add: the entry as planned) and
        again with the edit's result when it is done.
        Raises StoreUnavailable, with nothing changed, when the audit row cannot be written.
        """
        planned = after(EditResult("", "", ())) if callable(after) else after
        row = self._audit_row(action, entry_id, moderator_id, detail, "pending", before, planned)
        try:
            result = change()
        except BaseException:
            self._finish_edit(row, "failed", entry_id)
            raise
        if result.ok:
            self._finish_edit(row, "done", result.entry_id, after(result) if callable(after) else after)
        else:
            self._forget_edit(row)
        return result

    def reconcile(self, now: datetime | None = None) -> int:
        """Settle the audit rows edits left pending (a crash between the file write and the row's completion).

        Each row older than SETTLE seconds is judged against the knowledge files as they are now: `done`
        (with the entry's id and text) if its change is there, `failed` if it is not, each with a log line.
        Rows stay pending, to be judged later, while the knowledge cannot be read or the database is away.
        Returns how many rows were settled; never raises (it runs at open and on the writer's timer).
        """
        if self.knowledge_dir is None:
            return 0
        cutoff = stamp((now or utc_now()) - timedelta(seconds=SETTLE))
        try:
            rows = self._use(lambda db: self._exec(db, "SELECT id, action, entry_id, detail, after FROM edits"
                                                       " WHERE status = 'pending' AND at < ? ORDER BY id",
                                                   (cutoff,)).fetchall(), transaction=False)
            if not rows:
                return 0
            kb = self._knowledge()
            if kb is None:
                log.warning("store: %d audit rows stay pending: the knowledge in %s cannot be loaded to check them",
                            len(rows), self.knowledge_dir)
                return 0
            verdicts = []  # (status, entry id, after, row)
            for row, action, entry_id, detail, after in rows:
                found = _landed(kb, action, entry_id, detail, after)
                verdicts.append(("failed" if found is None else "done", *(found or (entry_id, after)), row))

            def settle(db: Any) -> None:
                for verdict in verdicts:
                    self._exec(db, "UPDATE edits SET status = ?, entry_id = ?, after = ? WHERE id = ?"
                                   " AND status = 'pending'", verdict)

            self._use(settle)
            for (status, entry_id, _after, row), (_row, action, *_rest) in zip(verdicts, rows, strict=True):
                log.warning("store: audit row %d (%s %s) was left pending by an edit that did not finish; its change "
                            "%s in the knowledge files: marked %s", row, action, entry_id or "of a new entry",
                            "is" if status == "done" else "is not", status)
        except StoreUnavailable as exc:
            log.warning("store: pending audit rows are checked later, the database is unavailable: %s", exc)
            return 0
        return len(rows)

    def _knowledge(self) -> KnowledgeBase | None:
        """The knowledge as edits from Discord see it (the directory's files and the entries kept here), or None
        if it cannot be loaded."""
        assert self.knowledge_dir is not None
        try:
            return editor.validate(self.knowledge_dir, dict(self.extra_knowledge())).kb
        except OSError:  # a missing or unreadable directory: the bot's start says so, with the loader's words
            return None

    def add_entry(self, directory: Path, entry: NewEntry, *, moderator_id: int | None) -> EditResult:
        """Validate and add a Q&A entry (to qa-discord.yaml), audited with its YAML."""
        return self.audited(action="add", entry_id="", moderator_id=moderator_id, detail=entry_detail(entry),
                            change=lambda: editor.add_entry(directory, entry),
                            after=lambda result: editor.new_entry_yaml(result.entry_id, entry))

    def remove_entry(self, directory: Path, entry_id: str, *, moderator_id: int | None, detail: str,
                     before: str | None = None) -> EditResult:
        """Remove a Q&A entry from its file, audited; `detail` is a note of the entry, `before` its YAML
        (what /kb restore writes back)."""
        return self.audited(action="remove", entry_id=entry_id, moderator_id=moderator_id, detail=detail,
                            before=before, change=lambda: editor.remove_entry(directory, entry_id))

    def add_phrasing(self, directory: Path, entry_id: str, phrasing: str, *, moderator_id: int | None,
                     before: str | None = None, after: str | None = None) -> EditResult:
        """Add a reader's wording to an entry's phrasings in the file holding it, audited (before/after YAML)."""
        return self.audited(action="phrasing", entry_id=entry_id, moderator_id=moderator_id,
                            detail=phrasing_detail(phrasing), before=before, after=after,
                            change=lambda: editor.add_phrasing(directory, entry_id, phrasing))

    def restore_entry(self, directory: Path, entry_id: str, item_yaml: str, *,
                      moderator_id: int | None) -> EditResult:
        """Write a removed entry back as the audit kept it (`item_yaml`, a removal's `before`), audited."""
        return self.audited(action="restore", entry_id=entry_id, moderator_id=moderator_id,
                            detail="restored from the audit", after=item_yaml,
                            change=lambda: editor.restore_entry(directory, item_yaml))

    def listen(self, on_change: Callable[[], None]) -> None:
        """Call `on_change` (from another thread) whenever another process changes the entries kept here.

        Nothing to listen to by default: SQLite keeps no entries (the knowledge directory's watcher sees
        qa-discord.yaml change).
        """

    def extra_knowledge(self) -> Mapping[str, str]:
        """Knowledge files kept in the database (file name → text), loaded beside the knowledge directory."""
        return {}

    # --- which story where (synchronous: a moderator or reader is waiting) -----------------------

    def set_place_story(self, guild_id: int, channel_id: int | None, story: str, *, moderator_id: int | None) -> None:
        """Map a server (`channel_id` None) or one of its channels to a story, audited. Raises StoreUnavailable."""
        place = (guild_id, channel_id or 0, story)

        def put(db: Any) -> None:
            self._exec(db, "INSERT INTO story_places (guild_id, channel_id, story) VALUES (?, ?, ?)"
                           " ON CONFLICT (guild_id, channel_id) DO UPDATE SET story = excluded.story", place)
        self._use(put)
        where = f"channel {channel_id}" if channel_id else f"server {guild_id}"
        self.record_edit(action="story", entry_id=story, moderator_id=moderator_id, detail=f"{where} → {story}")

    def place_stories(self) -> dict[tuple[int, int], str]:
        """Every mapping: (server, channel or 0 for the whole server) → story. Raises StoreUnavailable."""
        rows = self._read(lambda db: self._exec(db, "SELECT guild_id, channel_id, story FROM story_places").fetchall())
        return {(int(guild), int(channel)): story for guild, channel, story in rows}

    def set_reader_story(self, user_id: int, story: str) -> None:
        """Remember the story a reader picked for DMs (by their hashed id). Raises StoreUnavailable."""
        row = (self._hash(user_id), story)
        self._use(lambda db: self._exec(db, "INSERT INTO reader_stories (user_hash, story) VALUES (?, ?)"
                                            " ON CONFLICT (user_hash) DO UPDATE SET story = excluded.story", row))

    def reader_story(self, user_id: int) -> str | None:
        """The story a reader picked for DMs, if any. Raises StoreUnavailable."""
        row = self._read(lambda db: self._exec(db, "SELECT story FROM reader_stories WHERE user_hash = ?",
                                               (self._hash(user_id),)).fetchone())
        return row[0] if row else None

    def close_gaps(self, keys: Iterable[str], *, how: str) -> None:
        """Mark missed wordings (phrasing_key) as answered now: `how` is "reasked", "phrasing" or "add".

        Raises StoreUnavailable.
        """
        at = stamp(utc_now())
        rows = [(key, at, how) for key in dict.fromkeys(keys)]
        if not rows:
            return

        def close(db: Any) -> None:
            for row in rows:
                self._exec(db, "INSERT INTO closed_gaps (question_key, closed_at, how) VALUES (?, ?, ?)"
                               " ON CONFLICT (question_key) DO UPDATE SET closed_at = excluded.closed_at,"
                               " how = excluded.how", row)

        self._use(close)

    # --- the shared connection ------------------------------------------------------------

    def _use(self, work: Callable[[Any], T], *, transaction: bool = True,
             landed: Callable[[Any], T | None] | None = None) -> T:
        """`work(db)` on the shared connection, under the lock (in a transaction); once more on a fresh
        connection if the first attempt found it broken (a server restart). Raises StoreUnavailable.

        A connection that broke may have broken after the server committed (the reply to COMMIT was lost):
        before the second attempt, `landed(db)`, when given, says what the first one did if it landed.
        """
        for attempt in (1, 2):
            try:
                with self._lock:
                    self._revive()
                    if attempt == 2 and landed is not None and (done := landed(self._db)) is not None:
                        return done
                    if not transaction:
                        return work(self._db)
                    with self._transaction(self._db):
                        return work(self._db)
            except self.errors as exc:
                if attempt == 1 and self._broken():
                    continue
                raise StoreUnavailable(self._describe(exc)) from exc
        raise AssertionError("unreachable")

    def _read(self, work: Callable[[Any], T]) -> T:
        """A read, after this process's queued writes (waiting briefly), so a moderator sees what was just asked."""
        self._queue.flush(READ_FLUSH)
        return self._use(work, transaction=False)

    # --- reading ----------------------------------------------------------------------

    def edits(self, limit: int = 50) -> list[Edit]:
        rows = self._read(lambda db: self._exec(db, f"SELECT {_EDIT_COLUMNS} FROM edits ORDER BY id DESC LIMIT ?",
                                                (limit,)).fetchall())
        return [Edit(*row) for row in rows]

    def entry_edits(self, entry_id: str, limit: int = 25) -> list[Edit]:
        """One entry's audit, newest first: what /kb history shows."""
        rows = self._read(lambda db: self._exec(db, f"SELECT {_EDIT_COLUMNS} FROM edits WHERE entry_id = ?"
                                                    " ORDER BY id DESC LIMIT ?", (entry_id, limit)).fetchall())
        return [Edit(*row) for row in rows]

    def last_removal(self, entry_id: str) -> Edit | None:
        """The latest completed removal of `entry_id` in the audit: /kb restore writes its `before` back."""
        row = self._read(lambda db: self._exec(db, f"SELECT {_EDIT_COLUMNS} FROM edits WHERE entry_id = ?"
                                                   " AND action = 'remove' AND status = 'done' ORDER BY id DESC"
                                                   " LIMIT 1", (entry_id,)).fetchone())
        return Edit(*row) if row else None

    def removed_entry_ids(self, limit: int = 100) -> list[str]:
        """Ids whose latest completed add/remove/restore is a removal (not restored or re-added since),
        most recent first."""
        rows = self._read(lambda db: self._exec(db, """
            SELECT entry_id FROM edits e WHERE action = 'remove' AND status = 'done'
              AND id = (SELECT MAX(id) FROM edits WHERE entry_id = e.entry_id AND status = 'done'
                        AND action IN ('add', 'remove', 'restore'))
            ORDER BY id DESC LIMIT ?""", (limit,)).fetchall())
        return [entry_id for (entry_id,) in rows]

    def missed_wordings(self, window: int = GAP_WINDOW, story: str = MAIN_STORY) -> list[MissedWording]:
        """Wordings readers missed (unanswered, 👎, or a "did you mean" pick) about `story` since each was last
        closed, the `window` most recently asked, one row per wording.

        Each kind of miss is read newest first and capped at MISS_ROWS, so the read stays short at millions
        of rows (`+answered`: SQLite walks the table newest first rather than sort every miss); the rows
        are summed per wording here, the same way for both databases.
        """
        rows = self._read(lambda db: self._exec(db, """
            SELECT m.mkey, m.text, m.unanswered, m.unhelpful, m.picked, m.source, m.chosen, m.at
            FROM (
                SELECT * FROM (SELECT question_key AS mkey, question AS text, asked_at AS at, 1 AS unanswered,
                                      0 AS unhelpful, 0 AS picked, CAST(NULL AS TEXT) AS source,
                                      CAST(NULL AS TEXT) AS chosen
                               FROM questions WHERE +answered = 0 AND story = ? ORDER BY id DESC LIMIT ?) AS a
                UNION ALL
                SELECT * FROM (SELECT q.question_key, q.question, f.at, 0, 1, 0, q.source, CAST(NULL AS TEXT)
                               FROM feedback f JOIN questions q ON q.id = f.question_id
                               WHERE f.helpful = 0 AND q.story = ? ORDER BY f.at DESC LIMIT ?) AS b
                UNION ALL
                SELECT * FROM (SELECT q.question_key, q.question, p.at, 0, 0, 1, CAST(NULL AS TEXT), p.source
                               FROM picks p JOIN questions q ON q.id = p.question_id
                               WHERE q.story = ? ORDER BY p.at DESC LIMIT ?) AS c
            ) AS m LEFT JOIN closed_gaps g ON g.question_key = m.mkey
            WHERE g.closed_at IS NULL OR m.at > g.closed_at""",
            (story, MISS_ROWS, story, MISS_ROWS, story, MISS_ROWS)).fetchall())
        return _wordings(rows, window)

    def gaps_closed_since(self, since: str) -> int:
        """Missed wordings closed (answered now) at or after `since` (an ISO time like the stored ones)."""
        return int(self._read(lambda db: self._exec(db, "SELECT COUNT(*) FROM closed_gaps WHERE closed_at >= ?",
                                                    (since,)).fetchone()[0]))

    def stats(self, story: str = MAIN_STORY) -> Stats:
        """Totals for one story's questions and their votes."""
        def read(db: Any) -> Stats:
            questions, answered = self._exec(db, "SELECT COUNT(*), COALESCE(SUM(answered), 0) FROM questions"
                                                 " WHERE story = ?", (story,)).fetchone()
            votes, helpful = self._exec(db, "SELECT COUNT(*), COALESCE(SUM(f.helpful), 0) FROM feedback f"
                                            " JOIN questions q ON q.id = f.question_id WHERE q.story = ?",
                                        (story,)).fetchone()
            top = self._exec(db, "SELECT source, COUNT(*) AS n FROM questions WHERE answered = 1 AND source IS NOT NULL"
                                 " AND story = ? GROUP BY source ORDER BY n DESC, source LIMIT 5", (story,)).fetchall()
            return Stats(int(questions), int(answered), int(votes), int(helpful), tuple((s, int(n)) for s, n in top))

        return self._read(read)

    # --- pruning ----------------------------------------------------------------------

    def prune(self, now: datetime | None = None) -> int:
        """Delete questions (and their votes) older than keep_days, and all but the newest max_rows."""
        return self._use(lambda db: self._prune_rows(db, now or utc_now()))

    def _maintain(self, conn: Any) -> None:
        """The writer thread's timer: prune old questions on its connection, then settle pending audit rows."""
        with self._transaction(conn):
            removed = self._prune_rows(conn, utc_now())
        if removed:
            log.info("store: pruned %d old questions (keeping %d days, at most %d rows)", removed, self.keep_days,
                     self.max_rows)
        self.reconcile()

    def _prune_rows(self, conn: Any, now: datetime) -> int:
        cutoff = stamp(now - timedelta(days=self.keep_days))
        removed = self._exec(conn, "DELETE FROM questions WHERE asked_at < ?", (cutoff,)).rowcount
        # The newest max_rows by id; `id <=` an offset row deletes the rest with one index range.
        removed += self._exec(conn, "DELETE FROM questions WHERE id <= (SELECT id FROM questions ORDER BY id DESC"
                                    " LIMIT 1 OFFSET ?)", (self.max_rows,)).rowcount
        return removed

    # --- stop -------------------------------------------------------------------------

    def close(self, timeout: float = CLOSE_FLUSH) -> None:
        """Write what is queued (waiting up to `timeout`), then close the connections."""
        self._queue.close(timeout)
        with self._lock:
            try:
                if self._db is not None:
                    self._db.close()
            except self.errors:
                log.warning("store: closing the database connection failed", exc_info=True)


_EDIT_COLUMNS = "at, action, entry_id, moderator_id, detail, status, before, after"


def _landed(kb: KnowledgeBase, action: str, entry_id: str, detail: str,
            after: str | None) -> tuple[str, str | None] | None:
    """Whether a pending edit's change is in `kb`: (the entry's id, its text now) if it is, else None.

    An add is found by its planned text (its id was chosen by the edit); a restore by its id and text; a
    phrasing by its id and the phrasing among the entry's questions; a removal by its id being gone.
    """
    if action == "remove":
        return None if kb.entry(entry_id) is not None else (entry_id, None)
    if action == "phrasing":
        entry = kb.entry(entry_id)
        wording = phrasing_key(detail.removeprefix(PHRASING_NOTE))
        if entry is None or wording not in {phrasing_key(q) for q in entry.questions}:
            return None
        return entry_id, editor.entry_yaml(entry)
    planned = _item(after)
    if action not in ("add", "restore") or planned is None:
        return None
    for entry in reversed(kb.qa):  # an add is appended: the latest entry with its text is the one it made
        text = editor.entry_yaml(entry)
        if _item(text) == planned | ({"id": entry.id} if action == "add" else {}):
            return entry.id, text
    return None


def _item(text: str | None) -> dict[str, Any] | None:
    """The entry an audit row's YAML holds (a one-item list), or None."""
    try:
        data = yaml.safe_load(text) if text else None
    except yaml.YAMLError:
        return None
    return data[0] if isinstance(data, list) and data and isinstance(data[0], dict) else None


def _wordings(rows: list[tuple], window: int) -> list[MissedWording]:
    """One MissedWording per wording, its text as last asked, the `window` most recently asked first."""
    sums: dict[str, list[Any]] = {}
    for key, text, unanswered, unhelpful, picked, source, chosen, at in rows:
        w = sums.get(key)
        if w is None:
            w = sums[key] = [text, 0, 0, 0, set(), set(), at]
        elif at > w[6]:
            w[0], w[6] = text, at
        w[1] += unanswered
        w[2] += unhelpful
        w[3] += picked
        if source:
            w[4].add(source)
        if chosen:
            w[5].add(chosen)
    latest = sorted(sums.items(), key=lambda item: item[1][6], reverse=True)[:window]
    return [MissedWording(key, text, int(u), int(h), int(p), tuple(sorted(sources)), tuple(sorted(chosen)), at)
            for key, (text, u, h, p, sources, chosen, at) in latest]
