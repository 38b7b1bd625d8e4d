"""SQLite, the embedded default: one file at DATABASE_PATH, from Python's standard library.

WAL mode lets readers and one writer proceed together, so several bot processes on one
machine (shards split across processes) can share the file; each write is one short
transaction. Migrations are tracked in `PRAGMA user_version`; a database from a newer version
of the bot is refused rather than damaged.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bot import backoff
from bot.store.base import BUSY_TIMEOUT, KEEP_DAYS, MAX_ROWS, PRUNE_EVERY, Store
from bot.store.common import StoreUnavailable

WAL_RETRY = (0.005, 0.1)  # seconds between attempts to turn on WAL mode while another connection does: first, cap


class SQLiteStore(Store):
    dialect = "sqlite"
    errors = (sqlite3.Error, OSError)
    # Locked, busy, full, I/O: may pass. Corruption and constraint errors are DatabaseError/IntegrityError: they won't.
    transient = (sqlite3.OperationalError, OSError)

    def __init__(self, path: Path | str, *, salt: str, busy_timeout: float = BUSY_TIMEOUT, keep_days: int = KEEP_DAYS,
                 max_rows: int = MAX_ROWS, prune_every: float = PRUNE_EVERY, knowledge_dir: Path | None = None) -> None:
        self.path = Path(path)
        self.busy_timeout = busy_timeout
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)  # a missing directory is simply created
        except OSError as exc:
            raise StoreUnavailable(f"cannot create the directory {self.path.parent}: {exc.strerror or exc}") from exc
        super().__init__(salt=salt, keep_days=keep_days, max_rows=max_rows, prune_every=prune_every,
                         knowledge_dir=knowledge_dir)

    def _connect(self) -> sqlite3.Connection:
        # Created readable by its owner only, as the salt is; SQLite gives its -wal and -shm files the same mode.
        # Only a file that did not exist is opened and closed here: closing a descriptor of a file drops every
        # POSIX lock this process holds on it, which would break the locks of the store's other connections.
        with contextlib.suppress(FileExistsError):
            os.close(os.open(self.path, os.O_RDONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600))
        # isolation_level=None: we open transactions ourselves, so each one is as short as we write it.
        db = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None, check_same_thread=False)
        try:
            db.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")  # before anything that may wait
            self._wal(db)
            db.execute("PRAGMA synchronous=NORMAL")  # durable enough in WAL mode, and much faster
            db.execute("PRAGMA foreign_keys=ON")
        except BaseException:
            db.close()
            raise
        return db

    def _wal(self, db: sqlite3.Connection) -> None:
        """Turn on WAL mode, waiting up to the busy timeout for it.

        Turning a new file to WAL needs it to itself; when two connections try together, SQLite answers
        "database is locked" at once to one of them (waiting would deadlock), busy timeout or not. So that
        answer is retried here, within the busy timeout, rather than failing the whole store's opening.
        """
        deadline = time.monotonic() + self.busy_timeout
        for delay in backoff.delays(*WAL_RETRY):
            try:
                db.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:
                if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY or time.monotonic() + delay > deadline:
                    raise
                time.sleep(delay)

    @contextmanager
    def _transaction(self, conn: sqlite3.Connection) -> Iterator[None]:
        # IMMEDIATE takes the write lock up front, so busy_timeout applies instead of a deadlock on upgrade.
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def _schema_version(self, conn: sqlite3.Connection) -> int:
        return conn.execute("PRAGMA user_version").fetchone()[0]

    def _set_schema_version(self, conn: sqlite3.Connection, version: int) -> None:
        conn.execute(f"PRAGMA user_version = {int(version)}")

