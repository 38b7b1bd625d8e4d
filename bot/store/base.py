"""The store's core: one interface over SQLite or PostgreSQL for what the bot keeps beside its answers.

The engine never imports this package; the faces record into it after answering. The Store is made of parts:
readers' records (records.py: questions, votes, picks, gaps, totals, which story where), the audit of edits
(audit.py) and this core, which holds the connection, the write queue, the schema (numbered .sql files in
migrations/, one folder per dialect) and pruning. The SQL is written once, in the dialect SQLite and
PostgreSQL share (`?` placeholders are turned into the driver's by the backend); the backends (sqlite.py,
postgres.py) add connections, transactions and, for PostgreSQL, entries shared between machines.

- Answer first, record after: questions and votes go to a WriteQueue drained by a background
  thread, so a locked, full or unreachable database never delays or fails a reader's answer.
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
import threading
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from bot.config import DEFAULT_KEEP_DAYS as KEEP_DAYS
from bot.config import DEFAULT_KEEP_ROWS as MAX_ROWS
from bot.knowledge.packs import MAIN_STORY
from bot.store.audit import Audit
from bot.store.common import StoreUnavailable, stamp, utc_now
from bot.store.queue import WriteQueue
from bot.store.records import Records

log = logging.getLogger(__name__)
T = TypeVar("T")

BUSY_TIMEOUT = 5.0  # seconds a synchronous write (an edit's audit row) waits for another process's transaction
READ_FLUSH = 2.0  # seconds a read waits for this process's queued writes
CLOSE_FLUSH = 10.0  # seconds close() waits for queued writes
PRUNE_EVERY = 3600.0  # seconds between prunes and reconciliations (on a timer in the writer thread)


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


class Store(Records, Audit):
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

    def flush(self, timeout: float = CLOSE_FLUSH) -> bool:
        """Wait until the writes queued so far are done; False if the database did not take them in time."""
        return self._queue.flush(timeout)

    @property
    def queue(self) -> WriteQueue:
        return self._queue

    # --- entries kept in the database (PostgreSQL) ------------------------------------------

    def listen(self, on_change: Callable[[], None]) -> None:
        """Call `on_change` (from another thread) whenever another process changes the entries kept here.

        Nothing to listen to by default: SQLite keeps no entries (the knowledge directory's watcher sees
        qa-discord.yaml change).
        """

    def extra_knowledge(self, story: str = MAIN_STORY) -> Mapping[str, str]:
        """A story's knowledge files kept in the database (file name → text), loaded beside its folder's.

        Here none: SQLite keeps the entries added from Discord in each story's qa-discord.yaml. `story` (the
        edits' too) matters where the database keeps them (postgres.py); `directory` says where files go.
        """
        return {}

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



