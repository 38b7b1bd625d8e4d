"""The PostgreSQL store against a real server that the tests start (tests/pgserver.py).

Skipped only where PostgreSQL is not installed (or cannot be run); CI sets STORY_BOT_REQUIRE_PG=1,
which turns that skip into a failure, so these tests run in CI.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import multiprocessing
import os
import shutil
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from bot.config import Settings
from bot.gaps import group
from bot.knowledge.editor import DISCORD_FILE, NewEntry
from bot.store import SCHEMA_VERSION, StoreUnavailable
from bot.store.postgres import SHARED_FILE, PostgresStore
from bot.watch import KnowledgeReloader
from tests.discord.conftest import TOKEN, Harness, guild_create, in_process, slash, start_bot
from tests.discord.test_kb import GOOD, GUILD_ID, interact, kb, open_form, submit
from tests.e2e.harness import settings_for, spawn_bot
from tests.pgserver import PostgresServer
from tests.standin import Discord
from tests.test_store import stories_are_kept_apart

KNOWLEDGE = Path(__file__).resolve().parent / "fixtures" / "knowledge"
USER = 412345678901234567
ROOMMATE = NewEntry("Which vice-president shared Jivani's university room?",
                    ("who did jivani bunk with at school",),
                    "JD Vance, his close friend and former university roommate.", 2,
                    "former university roommate of U.S. Vice-President JD Vance")


@pytest.fixture
def knowledge(tmp_path: Path) -> Path:
    directory = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE, directory)
    return directory


def ask(store: PostgresStore, question: str, *, answered: bool = False, user: int = USER) -> int:
    return store.record_question(question=question, answered=answered, source="qa:x" if answered else None,
                                 confidence=0.5, guild_id=1, channel_id=2, user_id=user)


def test_records_questions_votes_and_edits_with_the_same_schema(pg_url: str):
    store = PostgresStore(pg_url, salt="pepper")
    for q in ["Who is Jivani's wife?", "who is jivanis wife", "How old is Trump?"]:
        ask(store, q)
    ref = ask(store, "What did Trump say?", answered=True)
    store.record_feedback(ref, helpful=False, user_id=USER)
    store.record_feedback(ref, helpful=True, user_id=USER)  # a second vote replaces the first
    store.record_feedback(12345, helpful=False, user_id=USER)  # no such question: dropped
    store.record_edit(action="reload", entry_id="-", moderator_id=99, detail="2 entries")
    stats = store.stats()
    assert (stats.questions, stats.answered, stats.votes, stats.helpful) == (4, 1, 1, 1)
    assert [g.count for g in group(store.missed_wordings())] == [2, 1]
    (edit,) = store.edits()
    assert (edit.action, edit.moderator_id, edit.status) == ("reload", 99, "done") and edit.at.endswith("Z")
    store.close()
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
        hashes = {h for (h,) in conn.execute("SELECT user_hash FROM questions")}
        assert len(hashes) == 1 and str(USER) not in next(iter(hashes))
    again = PostgresStore(pg_url, salt="pepper")  # reopening migrates nothing and keeps everything
    assert again.stats().questions == 4
    again.close()


def test_stories_are_kept_apart_on_postgresql(pg_url: str):
    store = PostgresStore(pg_url, salt="pepper")
    try:
        stories_are_kept_apart(store)
    finally:
        store.close()


def test_a_newer_schema_is_refused(pg_url: str):
    PostgresStore(pg_url, salt="s").close()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("UPDATE schema_version SET version = %s", (SCHEMA_VERSION + 1,))
    with pytest.raises(StoreUnavailable, match="newer"):
        PostgresStore(pg_url, salt="s")


def test_an_unreachable_server_is_one_line_without_the_password(pg_server: PostgresServer):
    url = f"postgresql://postgres:s3cret@/nowhere?host={pg_server.root}"
    with pytest.raises(StoreUnavailable) as caught:
        PostgresStore(url, salt="s")
    assert "\n" not in str(caught.value) and "s3cret" not in str(caught.value)


def test_prune_on_postgres(pg_url: str):
    store = PostgresStore(pg_url, salt="s", keep_days=30, max_rows=3)
    ref = ask(store, "old")
    store.record_feedback(ref, helpful=False, user_id=1)
    assert store.flush(5)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("UPDATE questions SET asked_at = '2020-01-01T00:00:00Z'")
    for i in range(5):
        ask(store, f"new {i}")
    assert store.flush(5)
    assert store.prune() == 1 + 2
    assert (store.stats().questions, store.stats().votes) == (3, 0)
    store.close()


def test_writes_survive_a_dropped_connection(pg_url: str):
    store = PostgresStore(pg_url, salt="s")
    ask(store, "before")
    assert store.flush(5)
    with psycopg.connect(pg_url, autocommit=True) as conn:  # the server drops every other session
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                     " WHERE datname = current_database() AND pid <> pg_backend_pid()")
    ask(store, "after")
    assert store.flush(10)
    assert store.stats().questions == 2  # the reading connection came back too
    store.close()


def _record_many(url: str, n: int) -> None:
    store = PostgresStore(url, salt="s")
    for i in range(n):
        ref = ask(store, f"q{i}", user=i)
        store.record_feedback(ref, helpful=False, user_id=i)
    store.close()


@pytest.mark.slow
def test_several_processes_record_at_once_and_every_row_lands(pg_url: str):
    PostgresStore(pg_url, salt="s").close()
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_record_many, args=(pg_url, 100)) for _ in range(2)]  # 8 x 200: benchmarks/
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    store = PostgresStore(pg_url, salt="s")
    assert (store.stats().questions, store.stats().votes) == (200, 200)
    store.close()


# --- entries shared between processes ---------------------------------------------------------


def test_an_entry_added_through_one_store_is_heard_and_loaded_by_another(pg_url: str, knowledge: Path):
    mine, theirs = PostgresStore(pg_url, salt="s"), PostgresStore(pg_url, salt="s")
    heard = threading.Event()
    theirs.listen(heard.set)
    time.sleep(0.3)  # the listener is connected
    result = mine.add_entry(knowledge, ROOMMATE, moderator_id=7)
    assert result.ok and result.path == "the shared database"
    assert not (knowledge / DISCORD_FILE).exists()  # in the database, not in this deployment's files
    assert heard.wait(5)

    engines = []
    reloader = KnowledgeReloader(knowledge, engines.append, theirs.extra_knowledge)
    engine, problems = reloader.load()
    assert engine is not None and not problems
    answer = engine.ask("who did jivani bunk with at school")
    assert answer.answered and answer.source == f"qa:{result.entry_id}"
    (edit,) = theirs.edits()
    assert (edit.action, edit.entry_id, edit.moderator_id, edit.status) == ("add", result.entry_id, 7, "done")
    mine.close()
    theirs.close()


def test_each_story_keeps_its_own_shared_entries(pg_url: str, knowledge: Path, tmp_path: Path):
    """The same entry added in two stories' places: each story loads its own, under the same id, and a removal
    in one leaves the other's."""
    other = tmp_path / "other"
    shutil.copytree(knowledge, other)
    store = PostgresStore(pg_url, salt="s")
    here = store.add_entry(knowledge, ROOMMATE, moderator_id=7)
    there = store.add_entry(other, ROOMMATE, moderator_id=7, story="other")
    assert here.ok and there.ok and here.entry_id == there.entry_id  # ids are unique within a story
    assert ROOMMATE.question in store.extra_knowledge()[SHARED_FILE]
    assert ROOMMATE.question in store.extra_knowledge("other")[SHARED_FILE]
    assert store.extra_knowledge("third") == {}
    assert store.remove_entry(other, there.entry_id, moderator_id=8, detail="", story="other").ok
    assert store.extra_knowledge("other") == {} and ROOMMATE.question in store.extra_knowledge()[SHARED_FILE]
    store.close()


