"""Every input from disk is checked before use: special files are refused, never opened to block."""

from __future__ import annotations

import logging
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import Settings, SettingsError
from bot.engine import load_engine
from bot.knowledge import load_knowledge
from bot.knowledge.editor import NewEntry, add_entry
from bot.knowledge.files import is_knowledge_file
from bot.knowledge.loader import LOGGED_PROBLEMS
from bot.safefile import NotRegularFile, TooLarge, read_regular
from bot.store import SQLiteStore
from bot.watch import KnowledgeReloader
from tests.knowledge_dirs import FIXTURE
from tests.test_editor_files import run_with_timeout


def test_read_regular_refuses_a_fifo_without_blocking(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")

    def read_pipe() -> str:
        try:
            read_regular(tmp_path / "pipe", 100)
        except NotRegularFile as exc:
            return exc.strerror
        return "read"

    assert run_with_timeout(read_pipe) == "is a FIFO, not a regular file"
    with pytest.raises(NotRegularFile, match="is a directory"):
        read_regular(tmp_path, 100)
    (tmp_path / "big").write_bytes(b"x" * 101)
    with pytest.raises(TooLarge):
        read_regular(tmp_path / "big", 100)
    assert read_regular(tmp_path / "big", 101) == b"x" * 101


def test_a_fifo_named_env_is_a_one_line_configuration_error(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / ".env")

    def settings() -> str:
        try:
            Settings.from_env({"STORY_BOT_HOME": str(tmp_path)}, env_file=tmp_path / ".env")
        except SettingsError as exc:
            return str(exc)
        return "accepted"

    assert run_with_timeout(settings) == f"cannot read {tmp_path / '.env'}: is a FIFO, not a regular file"


async def test_a_refused_reload_logs_a_bounded_record(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A file with thousands of problems was logged whole, in one record per reload (46 MB for 1.6 MB)."""
    directory = tmp_path / "knowledge"
    shutil.copytree(FIXTURE, directory)
    broken = "".join(f"- id: broken-{n}\n  question: {'x' * 200}?\n  answer: no citations\n" for n in range(3000))
    (directory / "qa-broken.yaml").write_text(broken, encoding="utf-8")
    engine, _ = load_engine(FIXTURE)
    reloader = KnowledgeReloader(directory, lambda new: None, engine=engine)
    with caplog.at_level(logging.WARNING, logger="bot.watch"):
        result = await reloader.reload()
    assert result.engine is None and len(result.problems) >= 3000
    [record] = [r for r in caplog.records if "reload refused" in r.getMessage()]
    message = record.getMessage()
    assert len(message.splitlines()) == 1 + LOGGED_PROBLEMS + 1 and len(message) < 20_000
    more = len(result.problems) - LOGGED_PROBLEMS
    assert message.endswith(f"… and {more} more (`python -m bot check` lists them all)")


EDITOR_LEFTOVERS = (".#qa.yaml", "qa.yaml~", "#qa.yaml#", ".qa.yaml.swp", "qa/.#topic.yaml", "qa/topic.yaml~")


async def test_editor_lock_and_backup_files_are_not_knowledge(tmp_path: Path) -> None:
    """An Emacs lock file beside the knowledge made /kb add say ok while every reload was refused."""
    directory = tmp_path / "knowledge"
    shutil.copytree(FIXTURE, directory)
    (directory / "qa").mkdir(exist_ok=True)
    for name in EDITOR_LEFTOVERS:
        (directory / name).write_text("- id: [not, knowledge\n", encoding="utf-8")
    (directory / ".#qa-trip.yaml").symlink_to("moderator@host.4242:1700000000")  # what Emacs makes: a dangling link
    assert load_knowledge(directory).ok
    assert not [name for name in EDITOR_LEFTOVERS if is_knowledge_file(name)]
    added = add_entry(directory, NewEntry("Who leaves lock files?", (), "Editors do.", 1, "Jamil Jivani"))
    assert added.ok, added.problems
    engine, _ = load_engine(FIXTURE)
    result = await KnowledgeReloader(directory, lambda new: None, engine=engine).reload()
    assert result.engine is not None and not result.problems


def test_the_sqlite_database_is_created_readable_by_its_owner_only(tmp_path: Path) -> None:
    """Readers' questions are in it: 0644 in the container, beside a salt file kept 0600."""
    path = tmp_path / "data" / "bot.sqlite3"
    store = SQLiteStore(path, salt="s")
    try:
        store.record_question(question="who is jivani", answered=True, source="person:jivani", confidence=0.9,
                              guild_id=1, channel_id=2, user_id=3)
        made = [p for p in path.parent.iterdir() if p.name.startswith(path.name)]
        assert path in made and all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in made), made
    finally:
        store.close()


def test_a_fifo_as_the_console_history_is_not_opened(tmp_path: Path) -> None:
    """readline opens the history holding the GIL: a FIFO there froze the whole console, so a child process."""
    os.mkfifo(tmp_path / ".story_bot_history")
    code = f"import sys; from bot import cli; sys.exit(cli.chat(__import__('pathlib').Path({str(FIXTURE)!r})))"
    done = subprocess.run([sys.executable, "-c", code], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          env={**os.environ, "HOME": str(tmp_path)}, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "is not a regular file: the console keeps no history" in done.stderr
