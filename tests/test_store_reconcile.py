"""Audit rows an edit left pending: a process dies between the audit row and its completion, before or
after writing the knowledge file, and the next store to open (or the writer's timer) settles the row
against the files, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import logging
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from bot.knowledge.editor import DISCORD_FILE, NewEntry, entry_yaml
from bot.knowledge.loader import load_knowledge
from bot.store import SQLiteStore
from bot.store.base import Store
from bot.store.postgres import PostgresStore

KNOWLEDGE = Path(__file__).resolve().parent / "fixtures" / "knowledge"
ENTRY = NewEntry("Which vice-president shared Jivani's university room?", ("jivani vance room",),
                 "JD Vance, his close friend and former university roommate.", 2,
                 "former university roommate of U.S. Vice-President JD Vance")
WORDING = "what did trump want canadians told"
MODERATOR = 7

# One edit from Discord in a process that dies (os._exit, no cleanup) just before or just after the editor
# writes the knowledge file: the audit row was written pending and is never finished.
CRASH = """
import os, sys
from pathlib import Path
from bot.knowledge import editor
from bot.store.postgres import PostgresStore
from bot.store.sqlite import SQLiteStore
from tests.test_store_reconcile import edit
backend, where, knowledge, action, when = sys.argv[1:]
write = editor.write_atomic
def crash(path, text):
    if when == "after":
        write(path, text)
    os._exit(0)