def test_a_refused_entry_writes_nothing(pg_url: str, knowledge: Path):
    store = PostgresStore(pg_url, salt="s")
    bad = NewEntry("What did Jivani eat?", (), "Pizza.", 2, "he ate a pizza")
    result = store.add_entry(knowledge, bad, moderator_id=7)
    assert not result.ok and "quote is not in paragraph 2" in str(result.problems[0])
    assert store.extra_knowledge() == {} and store.edits() == []
    store.close()


def test_removing_a_shared_entry_keeps_its_text_in_the_audit_and_a_file_entry_stays_per_deployment(
        pg_url: str, knowledge: Path):
    store = PostgresStore(pg_url, salt="s")
    added = store.add_entry(knowledge, ROOMMATE, moderator_id=7)
    removed = store.remove_entry(knowledge, added.entry_id, moderator_id=8, detail="summary")
    assert removed.ok and store.extra_knowledge() == {}
    edit = store.edits()[0]
    assert (edit.action, edit.moderator_id) == ("remove", 8)
    assert "former university roommate of U.S. Vice-President JD Vance" in edit.detail  # the YAML, to add it again

    before = (knowledge / "qa.yaml").read_text(encoding="utf-8")
    assert "trump-message" in before
    result = store.remove_entry(knowledge, "trump-message", moderator_id=8, detail="Tell the Canadians I love them")
    assert result.ok and "trump-message" not in (knowledge / "qa.yaml").read_text(encoding="utf-8")
    assert (store.edits()[0].entry_id, store.edits()[0].status) == ("trump-message", "done")
    store.close()


