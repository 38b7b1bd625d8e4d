"""PostgreSQL, for several machines: DATABASE_URL=postgresql://user:password@host/dbname.

Everything the store keeps (questions, votes, the audit) lives in the server, with the same
migrations as SQLite (tracked in a `schema_version` table). Entries added from Discord live
there too (`kb_entries`, one YAML list item each, under the story of the place they were added in), so every
process on every machine answers from them; hand-edited knowledge files stay per deployment (git).

- An edit of the shared entries and its audit row are one transaction, serialised across
  processes by a transaction-scoped advisory lock (not a lock file, which only one machine sees),
  and validated by the same loader as `python -m bot check`, against this deployment's files.
- The commit NOTIFYs `story_bot_kb`; every process LISTENs on a thread of its own and reloads
  (each story's KnowledgeReloader asks `extra_knowledge(story)` for its entries, as one more qa file).

psycopg 3 with its synchronous API: the store's work runs in threads (the write queue's, the
listener's, asyncio.to_thread workers), which a blocking driver fits as it is; asyncpg would need
an event loop in each of them. `psycopg[binary]` ships libpq, so nothing else needs installing.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import psycopg
import yaml

from bot import backoff
from bot.knowledge.editor import EditResult, NewEntry, make_id, new_entry_yaml, validate, with_phrasing
from bot.knowledge.loader import Problem
from bot.knowledge.packs import MAIN_STORY
from bot.store.audit import entry_detail, phrasing_detail
from bot.store.base import CLOSE_FLUSH, KEEP_DAYS, MAX_ROWS, PRUNE_EVERY, Store
from bot.store.common import StoreUnavailable, stamp, utc_now

log = logging.getLogger(__name__)
T = TypeVar("T")

CHANNEL = "story_bot_kb"  # NOTIFY channel: the shared entries changed
EDIT_LOCK = 0x53_54_4F_52_59_4B_42  # pg_advisory_xact_lock key for edits of the shared entries ("STORYKB")
MIGRATE_LOCK = EDIT_LOCK + 1  # …and for migrations, so processes starting together migrate once
SHARED_FILE = "qa-database.yaml"  # the name the shared entries load under (matches the loader's qa*.yaml)
SHARED_HEADER = "# Q&A entries added from Discord, kept in PostgreSQL (kb_entries) and shared by every bot process.\n"
CONNECT_TIMEOUT = 5  # seconds
LISTEN_POLL = 1.0  # seconds between checks that the listener should stop
# Seconds between attempts to listen again: from the first, doubling up to the cap. The cap is low because a
# deaf listener means readers get "doesn't say" about entries other processes added; an attempt costs one connect.
LISTEN_RETRY = (0.1, 1.0)


class PostgresStore(Store):
    dialect = "postgres"
    errors = (psycopg.Error,)
    # Connection lost, server restarting, disk full, lock timeouts, serialisation failures: all may pass.
    transient = (psycopg.OperationalError,)
    where = "the shared database"  # where entries added from Discord are kept, for the replies

    def __init__(self, url: str, *, salt: str, keep_days: int = KEEP_DAYS, max_rows: int = MAX_ROWS,
                 prune_every: float = PRUNE_EVERY, knowledge_dir: Path | None = None) -> None:
        self.url = url
        self._stop = threading.Event()
        self._listener: threading.Thread | None = None
        self._shared: dict[str, dict[str, str]] = {}  # each story's last entries read, while the server is unreachable
        super().__init__(salt=salt, keep_days=keep_days, max_rows=max_rows, prune_every=prune_every,
                         knowledge_dir=knowledge_dir)

    # --- the backend ---------------------------------------------------------------------

    def _connect(self) -> psycopg.Connection:
        # autocommit: reads never leave a transaction open; writes open theirs with conn.transaction().
        return psycopg.connect(self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT)

    def _transaction(self, conn: psycopg.Connection) -> Any:
        return conn.transaction()

    def _unreachable(self, exc: BaseException) -> bool:
        # libpq gives no SQLSTATE for a failed connection: a server that answered says FATAL. Only one still
        # starting, stopping or recovering is worth waiting for; a wrong database name or password is not.
        text = str(exc)
        return isinstance(exc, psycopg.OperationalError) and ("FATAL:" not in text
                                                               or "the database system is" in text)

    def _revive(self) -> None:
        if self._broken():
            self._db = self._ready_connection()

    def _broken(self) -> bool:
        return self._db is None or bool(self._db.broken or self._db.closed)

    def _schema_version(self, conn: psycopg.Connection) -> int:
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATE_LOCK,))
        conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        row = conn.execute("SELECT version FROM schema_version").fetchone()
        return int(row[0]) if row else 0

    def _set_schema_version(self, conn: psycopg.Connection, version: int) -> None:
        conn.execute("DELETE FROM schema_version")
        conn.execute("INSERT INTO schema_version (version) VALUES (%s)", (version,))


    def _sql(self, query: str) -> str:
        return query.replace("?", "%s")

    def _describe(self, exc: BaseException) -> str:
        # Never the URL: it may carry a password.
        return f"PostgreSQL: {type(exc).__name__}: {' '.join(str(exc).split())[:300]}"

    # --- shared entries --------------------------------------------------------------------

    def extra_knowledge(self, story: str = MAIN_STORY) -> dict[str, str]:
        """A story's shared entries as one qa file; the last ones read if the server cannot be reached now."""
        try:
            rows = self._use(lambda db: db.execute("SELECT body FROM kb_entries WHERE story = %s ORDER BY position",
                                                   (story,)).fetchall(), transaction=False)
        except StoreUnavailable as exc:
            log.warning("could not read the shared entries, answering from the last ones read: %s", exc)
            return self._shared.get(story, {})
        self._shared[story] = {SHARED_FILE: SHARED_HEADER + "".join(body for (body,) in rows)} if rows else {}
        return self._shared[story]

    def add_entry(self, directory: Path, entry: NewEntry, *, moderator_id: int | None,
                  story: str = MAIN_STORY) -> EditResult:
        """Validate against the story's files and shared entries; store the entry and its audit as one."""
        directory = Path(directory)

        def add(db: psycopg.Connection, request: str) -> EditResult:
            db.execute("SELECT pg_advisory_xact_lock(%s)", (EDIT_LOCK,))
            shared = self._shared_text(db, story)
            current = validate(directory, {SHARED_FILE: shared})
            taken = {e.id for e in current.kb.qa} if current.kb else set()
            entry_id = make_id(entry.question, taken)
            body = new_entry_yaml(entry_id, entry)
            problems = validate(directory, {SHARED_FILE: shared + body}).problems
            if not problems:
                db.execute("INSERT INTO kb_entries (story, id, body) VALUES (%s, %s, %s)", (story, entry_id, body))
                self._audit_in(db, request, "add", entry_id, moderator_id, entry_detail(entry), after=body)
                db.execute("SELECT pg_notify(%s, %s)", (CHANNEL, entry_id))
            return EditResult(entry_id, self.where, problems)

        return self._once(add)

    def remove_entry(self, directory: Path, entry_id: str, *, moderator_id: int | None, detail: str,
                     before: str | None = None, story: str = MAIN_STORY) -> EditResult:
        """A shared entry goes with its audit row (which keeps its YAML) in one transaction; a file entry as usual."""
        directory = Path(directory)

        def remove(db: psycopg.Connection, request: str) -> EditResult | None:
            db.execute("SELECT pg_advisory_xact_lock(%s)", (EDIT_LOCK,))
            row = db.execute("SELECT body FROM kb_entries WHERE story = %s AND id = %s", (story, entry_id)).fetchone()
            if row is None:
                return None  # not a shared entry
            db.execute("DELETE FROM kb_entries WHERE story = %s AND id = %s", (story, entry_id))
            problems = validate(directory, {SHARED_FILE: self._shared_text(db, story)}).problems
            if problems:
                raise _Refused(problems)  # rolls the delete back
            self._audit_in(db, request, "remove", entry_id, moderator_id, row[0], before=row[0])
            db.execute("SELECT pg_notify(%s, %s)", (CHANNEL, entry_id))
            return EditResult(entry_id, self.where, ())

        try:
            result = self._once(remove)
        except _Refused as refused:
            return EditResult(entry_id, self.where, refused.problems)
        if result is not None:
            return result
        return super().remove_entry(directory, entry_id, moderator_id=moderator_id, detail=detail, before=before,
                                    story=story)

    def add_phrasing(self, directory: Path, entry_id: str, phrasing: str, *, moderator_id: int | None,
                     before: str | None = None, after: str | None = None, story: str = MAIN_STORY) -> EditResult:
        """A reader's wording joins a shared entry's phrasings with its audit row in one transaction (the
        stored YAML before and after, exactly); checked against this deployment's files and the shared
        entries. A file entry is edited in its file as usual, audited with `before`/`after`."""
        directory = Path(directory)

        def add(db: psycopg.Connection, request: str) -> EditResult | None:
            db.execute("SELECT pg_advisory_xact_lock(%s)", (EDIT_LOCK,))
            rows = db.execute("SELECT id, body FROM kb_entries WHERE story = %s ORDER BY position", (story,)).fetchall()
            old = dict(rows).get(entry_id)
            if old is None:
                return None  # not a shared entry
            if (questions := _questions(old)) is None:
                why = Problem(self.where, 0, f"the stored text of entry {entry_id!r} cannot be read back")
                return EditResult(entry_id, self.where, (why,))
            body, problems = with_phrasing(old, 1, entry_id, questions, phrasing, self.where)
            if body is not None:
                shared = SHARED_HEADER + "".join(body if ident == entry_id else text for ident, text in rows)
                problems = validate(directory, {SHARED_FILE: shared}).problems
            if not problems:
                db.execute("UPDATE kb_entries SET body = %s WHERE story = %s AND id = %s", (body, story, entry_id))
                self._audit_in(db, request, "phrasing", entry_id, moderator_id, phrasing_detail(phrasing),
                               before=old, after=body)
                db.execute("SELECT pg_notify(%s, %s)", (CHANNEL, entry_id))
            return EditResult(entry_id, self.where, problems)

        result = self._once(add)
        if result is not None:
            return result
        return super().add_phrasing(directory, entry_id, phrasing, moderator_id=moderator_id, before=before,
                                    after=after, story=story)

    def restore_entry(self, directory: Path, entry_id: str, item_yaml: str, *,
                      moderator_id: int | None, story: str = MAIN_STORY) -> EditResult:
        """A removed entry comes back among the shared entries (as added ones do), with its audit, in one
        transaction; checked against this deployment's files and the shared entries."""
        directory = Path(directory)
        try:
            kept_id = str(yaml.safe_load(item_yaml)[0]["id"])
        except (yaml.YAMLError, LookupError, TypeError):
            kept_id = ""
        if kept_id != entry_id:
            why = Problem(self.where, 0, "the audit does not hold this entry's text")
            return EditResult(entry_id, self.where, (why,))

        def restore(db: psycopg.Connection, request: str) -> EditResult:
            db.execute("SELECT pg_advisory_xact_lock(%s)", (EDIT_LOCK,))
            shared = self._shared_text(db, story)
            current = validate(directory, {SHARED_FILE: shared})
            if current.kb is not None and current.kb.entry(entry_id) is not None:
                origin = current.kb.entry(entry_id).origin  # type: ignore[union-attr]
                return EditResult(entry_id, origin.path, (Problem(origin.path, origin.line,
                                                                  f"an entry with id {entry_id!r} exists already"),))
            body = item_yaml if item_yaml.endswith("\n") else item_yaml + "\n"
            problems = validate(directory, {SHARED_FILE: shared + body}).problems
            if not problems:
                db.execute("INSERT INTO kb_entries (story, id, body) VALUES (%s, %s, %s)", (story, entry_id, body))
                self._audit_in(db, request, "restore", entry_id, moderator_id, "restored from the audit", after=body)
                db.execute("SELECT pg_notify(%s, %s)", (CHANNEL, entry_id))
            return EditResult(entry_id, self.where, problems)

        return self._once(restore)

    def _shared_text(self, db: psycopg.Connection, story: str) -> str:
        rows = db.execute("SELECT body FROM kb_entries WHERE story = %s ORDER BY position", (story,)).fetchall()
        return SHARED_HEADER + "".join(body for (body,) in rows)

    def _once(self, edit: Callable[[psycopg.Connection, str], T]) -> T | EditResult:
        """Run an edit of the shared entries once, even if the reply to its COMMIT is lost.

        Its audit row carries a new request key; when the connection breaks, the retry first looks for that key:
        found, the edit landed (with its audit), and the moderator is told it succeeded rather than that it
        failed ("already a phrasing", "no entry with id") on doing it again.
        """
        request = secrets.token_hex(16)

        def landed(db: psycopg.Connection) -> EditResult | None:
            row = db.execute("SELECT entry_id FROM edits WHERE request = %s", (request,)).fetchone()
            return None if row is None else EditResult(row[0], self.where, ())

        return self._use(lambda db: edit(db, request), landed=landed)

    def _audit_in(self, conn: psycopg.Connection, request: str, action: str, entry_id: str,
                  moderator_id: int | None, detail: str, *, before: str | None = None,
                  after: str | None = None) -> None:
        conn.execute("INSERT INTO edits (at, action, entry_id, moderator_id, detail, status, before, after, request)"
                     " VALUES (%s, %s, %s, %s, %s, 'done', %s, %s, %s)",
                     (stamp(utc_now()), action, entry_id, moderator_id, detail, before, after, request))

    # --- hearing of other processes' edits -------------------------------------------------------

    def listen(self, on_change: Callable[[], None]) -> None:
        """LISTEN on a thread of its own; on each other process's edit (and after a reconnect) call `on_change`."""
        if self._listener is None:
            self._listener = threading.Thread(target=self._listen, args=(on_change,), name="store listener",
                                              daemon=True)
            self._listener.start()

    def _listen(self, on_change: Callable[[], None]) -> None:
        delays, reconnecting = backoff.delays(*LISTEN_RETRY), False
        while not self._stop.is_set():
            try:
                with psycopg.connect(self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    if reconnecting:
                        log.info("listening for shared entry changes again")
                        on_change()  # reconcile: reload whatever changed while the listener was deaf
                    delays, reconnecting = backoff.delays(*LISTEN_RETRY), True
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=LISTEN_POLL):
                            if note.pid != self._own_pid():  # our own edits are reloaded by the editor
                                on_change()
            except psycopg.Error as exc:
                delay = next(delays)
                # One warning an outage, not one a second: later attempts are at DEBUG.
                log.log(logging.WARNING if delay == LISTEN_RETRY[0] else logging.DEBUG,
                        "store listener: %s; reconnecting every %.1f s at most", self._describe(exc), LISTEN_RETRY[1])
                reconnecting = True
                self._stop.wait(delay)
            except Exception:
                log.exception("store listener: on_change failed; still listening")

    def _own_pid(self) -> int | None:
        """The server process of our editing connection (its NOTIFYs are ours), if it is open."""
        try:
            return self._db.info.backend_pid
        except (psycopg.Error, AttributeError):  # closed, or not connected yet (the server was down at start)
            return None

    def close(self, timeout: float = CLOSE_FLUSH) -> None:
        self._stop.set()
        if self._listener is not None:
            self._listener.join(LISTEN_POLL + CONNECT_TIMEOUT)
        super().close(timeout)


def _questions(body: str) -> list[str] | None:
    """The question and phrasings of a stored entry (one YAML list item); None if it does not read back."""
    try:
        item = yaml.safe_load(body)[0]
        return [str(item["question"]), *(str(p) for p in item.get("phrasings") or [])]
    except (yaml.YAMLError, LookupError, TypeError, AttributeError):
        return None


class _Refused(Exception):
    """Roll the transaction back: the edit would leave the knowledge with problems."""

    def __init__(self, problems: tuple) -> None:
        super().__init__("refused")
        self.problems = problems