editor.write_atomic = crash
store = (SQLiteStore if backend == "sqlite" else PostgresStore)(where, salt="s")
edit(store, Path(knowledge), action)
os._exit(3)  # the edit returned: the crash never happened
"""


def edit(store: Store, knowledge: Path, action: str) -> None:
    """The edit `action` as the kb cog makes it (restore: of an entry removed before)."""
    if action == "add":
        store.add_entry(knowledge, ENTRY, moderator_id=MODERATOR)
    elif action == "remove":
        store.remove_entry(knowledge, "trump-message", moderator_id=MODERATOR, detail="note",
                           before=_entry_text(knowledge, "trump-message"))
    elif action == "phrasing":
        store.add_phrasing(knowledge, "trump-message", WORDING, moderator_id=MODERATOR)
    else:
        removal = store.last_removal("who-jivani-met")
        assert removal is not None and removal.before is not None
        store.restore_entry(knowledge, "who-jivani-met", removal.before, moderator_id=MODERATOR)


def _entry_text(knowledge: Path, entry_id: str) -> str | None:
    kb = load_knowledge(knowledge).kb
    entry = kb.entry(entry_id) if kb else None
    return entry_yaml(entry) if entry else None


def _landed(knowledge: Path, action: str) -> bool:
    """Whether the file now holds the edit's change (read independently of the store's reconciliation)."""
    kb = load_knowledge(knowledge).kb
    assert kb is not None
    if action == "add":
        return any(e.question == ENTRY.question for e in kb.qa)
    if action == "remove":
        return kb.entry("trump-message") is None
    if action == "phrasing":
        return WORDING in kb.entry("trump-message").phrasings  # type: ignore[union-attr]
    return kb.entry("who-jivani-met") is not None


class Backend:
    """Where the store keeps its rows, opened as the bot does, and aged behind its back."""

    def __init__(self, name: str, where: str) -> None:
        self.name, self.where = name, where

    def open(self, knowledge: Path | None, **options: float) -> Store:
        kind = SQLiteStore if self.name == "sqlite" else PostgresStore
        return kind(self.where, salt="s", knowledge_dir=knowledge, **options)

    def age(self) -> None:
        """Every audit row written a day ago: past the time an edit in progress gets to finish."""
        query = "UPDATE edits SET at = '2000-01-01T00:00:00Z'"
        if self.name == "sqlite":
            with sqlite3.connect(self.where) as db:
                db.execute(query)
        else:
            with psycopg.connect(self.where, autocommit=True) as db:
                db.execute(query)


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "sqlite":
        return Backend("sqlite", str(tmp_path / "data" / "bot.sqlite3"))
    return Backend("postgres", request.getfixturevalue("pg_url"))


@pytest.fixture
def knowledge(tmp_path: Path) -> Path:
    directory = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE, directory)
    return directory


def crash(backend: Backend, knowledge: Path, action: str, when: str) -> None:
    done = subprocess.run([sys.executable, "-c", CRASH, backend.name, backend.where, str(knowledge), action, when],
                          cwd=Path(__file__).resolve().parent.parent, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def prepare(backend: Backend, knowledge: Path, action: str) -> None:
    """A restore needs a completed removal in the audit."""
    if action == "restore":
        store = backend.open(None)
        edit(store, knowledge, "remove")
        store.remove_entry(knowledge, "who-jivani-met", moderator_id=MODERATOR, detail="note",
                           before=_entry_text(knowledge, "who-jivani-met"))
        store.close()


def actions(backend: str) -> list[str]:
    """The edits whose audit row can be left pending: on PostgreSQL an add and a restore are one transaction
    with their row (in kb_entries), so only file edits (a removal, a phrasing) can be."""
    return ["add", "remove", "phrasing", "restore"] if backend == "sqlite" else ["remove", "phrasing"]


CASES = [(b, a, w) for b in ("sqlite", "postgres") for a in actions(b) for w in ("before", "after")]


@pytest.mark.parametrize(("backend", "action", "when"), CASES, indirect=["backend"])
def test_a_crashed_edit_is_settled_by_the_next_store_to_open(backend: Backend, knowledge: Path, action: str,
                                                             when: str, caplog: pytest.LogCaptureFixture):
    prepare(backend, knowledge, action)
    crash(backend, knowledge, action, when)
    assert _landed(knowledge, action) == (when == "after")
    store = backend.open(knowledge)
    (pending, *_) = store.edits()
    assert (pending.action, pending.status) == (action, "pending")  # too recent to judge: it may still finish
    store.close()

    backend.age()
    with caplog.at_level(logging.WARNING, logger="bot.store.audit"):
        store = backend.open(knowledge)
    (settled, *_) = store.edits()
    expected = "done" if when == "after" else "failed"
    assert settled.status == expected
    assert "audit row" in caplog.text and f"marked {expected}" in caplog.text
    assert store.reconcile() == 0  # settled once: nothing pending any more
    if action == "add" and when == "after":  # the row names the entry the add made, with its text
        kb = load_knowledge(knowledge).kb
        made = next(e for e in kb.qa if e.question == ENTRY.question)  # type: ignore[union-attr]
        assert (settled.entry_id, settled.after) == (made.id, entry_yaml(made))
        assert store.entry_edits(made.id) == [settled]  # /kb history of the new entry shows it
    elif action != "add":
        assert settled.entry_id == ("who-jivani-met" if action == "restore" else "trump-message")
    store.close()


def test_the_writers_timer_settles_rows_left_pending_while_the_store_is_open(backend: Backend, knowledge: Path):
    store = backend.open(knowledge, prune_every=0.2)
    crash(backend, knowledge, "phrasing", "after")
    backend.age()
    deadline = time.monotonic() + 10
    while store.edits()[0].status == "pending":
        assert time.monotonic() < deadline, "the pending row was never settled"
        time.sleep(0.05)
    assert store.edits()[0].status == "done"
    store.close()


@pytest.mark.parametrize("gone", ["story.yaml", "the directory"])
def test_a_row_stays_pending_while_the_knowledge_cannot_be_read(backend: Backend, knowledge: Path, gone: str):
    crash(backend, knowledge, "remove", "after")
    backend.age()
    if gone == "story.yaml":
        (knowledge / gone).unlink()  # no story: nothing loads, so nothing can be judged
    else:
        shutil.rmtree(knowledge)
    store = backend.open(knowledge)
    assert store.edits()[0].status == "pending"
    store.close()


def test_a_shared_add_that_dies_in_its_transaction_leaves_neither_entry_nor_row(pg_url: str, knowledge: Path):
    code = CRASH.replace("editor.write_atomic = crash",
                         "import bot.store.postgres as pg\npg.PostgresStore._audit_in = lambda *a, **k: os._exit(0)")
    done = subprocess.run([sys.executable, "-c", code, "postgres", pg_url, str(knowledge), "add", "after"],
                          cwd=Path(__file__).resolve().parent.parent, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    store = PostgresStore(pg_url, salt="s", knowledge_dir=knowledge)
    assert store.edits() == [] and store.extra_knowledge() == {}
    assert (knowledge / DISCORD_FILE).exists() is False
    store.close()
