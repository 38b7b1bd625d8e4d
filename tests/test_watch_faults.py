"""Live reload survives every way the knowledge directory changes, says when it cannot, and never dies."""

from __future__ import annotations

import asyncio
import os
import shutil
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from bot import watch
from bot.engine import load_engine
from bot.knowledge.files import is_knowledge_file
from bot.watch import KnowledgeReloader, ReloadResult
from tests.test_watch import KNOWLEDGE, NEW_ENTRY, QUESTION, Holder, wait_for

FAST = {"poll_s": 0.2, "quiet_ms": 50, "max_wait_ms": 400, "force_polling": True}


def knowledge(path: Path, *, new_entry: bool = False) -> Path:
    """A copy of the fixture knowledge at `path`; with `new_entry`, one that answers QUESTION."""
    shutil.copytree(KNOWLEDGE, path)
    if new_entry:
        with (path / "qa.yaml").open("a", encoding="utf-8") as f:
            f.write(NEW_ENTRY)
    return path


def holder_for(directory: Path) -> Holder:
    engine, problems = load_engine(directory)
    assert engine is not None, problems
    return Holder(engine)


def answered(holder: Holder) -> bool:
    return holder.engine.ask(QUESTION).answered


def said(results: list[ReloadResult], text: str) -> list[ReloadResult]:
    return [r for r in results if any(text in p.message for p in r.problems)]


@asynccontextmanager
async def watching(directory: Path, holder: Holder) -> AsyncIterator[list[ReloadResult]]:
    """Watch `directory` with short timings; on the way out, the watcher must stop promptly."""
    results: list[ReloadResult] = []

    async def collect(result: ReloadResult) -> None:
        results.append(result)

    task = asyncio.create_task(KnowledgeReloader(directory, holder.swap, **FAST).watch(collect))
    await asyncio.sleep(0.4)  # the first look is taken
    try:
        yield results
    finally:
        assert not task.done(), "the watcher stopped"
        task.cancel()
        await asyncio.wait_for(asyncio.gather(task, return_exceptions=True), 2)


async def test_a_directory_deleted_and_made_again_is_reported_then_reloaded(tmp_path: Path):
    kb = knowledge(tmp_path / "knowledge")
    holder = holder_for(kb)
    async with watching(kb, holder) as results:
        shutil.rmtree(kb)
        await wait_for(lambda: said(results, "cannot watch the knowledge directory"))
        assert "No such file or directory" in str(results[-1].problems[0])
        assert holder.swaps == 0
        knowledge(kb, new_entry=True)
        await wait_for(lambda: answered(holder))
    assert len(said(results, "cannot watch")) == 1  # said once, not at every look


async def test_a_directory_swapped_by_rename_is_reloaded(tmp_path: Path):
    kb = knowledge(tmp_path / "knowledge")
    new = knowledge(tmp_path / "knowledge.new", new_entry=True)
    holder = holder_for(kb)
    async with watching(kb, holder) as results:
        os.rename(kb, tmp_path / "knowledge.old")
        os.rename(new, kb)  # an atomic deploy
        await wait_for(lambda: answered(holder))
    assert results and results[-1].ok


async def test_a_current_symlink_flipped_to_another_release_is_reloaded(tmp_path: Path):
    knowledge(tmp_path / "releases" / "1" / "knowledge")
    knowledge(tmp_path / "releases" / "2" / "knowledge", new_entry=True)
    current = tmp_path / "current"
    current.symlink_to(tmp_path / "releases" / "1")
    holder = holder_for(current / "knowledge")
    async with watching(current / "knowledge", holder):
        (tmp_path / "current.new").symlink_to(tmp_path / "releases" / "2")
        os.replace(tmp_path / "current.new", current)
        await wait_for(lambda: answered(holder))


async def test_a_configmap_style_data_swap_is_reloaded(tmp_path: Path):
    """Kubernetes mounts each file as a link into ..data, a link to a timestamped directory it swaps."""
    mount = tmp_path / "kb"
    mount.mkdir()
    first = knowledge(mount / "..2026_11_30_00_00_00.1")
    (mount / "..data").symlink_to(first.name)
    for name in os.listdir(first):
        (mount / name).symlink_to(f"..data/{name}")
    holder = holder_for(mount)
    async with watching(mount, holder):
        second = knowledge(mount / "..2026_11_30_00_01_00.2", new_entry=True)
        (mount / "..data_tmp").symlink_to(second.name)
        os.replace(mount / "..data_tmp", mount / "..data")
        shutil.rmtree(first)
        await wait_for(lambda: answered(holder))


async def test_a_symlink_loop_in_place_of_the_directory_is_reported_once_then_recovered(tmp_path: Path):
    knowledge(tmp_path / "real")
    knowledge(tmp_path / "real2", new_entry=True)
    kb = tmp_path / "knowledge"
    kb.symlink_to(tmp_path / "real")
    holder = holder_for(kb)
    async with watching(kb, holder) as results:
        (tmp_path / "loop").symlink_to(kb)
        os.replace(tmp_path / "loop", kb)  # knowledge -> knowledge
        await wait_for(lambda: said(results, "Too many levels of symbolic links"))
        await asyncio.sleep(0.5)  # several more looks
        (tmp_path / "fixed").symlink_to(tmp_path / "real2")
        os.replace(tmp_path / "fixed", kb)
        await wait_for(lambda: answered(holder))
    assert len(said(results, "cannot watch")) == 1


