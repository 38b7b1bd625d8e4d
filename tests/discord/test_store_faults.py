"""Database faults seen from Discord (issue 11, items 6–8): readers are answered whatever the database does,
an unusable database at start leaves /kb registered and saying so, and an edit never lands without its audit.

The lock is held by another process, as another bot process or a backup would; SQLite's busy timeout is
5 s, so a lock held longer than that is what used to turn answers into apologies. STORE_FAULT_LOCK_SECONDS
makes the hold longer (the issue's figure is 30 s; the suite uses a little more than the busy timeout).
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import shutil
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings
from bot.discord import bot as bot_module
from bot.discord.bot import WATCHER_TASK
from bot.discord.render import APOLOGY
from tests.discord.conftest import (
    ANSWER_CHANNEL,
    GUILD_ID,
    TOKEN,
    Harness,
    InProcessDiscord,
    button_press,
    guild_create,
    slash,
    start_bot,
)
from tests.discord.test_kb import KNOWLEDGE, MODERATOR_ID, interact, kb, knowledge_files
from tests.test_store import DatabaseLock

LOCK_SECONDS = float(os.environ.get("STORE_FAULT_LOCK_SECONDS", "6"))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """A knowledge copy /kb may edit, and no cooldown in the way of a stream of questions."""
    knowledge = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE, knowledge)
    return Settings(token=TOKEN, answer_channels=frozenset({ANSWER_CHANNEL}), dev_guild_id=GUILD_ID,
                    knowledge_dir=knowledge, database_path=tmp_path / "data" / "bot.sqlite3", cooldown_rate=1000)


def answered(call: Any) -> bool:
    """The reader got the bot's reply to the question (an answer or "the story doesn't say"), not an apology."""
    return (bool(call.embeds) or "story doesn't say" in (call.content or "")) and APOLOGY not in (call.content or "")


@pytest.mark.slow
async def test_every_question_is_answered_within_a_second_while_the_database_is_write_locked(
        harness: Harness, settings: Settings, record_property: Any):
    h = harness
    latencies = []
    with DatabaseLock(settings.database_path):
        started = time.monotonic()
        n = 0
        while time.monotonic() - started < LOCK_SECONDS:
            t = time.monotonic()
            call = await h.interact(slash("ask", question=f"Who is Jamil Jivani? ({n})"))
            latencies.append(time.monotonic() - t)
            assert answered(call), call.json
            n += 1
            await asyncio.sleep(0.25)
        vote = next(b for b in call.buttons if b["custom_id"].startswith("story:vote:"))
        thanks = await h.interact(button_press(h.fake.message_of(call), vote["custom_id"]))
        assert "Thanks" in (thanks.content or "")
    record_property("questions_during_lock", n)  # the figures, for --junitxml; the bound is the assertion
    record_property("slowest_answer_s", round(max(latencies), 3))
    assert max(latencies) < 1.0, latencies
    # Nothing was lost: once the lock is gone the queued questions and the vote are written.
    assert await asyncio.to_thread(h.bot.store.flush, 10)
    stats = h.bot.store.stats()
    assert (stats.questions, stats.votes) == (n, 1)


async def test_every_question_is_answered_when_the_disk_is_full(settings: Settings, fake: InProcessDiscord,
                                                                monkeypatch: pytest.MonkeyPatch):
    first = await start_bot(settings, fake)  # make the database, then fill the disk
    await first.close()
    full = True
    real_connect = sqlite3.connect

    def connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        db = real_connect(*args, **kwargs)
        if full:  # SQLITE_FULL as soon as a write needs one more page
            db.execute(f"PRAGMA max_page_count = {db.execute('PRAGMA page_count').fetchone()[0]}")
        return db

    monkeypatch.setattr(sqlite3, "connect", connect)
    bot = await start_bot(settings, fake)
    h = Harness(bot, fake)
    await h.event("GUILD_CREATE", guild_create())
    for n in range(40):
        call = await h.interact(slash("ask", question=f"What did Trump tell Jivani? {'and more ' * 30}{n}"))
        assert answered(call), (n, call.json)
    full = False  # room again: every question lands
    assert await asyncio.to_thread(bot.store.flush, 10)
    assert bot.store.stats().questions == 40
    await bot.close()


# --- an unusable database at start ------------------------------------------------------------


