from __future__ import annotations

import contextlib
import io
import itertools
import logging
import multiprocessing
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings
from bot.gaps import print_gaps
from bot.knowledge.editor import EditResult
from bot.knowledge.loader import Problem
from bot.store import SCHEMA_VERSION, StoreUnavailable
from bot.store import SQLiteStore as Store
from bot.store.base import MIGRATIONS
from bot.store.queue import Write, WriteQueue

USER = 412345678901234567  # a snowflake-sized id


@pytest.fixture
def store(tmp_path: Path):
    s = Store(tmp_path / "data" / "bot.sqlite3", salt="pepper")
    yield s
    s.close()


def ask(store: Store, question: str, *, answered: bool = False, source: str | None = None, user: int = USER) -> int:
    return store.record_question(question=question, answered=answered, source=source, confidence=0.5,
                                 guild_id=1, channel_id=2, user_id=user)


def test_creates_directories_wal_and_schema_version(tmp_path: Path):
    path = tmp_path / "nested" / "dir" / "bot.sqlite3"
    Store(path, salt="s").close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    db.close()


def test_reopening_keeps_data_and_refuses_a_newer_schema(tmp_path: Path):
    path = tmp_path / "bot.sqlite3"
    s = Store(path, salt="s")
    ask(s, "who is jivani")
    s.close()
    s = Store(path, salt="s")
    assert s.stats().questions == 1
    s.close()
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(StoreUnavailable, match="newer"):
        Store(path, salt="s")


def test_user_ids_are_only_kept_as_salted_hashes(tmp_path: Path):
    path = tmp_path / "bot.sqlite3"
    a = Store(path, salt="one")
    qid = ask(a, "who is jivani")
    a.record_feedback(qid, helpful=False, user_id=USER)
    a.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("bot.sqlite3"))
    assert str(USER).encode() not in raw
    assert USER.to_bytes(8, "big") not in raw
    db = sqlite3.connect(path)
    (h1,) = db.execute("SELECT user_hash FROM questions").fetchone()
    (h2,) = db.execute("SELECT user_hash FROM feedback").fetchone()
    db.close()
    assert h1 == h2 and len(h1) == 32
    # Another salt gives another hash: the hash alone does not identify the reader.
    b = Store(path, salt="two")
    ask(b, "who is jivani")
    b.close()
    db = sqlite3.connect(path)
    hashes = {row[0] for row in db.execute("SELECT user_hash FROM questions")}
    db.close()
    assert len(hashes) == 2


def test_without_a_salt_the_store_refuses_to_open_and_keeps_none_in_the_database(tmp_path: Path):
    path = tmp_path / "bot.sqlite3"
    with pytest.raises(ValueError, match="salt"):
        Store(path, salt="")
    assert not path.exists()  # nothing was created, so no salt could sit beside the hashes


def test_open_store_keys_the_hashes_with_the_salt_kept_beside_the_database(tmp_path: Path):
    from bot.store import open_store

    settings = Settings(database_path=tmp_path / "bot.sqlite3")
    for _ in range(2):
        s = open_store(settings)
        ask(s, "q")
        s.close()
    db = sqlite3.connect(settings.database_path)
    hashes = {row[0] for row in db.execute("SELECT user_hash FROM questions")}
    kept = db.execute("SELECT value FROM meta WHERE key = 'salt'").fetchall()
    db.close()
    assert len(hashes) == 1 and kept == []  # the same salt on every start, and not in the database
    keyed = Store(tmp_path / "other.sqlite3", salt=(tmp_path / "bot.salt").read_text().strip())
    assert hashes == {keyed._hash(USER)}  # …the one in the file
    keyed.close()


def test_a_second_vote_replaces_the_first(store: Store):
    qid = ask(store, "What did Trump say?", answered=True, source="qa:trump-message")
    store.record_feedback(qid, helpful=False, user_id=USER)
    store.record_feedback(qid, helpful=True, user_id=USER)
    assert store.missed_wordings() == []
    stats = store.stats()
    assert (stats.votes, stats.helpful) == (1, 1)


def test_a_vote_on_an_unknown_question_is_dropped(store: Store):
    store.record_feedback(12345, helpful=False, user_id=USER)
    assert store.stats().votes == 0