def test_gaps_picks_closing_and_the_audit_before_and_after_on_postgresql(pg_url: str, knowledge: Path):
    store = PostgresStore(pg_url, salt="s")
    ask(store, "How old is Trump?")
    ref = ask(store, "What did Trump say?", answered=True)
    store.record_feedback(ref, helpful=False, user_id=1)
    offered = ask(store, "trump said what", answered=True)
    store.record_pick(offered, title="What did Trump tell Canadians?", source="qa:trump-message", user_id=USER)
    store.record_pick(offered, title="What did Trump tell Canadians?", source="qa:trump-message", user_id=USER)
    missed = {w.text: w for w in store.missed_wordings()}
    assert set(missed) == {"How old is Trump?", "What did Trump say?", "trump said what"}
    assert (missed["What did Trump say?"].unhelpful, missed["What did Trump say?"].sources) == (1, ("qa:x",))
    assert (missed["trump said what"].picked, missed["trump said what"].chosen) == (1, ("qa:trump-message",))
    store.close_gaps([missed["How old is Trump?"].key, missed["How old is Trump?"].key], how="reasked")
    assert "How old is Trump?" not in {w.text for w in store.missed_wordings()}
    assert store.gaps_closed_since("2000-01-01T00:00:00Z") == 1

    added = store.add_entry(knowledge, ROOMMATE, moderator_id=7)
    assert added.ok and ROOMMATE.quote in (store.entry_edits(added.entry_id)[0].after or "")
    removed = store.remove_entry(knowledge, added.entry_id, moderator_id=8, detail="summary")
    assert removed.ok and store.removed_entry_ids() == [added.entry_id]
    removal = store.last_removal(added.entry_id)
    assert removal is not None and ROOMMATE.quote in (removal.before or "")
    restored = store.restore_entry(knowledge, added.entry_id, removal.before or "", moderator_id=9)
    assert restored.ok and added.entry_id in "".join(store.extra_knowledge().values())
    assert store.removed_entry_ids() == []
    assert [e.action for e in store.entry_edits(added.entry_id)] == ["restore", "remove", "add"]
    again = store.restore_entry(knowledge, added.entry_id, removal.before or "", moderator_id=9)
    assert not again.ok and "exists already" in str(again.problems[0])
    store.close()


def test_a_gap_becomes_a_phrasing_of_a_shared_entry_with_its_audit_heard_by_another_process(
        pg_url: str, knowledge: Path):
    mine, theirs = PostgresStore(pg_url, salt="s"), PostgresStore(pg_url, salt="s")
    added = mine.add_entry(knowledge, ROOMMATE, moderator_id=7)
    heard = threading.Event()
    theirs.listen(heard.set)
    time.sleep(0.3)  # the listener is connected
    wording = "jivani's  old roomie in the white house"
    files = {f.name: f.read_text(encoding="utf-8") for f in knowledge.iterdir()}

    result = mine.add_phrasing(knowledge, added.entry_id, wording, moderator_id=8)
    assert (result.ok, result.entry_id, result.path) == (True, added.entry_id, "the shared database")
    assert heard.wait(5)
    assert {f.name: f.read_text(encoding="utf-8") for f in knowledge.iterdir()} == files  # only the database
    engine, problems = KnowledgeReloader(knowledge, lambda _: None, theirs.extra_knowledge).load()
    assert engine is not None and not problems
    entry = engine.kb.entry(added.entry_id)
    assert entry is not None and entry.phrasings == (*ROOMMATE.phrasings, "jivani's old roomie in the white house")
    assert engine.ask("jivani's old roomie in the white house").source == f"qa:{added.entry_id}"
    edit = theirs.entry_edits(added.entry_id)[0]  # what /kb history shows
    assert (edit.action, edit.moderator_id, edit.status, edit.detail) == (
        "phrasing", 8, "done", "+ jivani's old roomie in the white house")
    assert "roomie" not in (edit.before or "x") and "- jivani's old roomie in the white house\n" in (edit.after or "")

    taken = mine.add_phrasing(knowledge, added.entry_id, "trump message to canadians", moderator_id=8)
    assert not taken.ok and "'trump message to canadians' is under both" in str(taken.problems[0])
    assert "kb-check" not in str(taken.problems[0])  # the real file's name, not the temporary copy's
    again = mine.add_phrasing(knowledge, added.entry_id, "Jivani's old roomie in the White House?", moderator_id=8)
    assert not again.ok and "is already a phrasing" in str(again.problems[0])
    assert [e.action for e in theirs.entry_edits(added.entry_id)] == ["phrasing", "add"]  # nothing for the refused
    assert "".join(mine.extra_knowledge().values()).count("roomie") == 1
    mine.close()
    theirs.close()