def corrupt(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"this is not a database, it was overwritten by mistake " * 200)
    return path


def under_a_file(path: Path) -> Path:
    """A path that cannot be created or written, even by root: its directory is a regular file."""
    blocker = path.parent / "not-a-directory"
    blocker.parent.mkdir(parents=True, exist_ok=True)
    blocker.write_text("a file")
    return blocker / "bot.sqlite3"


@pytest.mark.parametrize("fault", ["corrupt", "unwritable",
                                   pytest.param("locked", marks=pytest.mark.slow)])  # waits out the busy timeout
async def test_an_unusable_database_at_start_keeps_kb_registered_and_readers_answered(
        fault: str, settings: Settings, fake: InProcessDiscord, caplog: pytest.LogCaptureFixture):
    path = settings.database_path
    if fault == "corrupt":
        corrupt(path)
    elif fault == "unwritable":
        path = under_a_file(path)
    settings = dataclasses.replace(settings, database_path=path)
    lock = DatabaseLock(path) if fault == "locked" else None
    if lock is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        lock.__enter__()  # for longer than the busy timeout: the bot's start waits 5 s, then gives up
    try:
        bot = await start_bot(settings, fake)
    finally:
        if lock is not None:
            lock.__exit__()
    h = Harness(bot, fake)
    await h.event("GUILD_CREATE", guild_create())

    assert bot.store is None and bot.store_problem
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert any(m.startswith("DATABASE UNAVAILABLE") and "\n" not in m for m in errors), errors
    # /kb is still registered and synced, and says what is wrong instead of vanishing.
    assert bot.tree.get_command("kb", guild=discord_guild()) is not None
    put = [c for c in fake.calls if c.method == "PUT"][-1]
    assert "kb" in {c["name"] for c in put.json}
    call = await h.interact(kb("stats"))
    assert "database is unavailable" in call.content and call.ephemeral
    call = await h.interact(kb("reload"))  # needs no database: it works, and the missing audit row is logged
    assert call.content.startswith("Reloaded:")
    # Readers are answered, and the knowledge watcher runs.
    assert answered(await h.interact(slash("ask", question="Who is Jamil Jivani?")))
    assert any(t.get_name().startswith(WATCHER_TASK) and not t.done() for t in asyncio.all_tasks())
    await bot.close()


def discord_guild() -> Any:
    import discord

    return discord.Object(GUILD_ID)


async def test_the_bot_opens_the_database_once_it_is_usable_again(settings: Settings, fake: InProcessDiscord,
                                                                   monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(bot_module, "STORE_RETRY", (0.1, 0.1))
    corrupt(settings.database_path)
    bot = await start_bot(settings, fake)
    assert bot.store is None
    settings.database_path.unlink()  # the operator moves the broken file away
    for _ in range(100):
        if bot.store is not None:
            break
        await asyncio.sleep(0.05)
    assert bot.store is not None and bot.store_problem is None
    await bot.close()


def test_a_missing_directory_is_created(settings: Settings):
    from bot.store import open_store

    deep = dataclasses.replace(settings, database_path=settings.database_path.parent / "a" / "b" / "bot.sqlite3")
    open_store(deep).close()
    assert deep.database_path.exists()


# --- an edit and its audit row land together ----------------------------------------------------


@pytest.mark.slow
async def test_kb_remove_with_the_database_locked_changes_nothing_and_says_so(harness: Harness, settings: Settings):
    h = harness
    before = knowledge_files(settings)
    with DatabaseLock(settings.database_path):
        call = await interact(h, kb("remove", id="trump-message"))  # waits out the 5 s busy timeout
    assert call.content.startswith("Not removed: the bot's database is unavailable") and call.ephemeral
    assert knowledge_files(settings) == before  # the entry is still there, and still answered
    assert h.bot.engine.kb.entry("trump-message") is not None
    assert h.bot.store.edits() == []

    call = await h.interact(kb("remove", id="trump-message"))  # the database is back: it works
    assert call.content.startswith("Removed `trump-message`")
    (edit,) = h.bot.store.edits()
    assert (edit.action, edit.entry_id, edit.moderator_id, edit.status) == ("remove", "trump-message",
                                                                            MODERATOR_ID, "done")
    assert "Tell the Canadians I love them" in edit.detail