def test_stats(store: Store):
    assert store.stats().answered_share == 0.0 and store.stats().helpful_share == 0.0
    a = ask(store, "q1", answered=True, source="qa:a")
    ask(store, "q2", answered=True, source="qa:a")
    ask(store, "q3", answered=True, source="person:jivani")
    ask(store, "q4")
    store.record_feedback(a, helpful=True, user_id=1)
    store.record_feedback(a, helpful=False, user_id=2)
    s = store.stats()
    assert (s.questions, s.answered, s.votes, s.helpful) == (4, 3, 2, 1)
    assert s.answered_share == 0.75 and s.helpful_share == 0.5
    assert s.top_entries == (("qa:a", 2), ("person:jivani", 1))


def test_audit_log_records_who_when_what(store: Store):
    store.record_edit(action="add", entry_id="new-entry", moderator_id=99, detail="question: Who?")
    (edit,) = store.edits()
    assert (edit.action, edit.entry_id, edit.moderator_id, edit.detail) == ("add", "new-entry", 99, "question: Who?")
    assert edit.at.endswith("Z")


def _write_many(path: str, n: int) -> None:
    s = Store(Path(path), salt="s")
    for i in range(n):
        qid = s.record_question(question=f"q{i}", answered=False, source=None, confidence=0.0,
                                guild_id=None, channel_id=None, user_id=i)
        s.record_feedback(qid, helpful=False, user_id=i)
    s.close()


@pytest.mark.slow
def test_several_processes_write_at_once_and_every_row_lands(tmp_path: Path):
    path = tmp_path / "bot.sqlite3"
    Store(path, salt="s").close()
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_write_many, args=(str(path), 200)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    s = Store(path, salt="s")
    assert (s.stats().questions, s.stats().votes) == (800, 800)
    s.close()


def _open_fresh_files(directory: str, start: Any, files: int, failures: Any) -> None:
    start.wait()  # every process opens each new file at about the same moment as the others
    for i in range(files):
        try:
            Store(Path(directory) / f"fresh-{i}.sqlite3", salt="s").close()
        except StoreUnavailable as exc:
            failures.put(f"fresh-{i}: {exc}")


@pytest.mark.slow  # several processes
def test_processes_opening_fresh_databases_together_all_open_them(tmp_path: Path):
    """Turning a new file to WAL needs it to itself, and SQLite answers "locked" at once to one of two
    connections doing so together: the store must wait its turn, not give up (and then run without recording)."""
    ctx = multiprocessing.get_context("spawn")
    start, failures = ctx.Barrier(8), ctx.Queue()
    procs = [ctx.Process(target=_open_fresh_files, args=(str(tmp_path), start, 150, failures)) for _ in range(8)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0] * 8
    lost = []
    while not failures.empty():
        lost.append(failures.get())
    assert lost == []


# --- answer first, record after -------------------------------------------------------------