def _add_many(url: str, knowledge: str, worker: int, n: int) -> None:
    store = PostgresStore(url, salt="s")
    for i in range(n):
        entry = NewEntry(f"Question number {i} from worker {worker} about the trip?", (), "An answer.", 2,
                         "former university roommate of U.S. Vice-President JD Vance")
        assert store.add_entry(Path(knowledge), entry, moderator_id=worker).ok
    store.close()


@pytest.mark.slow
def test_concurrent_adds_from_two_processes_are_serialised_by_the_database(pg_url: str, knowledge: Path):
    PostgresStore(pg_url, salt="s").close()
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_add_many, args=(pg_url, str(knowledge), w, 5)) for w in (1, 2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    with psycopg.connect(pg_url) as conn:
        ids = [i for (i,) in conn.execute("SELECT id FROM kb_entries")]
        audited = [i for (i,) in conn.execute("SELECT entry_id FROM edits WHERE action = 'add'")]
    assert len(ids) == len(set(ids)) == 10 and sorted(audited) == sorted(ids)
    store = PostgresStore(pg_url, salt="s")
    engine, problems = KnowledgeReloader(knowledge, lambda e: None, store.extra_knowledge).load()
    assert engine is not None and not problems and len(engine.kb.qa) == 2 + 10
    assert SHARED_FILE in store.extra_knowledge()
    store.close()


@pytest.mark.slow  # the server drops the connection: seconds of waiting
def test_the_listener_comes_back_after_the_server_drops_it(pg_url: str):
    store, other = PostgresStore(pg_url, salt="s"), PostgresStore(pg_url, salt="s")
    calls: list[float] = []
    store.listen(lambda: calls.append(time.monotonic()))
    time.sleep(0.3)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN%%'"
                     " AND datname = current_database()")
    for _ in range(100):  # reconnecting, it reloads once in case it missed an edit
        if calls:
            break
        time.sleep(0.05)
    assert calls
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("NOTIFY story_bot_kb")
    deadline = time.monotonic() + 5
    while len(calls) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(calls) >= 2
    store.close()
    other.close()


@pytest.mark.slow  # a server restart: 15 s
def test_after_a_server_restart_the_listener_hears_an_edit_made_while_it_was_deaf_within_seconds(
        knowledge: Path):
    """A listener that backed off for long while the server was down stays deaf long after it is back."""
    server = PostgresServer().start()  # its own server: this test stops it
    try:
        url = server.database("restarts")
        store = PostgresStore(url, salt="s", knowledge_dir=knowledge)
        heard = threading.Event()
        store.listen(heard.set)
        time.sleep(0.3)  # the listener is connected
        server.pause()
        time.sleep(14)  # an outage long enough for a doubling backoff to reach several seconds
        server.resume()
        other = PostgresStore(url, salt="s", knowledge_dir=knowledge)
        assert other.add_entry(knowledge, ROOMMATE, moderator_id=1).ok  # made before the listener is back
        assert heard.wait(2.5), "the listener was still deaf 2.5 s after the server came back"
        assert SHARED_FILE in store.extra_knowledge()  # what it reloads has the entry
        other.close()
        store.close()
    finally:
        server.stop()