async def test_a_fifo_or_a_symlink_loop_named_like_knowledge_is_refused_and_hangs_nothing(tmp_path: Path):
    kb = knowledge(tmp_path / "knowledge")
    holder = holder_for(kb)
    old = holder.engine
    async with watching(kb, holder) as results:
        os.mkfifo(kb / "qa-fifo.yaml")
        (kb / "qa-loop.yaml").symlink_to("qa-loop.yaml")
        await wait_for(lambda: said(results, "is a FIFO"))
        (problem_fifo, problem_loop) = results[-1].problems
        assert problem_fifo.path.endswith("qa-fifo.yaml") and "is a FIFO, not a file" in problem_fifo.message
        assert problem_loop.path.endswith("qa-loop.yaml") and "Too many levels" in problem_loop.message
        assert holder.engine is old
        (kb / "qa-fifo.yaml").unlink()
        (kb / "qa-loop.yaml").unlink()
        with (kb / "qa.yaml").open("a", encoding="utf-8") as f:
            f.write(NEW_ENTRY)
        await wait_for(lambda: answered(holder))  # later good edits still load


async def test_editor_lock_backup_and_swap_files_do_not_trigger_a_reload(tmp_path: Path):
    kb = knowledge(tmp_path / "knowledge")
    names = (".#qa.yaml", "qa.yaml~", ".qa.yaml.swp", "4913")
    assert not any(is_knowledge_file(kb / name) for name in names)
    holder = holder_for(kb)
    async with watching(kb, holder) as results:
        (kb / ".#qa.yaml").symlink_to("moderator@host.4242:1764460800")  # emacs: a dangling link
        for name in names[1:]:
            (kb / name).write_text("x", encoding="utf-8")
        await asyncio.sleep(1.0)
        assert results == [] and holder.swaps == 0


async def test_the_watcher_survives_a_crashing_load_and_its_own_errors(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch):
    kb = knowledge(tmp_path / "knowledge")
    holder = holder_for(kb)
    real_fingerprint, real_load = watch.fingerprint, watch.load_engine
    calls = {"look": 0, "load": 0}

    def failing_once_look(directory: Path) -> watch.Fingerprint:
        calls["look"] += 1
        if calls["look"] == 3:
            raise ValueError("a bug in the watcher")
        return real_fingerprint(directory)

    def failing_once_load(directory: Path):
        calls["load"] += 1
        if calls["load"] == 1:
            raise RecursionError("the loader fell over")
        return real_load(directory)

    monkeypatch.setattr(watch, "fingerprint", failing_once_look)
    monkeypatch.setattr(watch, "load_engine", failing_once_load)
    monkeypatch.setattr(watch, "RESTART_DELAYS_S", (0.1,))
    async with watching(kb, holder) as results:
        await wait_for(lambda: said(results, "the knowledge watcher failed (ValueError('a bug in the watcher'))"))
        (kb / "people.yaml").touch()
        await wait_for(lambda: said(results, "loading the knowledge failed: RecursionError"))
        await asyncio.sleep(0.6)
        assert calls["load"] == 1  # not retried at every look: only the next change loads again
        with (kb / "qa.yaml").open("a", encoding="utf-8") as f:
            f.write(NEW_ENTRY)
        await wait_for(lambda: answered(holder))


async def test_a_replaced_engine_is_freed_and_one_still_in_use_keeps_answering():
    """The old engine is freed off the loop, piece by piece; a question in flight on it is not disturbed.

    Also guards gc.freeze(): frozen objects are never collected, so an engine with reference cycles
    would leak one copy per reload. This fails if the engine ever stops being freed by reference counting.
    """
    holder = holder_for(KNOWLEDGE)
    reloader = KnowledgeReloader(KNOWLEDGE, holder.swap, engine=holder.engine)
    first = weakref.ref(holder.engine)
    in_flight = holder.engine  # a question being answered from the old engine while it is replaced
    assert (await reloader.reload()).ok
    second = weakref.ref(holder.engine)
    assert (await reloader.reload()).ok
    await wait_for(lambda: second() is None)  # nothing held it: freed by the worker thread
    assert first() is in_flight and in_flight.ask("Who did Jivani meet in Washington?").answered
    del in_flight
    await wait_for(lambda: first() is None)


async def test_a_cancellation_that_arrives_as_a_wait_ends_is_not_lost():
    """asyncio.wait_for before 3.12 drops it; a watcher that missed its cancel kept the bot's close waiting."""
    done = asyncio.get_running_loop().create_future()
    waiting = asyncio.create_task(watch._wait(done, 10))
    await asyncio.sleep(0)
    done.set_result(None)
    waiting.cancel()  # in the same turn of the loop as the completion
    with pytest.raises(asyncio.CancelledError):
        await waiting