class DatabaseLock:
    """Another process holding a write transaction (BEGIN IMMEDIATE) on `path` until the block ends."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __enter__(self) -> DatabaseLock:
        code = ("import sqlite3, sys; db = sqlite3.connect(sys.argv[1], isolation_level=None); "
                "db.execute('BEGIN IMMEDIATE'); print('locked', flush=True); sys.stdin.readline(); "
                "db.execute('COMMIT')")
        self.proc = subprocess.Popen([sys.executable, "-c", code, str(self.path)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None and self.proc.stdout.readline().strip() == "locked"
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("\n")
        self.proc.stdin.close()
        assert self.proc.wait(10) == 0


def test_recording_returns_at_once_while_another_process_holds_the_write_lock(tmp_path: Path):
    path = tmp_path / "bot.sqlite3"
    s = Store(path, salt="s", busy_timeout=0.2)
    with DatabaseLock(path):
        started = time.monotonic()
        refs = [ask(s, f"question {i}") for i in range(50)]
        s.record_feedback(refs[0], helpful=False, user_id=USER)
        assert time.monotonic() - started < 0.5  # nothing waited for the database
        assert not s.flush(0.5) and s.queue.failures >= 1  # the writes are waiting, retried
    assert s.flush(10)
    stats = s.stats()
    assert (stats.questions, stats.votes) == (50, 1)
    assert len(set(refs)) == 50
    s.close()


def test_a_full_database_loses_no_question_once_it_has_room_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = tmp_path / "bot.sqlite3"
    Store(path, salt="s").close()
    full = True
    real_connect = sqlite3.connect

    def connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        db = real_connect(*args, **kwargs)
        if full:  # SQLITE_FULL as soon as a write needs one more page: a full disk, as SQLite sees it
            db.execute(f"PRAGMA max_page_count = {db.execute('PRAGMA page_count').fetchone()[0]}")
        return db

    monkeypatch.setattr(sqlite3, "connect", connect)
    s = Store(path, salt="s")
    for i in range(200):
        ask(s, f"a question long enough to fill pages quickly, number {i}")
    assert not s.flush(1.0)
    full = False  # room again: the writer reconnects and retries
    assert s.flush(10)
    assert s.stats().questions == 200
    s.close()


def test_a_full_queue_drops_the_oldest_and_counts(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    started, blocked = threading.Event(), threading.Event()
    written: list[int] = []

    def write(n: int) -> Write:
        def run(_conn: object) -> None:
            started.set()
            blocked.wait(5)
            written.append(n)
        return Write(f"record {n}", run)

    queue = WriteQueue(connect=object, transaction=lambda _c: contextlib.nullcontext(), transient=(), max_waiting=3)
    queue.put(write(0))
    assert started.wait(5)  # the writer is stuck on the first record, as on a locked database
    with caplog.at_level(logging.WARNING):
        for n in range(1, 11):
            queue.put(write(n))
    assert queue.waiting == 4  # three waiting and one being written: memory stays bounded
    blocked.set()
    assert queue.flush(5)
    assert written == [0, 8, 9, 10] and queue.dropped == 7
    assert "dropped the oldest record; 1 dropped so far" in caplog.text  # counted, at most one line a second
    queue.close(1)


def test_a_failing_write_is_retried_with_backoff_and_a_hopeless_one_dropped(caplog: pytest.LogCaptureFixture):
    attempts: list[float] = []
    done: list[str] = []

    def flaky(_conn: object) -> None:
        attempts.append(time.monotonic())
        if len(attempts) < 4:
            raise sqlite3.OperationalError("database is locked")
        done.append("flaky")

    def hopeless(_conn: object) -> None:
        raise sqlite3.IntegrityError("CHECK constraint failed")

    queue = WriteQueue(connect=object, transaction=lambda _c: contextlib.nullcontext(),
                       transient=(sqlite3.OperationalError,))
    with caplog.at_level(logging.WARNING):
        queue.put(Write("a question", flaky))
        queue.put(Write("a vote", hopeless))
        queue.put(Write("another", lambda _c: done.append("after")))
        assert queue.flush(5)
    assert done == ["flaky", "after"] and queue.dropped == 1
    gaps = [b - a for a, b in itertools.pairwise(attempts)]
    assert gaps[1] > gaps[0] * 1.5 and gaps[2] > gaps[1] * 1.5  # backoff grows
    lines = [r.getMessage() for r in caplog.records]
    assert sum("retrying" in line for line in lines) == 3 and all("\n" not in line for line in lines)
    assert any("dropped a vote" in line for line in lines)
    queue.close(1)


def test_prune_keeps_recent_questions_and_a_row_cap(tmp_path: Path):
    s = Store(tmp_path / "bot.sqlite3", salt="s", keep_days=30, max_rows=5)
    old = ask(s, "an old question")
    s.record_feedback(old, helpful=False, user_id=USER)
    assert s.flush(5)
    db = sqlite3.connect(tmp_path / "bot.sqlite3")
    db.execute("UPDATE questions SET asked_at = '2020-01-01T00:00:00Z'")
    db.commit()
    db.close()
    for i in range(8):
        ask(s, f"recent {i}")
    assert s.flush(5)
    assert s.prune() == 1 + 3  # the old one, then all but the newest 5
    stats = s.stats()
    assert (stats.questions, stats.votes) == (5, 0)  # its vote went with it
    s.close()
    db = sqlite3.connect(tmp_path / "bot.sqlite3")
    assert {q for (q,) in db.execute("SELECT question FROM questions")} == {f"recent {i}" for i in range(3, 8)}
    db.close()


def test_pruning_runs_on_a_timer_in_the_writer(tmp_path: Path):
    s = Store(tmp_path / "bot.sqlite3", salt="s", keep_days=1, prune_every=0.2)
    ask(s, "old")
    assert s.flush(5)
    db = sqlite3.connect(tmp_path / "bot.sqlite3")
    db.execute("UPDATE questions SET asked_at = '2020-01-01T00:00:00Z'")
    db.commit()
    db.close()
    deadline = time.monotonic() + 5
    while s.stats().questions and time.monotonic() < deadline:
        time.sleep(0.05)
    assert s.stats().questions == 0
    s.close()


def test_an_old_database_is_migrated_and_its_vote_buttons_still_count(tmp_path: Path):
    path = tmp_path / "bot.sqlite3"
    db = sqlite3.connect(path)
    for sql in MIGRATIONS["sqlite"][0]:
        db.execute(sql)
    db.execute("INSERT INTO questions (question, question_key, answered, confidence) VALUES ('q', 'q', 1, 1.0)")
    db.execute("PRAGMA user_version = 1")
    db.commit()
    db.close()
    s = Store(path, salt="s")
    s.record_feedback(1, helpful=True, user_id=USER)  # a button posted before the upgrade carries the row id
    assert s.stats().votes == 1
    s.close()


# --- an edit and its audit row land together --------------------------------------------------


def _result(ok: bool = True) -> EditResult:
    return EditResult("entry-id", "qa.yaml", () if ok else (Problem("qa.yaml", 1, "bad"),))


def test_an_audited_edit_is_refused_with_nothing_changed_when_the_audit_cannot_be_written(tmp_path: Path):
    path = tmp_path / "bot.sqlite3"
    s = Store(path, salt="s", busy_timeout=0.2)
    changed: list[str] = []
    with DatabaseLock(path), pytest.raises(StoreUnavailable, match="locked"):
        s.audited(action="remove", entry_id="x", moderator_id=7, detail="the removed text",
                  change=lambda: changed.append("file written") or _result())
    assert changed == [] and s.edits() == []
    s.close()


def test_an_audited_edit_keeps_its_text_while_pending_and_is_marked_done_when_the_database_is_back(tmp_path: Path):
    path = tmp_path / "bot.sqlite3"
    s = Store(path, salt="s", busy_timeout=0.2)
    lock = DatabaseLock(path)

    def change() -> EditResult:
        lock.__enter__()  # the database becomes busy between the audit row and its completion
        return _result()

    s.audited(action="remove", entry_id="x", moderator_id=7, detail="the removed text", change=change)
    db = sqlite3.connect(path)
    assert db.execute("SELECT detail, status FROM edits").fetchall() == [("the removed text", "pending")]
    lock.__exit__()
    assert s.flush(10)
    (edit,) = s.edits()
    assert (edit.detail, edit.status, edit.entry_id) == ("the removed text", "done", "entry-id")
    db.close()
    s.close()


def test_a_refused_edit_leaves_no_audit_row_and_a_crashed_one_is_marked_failed(tmp_path: Path):
    s = Store(tmp_path / "bot.sqlite3", salt="s")
    s.audited(action="add", entry_id="", moderator_id=7, detail="d", change=lambda: _result(ok=False))
    assert s.edits() == []

    def crash() -> EditResult:
        raise OSError("disk gone")

    with pytest.raises(OSError):
        s.audited(action="add", entry_id="", moderator_id=7, detail="kept", change=crash)
    (edit,) = s.edits()
    assert (edit.status, edit.detail) == ("failed", "kept")
    s.close()


def test_print_gaps_on_a_corrupt_database_is_one_line_and_a_failure(tmp_path: Path):
    path = tmp_path / "bot.sqlite3"
    path.write_bytes(b"not a database " * 100)
    out = io.StringIO()
    assert print_gaps(Settings(database_path=path), out) == 1
    assert out.getvalue().startswith("The database cannot be read: ") and out.getvalue().count("\n") == 1


def stories_are_kept_apart(store: Store) -> None:
    """The contract both backends keep for many stories (tests/test_store_postgres.py runs it on PostgreSQL)."""
    for story in ("main", "harbour"):
        store.record_question(question=f"what about {story}?", answered=False, source=None, confidence=0.1,
                              guild_id=1, channel_id=2, user_id=USER, story=story)
    store.record_question(question="who?", answered=True, source="qa:who", confidence=0.9, guild_id=1,
                          channel_id=2, user_id=USER)
    assert [w.text for w in store.missed_wordings(story="harbour")] == ["what about harbour?"]
    assert [w.text for w in store.missed_wordings()] == ["what about main?"]  # the knowledge folder's story
    assert (store.stats().questions, store.stats("harbour").questions, store.stats("harbour").answered) == (2, 1, 0)
    store.set_place_story(1, None, "harbour", moderator_id=9)
    store.set_place_story(1, 5, "main", moderator_id=9)
    store.set_place_story(1, 5, "other", moderator_id=9)  # set again: replaced
    assert store.place_stories() == {(1, 0): "harbour", (1, 5): "other"}
    assert next((e.action, e.entry_id, e.moderator_id) for e in store.edits()) == ("story", "other", 9)  # newest
    assert store.reader_story(USER) is None
    store.set_reader_story(USER, "harbour")
    store.set_reader_story(USER, "other")
    assert store.reader_story(USER) == "other" and store.reader_story(USER + 1) is None


def test_stories_are_kept_apart(store: Store) -> None:
    stories_are_kept_apart(store)