@pytest.mark.slow  # a server of its own, started late
def test_a_server_down_at_start_queues_questions_and_votes_and_is_heard_once_it_is_back(knowledge: Path):
    """As when it goes down mid-run: nothing a reader did meanwhile is lost, and the shared entries load."""
    server = PostgresServer().start()
    try:
        url = server.database("late")
        PostgresStore(url, salt="s", knowledge_dir=knowledge).close()  # a deployment that has run before
        elsewhere = PostgresStore(url, salt="s", knowledge_dir=knowledge)
        assert elsewhere.add_entry(knowledge, ROOMMATE, moderator_id=1).ok  # an entry kept only in the database
        elsewhere.close()
        server.pause()
        store = PostgresStore(url, salt="s", knowledge_dir=knowledge)  # opens all the same
        heard = threading.Event()
        store.listen(heard.set)
        for i in range(30):
            store.record_feedback(ask(store, f"question {i}", user=i), helpful=True, user_id=i)
        with pytest.raises(StoreUnavailable):
            store.stats()  # a moderator's read says the database is away
        server.resume()
        assert heard.wait(10), "the listener did not hear the server come back"
        assert SHARED_FILE in store.extra_knowledge()  # what the bot reloads then has the entry
        assert store.flush(15)
        assert (store.stats().questions, store.stats().votes) == (30, 30)
        store.close()
    finally:
        server.stop()


class LostCommitReply(PostgresStore):
    """The server commits an edit, and the reply is lost: the connection breaks just after COMMIT."""

    lose = 0  # how many of the next edits on the shared connection lose their reply

    @contextlib.contextmanager
    def _transaction(self, conn: psycopg.Connection) -> Iterator[None]:
        with conn.transaction():
            yield
        if self.lose and conn is self._db:
            self.lose -= 1
            conn.close()
            raise psycopg.OperationalError("consuming input failed: server closed the connection unexpectedly")


def test_an_edit_whose_commit_reply_is_lost_is_reported_done_once(pg_url: str, knowledge: Path):
    store = LostCommitReply(pg_url, salt="s")
    store.lose = 1
    added = store.add_entry(knowledge, ROOMMATE, moderator_id=7)
    assert added.ok and added.entry_id
    store.lose = 1
    phrased = store.add_phrasing(knowledge, added.entry_id, "jivani's old roomie", moderator_id=7)
    assert (phrased.ok, phrased.entry_id) == (True, added.entry_id), phrased.problems  # not "already a phrasing"
    store.lose = 1
    removed = store.remove_entry(knowledge, added.entry_id, moderator_id=7, detail="summary")
    assert (removed.ok, removed.entry_id) == (True, added.entry_id), removed.problems  # not "no Q&A entry with id"
    assert [(e.action, e.entry_id) for e in reversed(store.edits())] == [
        ("add", added.entry_id), ("phrasing", added.entry_id), ("remove", added.entry_id)]  # each once
    assert store.extra_knowledge() == {}
    store.close()


# --- two bots on one database, through Discord ------------------------------------------------------


async def test_a_kb_add_through_one_bot_is_answered_by_another_within_seconds(pg_url: str, knowledge: Path,
                                                                              tmp_path: Path,
                                                                              monkeypatch: pytest.MonkeyPatch):
    fake = in_process(monkeypatch)
    elsewhere = tmp_path / "other-machine" / "knowledge"  # the other bot's own copy of the files
    shutil.copytree(knowledge, elsewhere)
    one = Settings(token=TOKEN, dev_guild_id=GUILD_ID, knowledge_dir=knowledge, cooldown_rate=100,
                   database_path=tmp_path / "one" / "bot.sqlite3", database_url=pg_url)
    bots = [await start_bot(one, fake),
            await start_bot(dataclasses.replace(one, knowledge_dir=elsewhere, shard_count=2, shard_ids=(1,),
                                                database_path=tmp_path / "two" / "bot.sqlite3"), fake)]
    first, second = (Harness(bot, fake) for bot in bots)
    for h in (first, second):
        await h.event("GUILD_CREATE", guild_create())
    question = "who did jivani bunk with at school"
    assert not second.bot.engine.ask(question).answered

    form = await open_form(first, kb("add"))
    call = await interact(first, submit(form, GOOD))
    assert call.content.startswith("Added `which-vice-president") and "the shared database" in call.content
    assert not (knowledge / DISCORD_FILE).exists()
    started = time.monotonic()
    while not second.bot.engine.ask(question).answered and time.monotonic() - started < 5:
        await asyncio.sleep(0.05)
    assert second.bot.engine.ask(question).answered  # heard through NOTIFY, loaded with its own files

    for h in (first, second):  # both record into the same tables
        await h.interact(slash("ask", question="Who is Jamil Jivani?"))
    for bot in bots:
        await bot.close()
    store = PostgresStore(pg_url, salt="s")
    assert store.stats().questions == 2
    assert [e.action for e in store.edits()] == ["add"]
    store.close()


