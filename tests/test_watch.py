from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from bot.engine import Engine, load_engine
from bot.knowledge.editor import write_atomic
from bot.knowledge.files import is_knowledge_file
from bot.watch import KnowledgeReloader, ReloadResult
from tests.waiting import wait_for

KNOWLEDGE = Path(__file__).resolve().parent / "fixtures" / "knowledge"  # frozen: the live one changes
NEW_ENTRY = """
- id: watch-test-entry
  question: Which colour is the moderators' watch-test flamingo?
  answer: Pink, as a test of live reload.
  citations:
    - {paragraph: 1, quote: "Tell the Canadians I love them"}
"""
QUESTION = "which colour is the moderators' watch-test flamingo"


class Holder:
    """Stands in for the bot: one attribute the reloader swaps."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.swaps = 0

    def swap(self, engine: Engine) -> None:
        self.engine = engine
        self.swaps += 1


@pytest.fixture
def kb_dir(tmp_path: Path) -> Path:
    target = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE, target)
    return target


@pytest.fixture
def holder(kb_dir: Path) -> Holder:
    engine, problems = load_engine(kb_dir)
    assert engine is not None, problems
    return Holder(engine)


async def start_watching(reloader: KnowledgeReloader, results: list[ReloadResult]) -> asyncio.Task:
    async def collect(result: ReloadResult) -> None:
        results.append(result)

    task = asyncio.create_task(reloader.watch(collect))
    await asyncio.sleep(0.5)  # let the watcher register with the OS before we edit
    return task


async def test_a_file_edit_is_picked_up_live(kb_dir: Path, holder: Holder):
    reloader = KnowledgeReloader(kb_dir, holder.swap)
    results: list[ReloadResult] = []
    task = await start_watching(reloader, results)
    try:
        assert not holder.engine.ask(QUESTION).answered
        with (kb_dir / "qa.yaml").open("a", encoding="utf-8") as f:  # a hand edit, in place
            f.write(NEW_ENTRY)
        took = await wait_for(lambda: results)
        assert took < 5
        assert results[-1].ok and holder.swaps >= 1
        answer = holder.engine.ask(QUESTION)
        assert answer.answered and answer.source == "qa:watch-test-entry"
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_broken_edit_keeps_the_old_engine_and_reports_path_and_line(kb_dir: Path, holder: Holder):
    old = holder.engine
    reloader = KnowledgeReloader(kb_dir, holder.swap)
    results: list[ReloadResult] = []
    task = await start_watching(reloader, results)
    try:
        qa = kb_dir / "qa.yaml"
        broken = qa.read_text(encoding="utf-8") + NEW_ENTRY.replace("Tell the Canadians", "Tell the Martians")
        write_atomic(qa, broken)  # an atomic replace, as editors and /kb add do
        await wait_for(lambda: results)
        result = results[-1]
        assert not result.ok and result.engine is None
        assert holder.engine is old and holder.swaps == 0
        line = broken.splitlines().index('    - {paragraph: 1, quote: "Tell the Martians I love them"}') + 1
        assert any(str(p).endswith(f"qa.yaml:{line}: quote is not in paragraph 1: 'Tell the Martians I love them'")
                   for p in result.problems), result.problems
        assert holder.engine.ask("What message did Trump ask Jivani to pass along to Canadians?").answered
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_other_files_do_not_trigger_a_reload(kb_dir: Path, holder: Holder):
    reloader = KnowledgeReloader(kb_dir, holder.swap)
    results: list[ReloadResult] = []
    task = await start_watching(reloader, results)
    try:
        (kb_dir / ".qa.yaml.swp").write_text("x")
        (kb_dir / "notes.md").write_text("x")
        await asyncio.sleep(1.5)
        assert results == []
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def test_which_files_count_as_knowledge():
    assert is_knowledge_file("/k/qa-discord.yaml") and is_knowledge_file("article.txt")
    assert not is_knowledge_file("/k/.qa-discord.yaml.abc.tmp")
    assert not is_knowledge_file("/k/.kb-edit.lock") and not is_knowledge_file("/k/README.md")


async def test_a_forced_reload_reports_what_was_loaded(kb_dir: Path, holder: Holder):
    result = await KnowledgeReloader(kb_dir, holder.swap).reload()
    assert result.ok and holder.engine is result.engine
    text = result.engine.kb.summary()
    assert "Q&A entries" in text and "paragraphs cited" in text


async def test_reloads_are_serialised_so_the_newest_files_win(kb_dir: Path, holder: Holder):
    reloader = KnowledgeReloader(kb_dir, holder.swap)
    first = asyncio.create_task(reloader.reload())
    await asyncio.sleep(0)  # the first reload is loading the old files
    with (kb_dir / "qa.yaml").open("a", encoding="utf-8") as f:
        f.write(NEW_ENTRY)
    second = asyncio.create_task(reloader.reload())
    await asyncio.gather(first, second)
    assert holder.engine is second.result().engine
    assert holder.engine.ask(QUESTION).answered


async def test_an_answer_in_flight_sees_one_knowledge_base(kb_dir: Path, holder: Holder):
    """The swap replaces one reference: an engine taken before it keeps answering from the old knowledge."""
    in_flight = holder.engine
    with (kb_dir / "qa.yaml").open("a", encoding="utf-8") as f:
        f.write(NEW_ENTRY)
    await KnowledgeReloader(kb_dir, holder.swap).reload()
    assert in_flight is not holder.engine
    assert in_flight.kb.entry("watch-test-entry") is None and not in_flight.ask(QUESTION).answered
    assert holder.engine.kb.entry("watch-test-entry") is not None


async def test_prepare_is_awaited_with_the_new_engine_before_it_is_swapped_in(kb_dir: Path, holder: Holder):
    """The bot starts the answer process for new knowledge there: readers go from old to new with no gap."""
    seen: list[tuple[Engine, Engine]] = []

    async def prepare(engine: Engine) -> None:
        await asyncio.sleep(0)
        seen.append((engine, holder.engine))

    old = holder.engine
    result = await KnowledgeReloader(kb_dir, holder.swap, prepare=prepare).reload()
    assert seen == [(result.engine, old)]  # prepared with the new engine while the old was still in use
    assert holder.engine is result.engine


async def test_a_failing_prepare_still_swaps_the_new_knowledge_in(kb_dir: Path, holder: Holder, caplog):
    async def prepare(engine: Engine) -> None:
        raise RuntimeError("no process today")

    result = await KnowledgeReloader(kb_dir, holder.swap, prepare=prepare).reload()
    assert result.ok and holder.engine is result.engine and "preparing for the reloaded knowledge failed" in caplog.text
