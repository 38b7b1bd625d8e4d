from __future__ import annotations

import multiprocessing
import sqlite3
from pathlib import Path

import pytest

from bot.store import SCHEMA_VERSION, Store

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
    with pytest.raises(RuntimeError, match="newer"):
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


def test_without_a_configured_salt_a_random_one_is_kept_per_database(tmp_path: Path):
    path = tmp_path / "bot.sqlite3"
    for _ in range(2):
        s = Store(path, salt="")
        ask(s, "q")
        s.close()
    db = sqlite3.connect(path)
    hashes = {row[0] for row in db.execute("SELECT user_hash FROM questions")}
    (salt,) = db.execute("SELECT value FROM meta WHERE key = 'salt'").fetchone()
    db.close()
    assert len(hashes) == 1 and len(salt) == 32


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