def _add_and_hang(url: str, knowledge: str, ready: Any) -> None:
    """Add an entry, but stop for good inside the transaction: after the insert, before the commit."""
    from bot.store import postgres

    store = PostgresStore(url, salt="s")
    real = postgres.PostgresStore._audit_in

    def audit_then_hang(self: PostgresStore, *args: Any, **kwargs: Any) -> None:
        real(self, *args, **kwargs)
        ready.set()
        time.sleep(600)

    postgres.PostgresStore._audit_in = audit_then_hang  # type: ignore[method-assign]
    store.add_entry(Path(knowledge), ROOMMATE, moderator_id=7)


@pytest.mark.slow
def test_a_process_killed_mid_edit_leaves_no_half_written_entry_and_no_lock(pg_url: str, knowledge: Path):
    PostgresStore(pg_url, salt="s").close()
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Event()
    proc = ctx.Process(target=_add_and_hang, args=(pg_url, str(knowledge), ready))
    proc.start()
    assert ready.wait(60)  # the entry and its audit row are written, not committed, the edit lock held
    os.kill(proc.pid, signal.SIGKILL)
    proc.join(10)
    store = PostgresStore(pg_url, salt="s")
    assert store.extra_knowledge() == {} and store.edits() == []
    result = store.add_entry(knowledge, ROOMMATE, moderator_id=8)  # the lock went with the process
    assert result.ok and [e.moderator_id for e in store.edits()] == [8]
    store.close()


# --- end to end: two `python -m bot run` processes on one PostgreSQL, against the stand-in ------------------


@pytest.mark.slow
async def test_two_bot_processes_on_one_postgresql_share_edits_and_questions(pg_url: str, tmp_path: Path):
    """Shard 1 (the guild's) takes a /kb add; shard 0 (direct messages) answers it from the database."""
    async with Discord(shard_count=2) as standin:
        guild_shard = (standin.world.guild_id >> 22) % 2
        procs = []
        for shard in (guild_shard, 1 - guild_shard):
            workdir = tmp_path / f"shard-{shard}"  # each process has its own copy of the files, as on two machines
            workdir.mkdir()
            settings = settings_for(standin, workdir, database_url=pg_url, shard_count=2, shard_ids=(shard,))
            with (workdir / "bot.log").open("wb") as log:  # the child keeps its own handle
                procs.append(await spawn_bot(standin, settings, workdir, output=log))
        try:
            await standin.gateway.signal.until(lambda: len([s for s in standin.gateway.live_sessions() if s.ws]) == 2,
                                       60.0, "both processes to connect")
            question = "Which outlet heard about the unofficial meetings first-hand from Jivani?"  # unanswered yet
            added_answer = "The American outlet Semafor."
            before = await (await standin.dm(question)).reply(timeout=10.0)
            assert added_answer not in before.text
            mo = standin.world.moderator
            form = await (await standin.slash("kb add", user=mo, question=question)).reply(timeout=10.0)
            values = {"Answer, in the bot's words": added_answer,
                      "Citation: paragraph number": "4",
                      "Citation: exact quote from that paragraph": "Jivani told the American outlet Semafor"}
            added = await (await standin.submit_modal(form, values, user=mo)).reply(timeout=10.0)
            assert added.text.startswith("Added") and "shared database" in added.text, added.text
            started = time.monotonic()
            while True:  # the other process hears the NOTIFY and reloads
                reply = await (await standin.dm(question)).reply(timeout=10.0)
                if added_answer in reply.text or time.monotonic() - started > 5:
                    break
                await asyncio.sleep(0.2)
            assert added_answer in reply.text and time.monotonic() - started < 5
            in_guild = await (await standin.member_says("who is Jivani?", mentions_bot=True)).reply(timeout=10.0)
            assert "Jivani" in in_guild.text
        finally:
            for proc in procs:
                proc.send_signal(signal.SIGTERM)
            for proc in procs:
                assert await asyncio.wait_for(proc.wait(), 30) == 0
        standin.assert_clean()
    with psycopg.connect(pg_url) as conn:  # both processes recorded into the same tables
        guilds = {g for (g,) in conn.execute("SELECT DISTINCT guild_id FROM questions")}
        (edits,) = conn.execute("SELECT COUNT(*) FROM edits WHERE action = 'add' AND status = 'done'").fetchone()
    assert guilds == {None, standin.world.guild_id} and edits == 1  # DMs on shard 0, the guild on its shard
