from __future__ import annotations

import multiprocessing
import os
import shutil
import signal
import threading
import time
from pathlib import Path

import pytest

from bot.engine import load_engine
from bot.knowledge import editor, load_knowledge
from bot.knowledge.editor import (
    DISCORD_FILE,
    NewEntry,
    add_entry,
    make_id,
    parse_paragraph,
    parse_phrasings,
    remove_entry,
)

KNOWLEDGE = Path(__file__).resolve().parent / "fixtures" / "knowledge"  # frozen: the live one changes

ROOMMATE = NewEntry(
    question="Which vice-president shared Jivani's university room?",
    phrasings=("jivani vance university room",),
    answer="JD Vance: Jivani is his close friend and former university roommate.",
    paragraph=2,
    quote="former university roommate of U.S. Vice-President JD Vance",
)


@pytest.fixture
def kb_dir(tmp_path: Path) -> Path:
    target = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE, target)
    return target


def entry(n: int) -> NewEntry:
    return NewEntry(f"Question number {n} about the Feb. 4 meetings?", (), f"Answer {n}.", 3,
                    "Productive meetings today with the White House")


def test_a_bad_quote_is_refused_with_the_reason_and_nothing_is_written(kb_dir: Path):
    bad = NewEntry("What did Jivani eat in Washington?", (), "Pizza.", 2, "he ate a pizza")
    result = add_entry(kb_dir, bad)
    assert not result.ok
    (problem,) = result.problems
    assert problem.path.endswith(f"knowledge/{DISCORD_FILE}") and "kb-check" not in problem.path
    assert problem.line > 0
    assert "quote is not in paragraph 2" in problem.message and "he ate a pizza" in problem.message
    assert not (kb_dir / DISCORD_FILE).exists()
    assert load_knowledge(kb_dir).ok


def test_a_duplicate_phrasing_is_refused_as_check_would(kb_dir: Path):
    dup = NewEntry("Tell the Canadians I love them", (), "Trump said so.", 1, "Tell the Canadians I love them")
    result = add_entry(kb_dir, dup)
    assert not result.ok
    assert "trump-message" in str(result.problems[0])


def test_a_good_entry_is_written_readably_and_answered_by_a_fresh_engine(kb_dir: Path):
    before = (kb_dir / "qa.yaml").read_text(encoding="utf-8")
    result = add_entry(kb_dir, ROOMMATE)
    assert result.ok, result.problems
    assert result.entry_id.startswith("which-vice-president-shared-jivanis")
    text = (kb_dir / DISCORD_FILE).read_text(encoding="utf-8")
    assert text.startswith("# ") and "question: Which vice-president shared Jivani's university room?" in text
    assert (kb_dir / "qa.yaml").read_text(encoding="utf-8") == before  # hand-edited file untouched
    engine, problems = load_engine(kb_dir)
    assert engine is not None and problems == ()
    answer = engine.ask("which vice president shared jivani's university room")
    assert answer.answered and answer.source == f"qa:{result.entry_id}"


def test_ids_are_slugs_made_unique():
    assert make_id("What did Trump say?!", set()) == "what-did-trump-say"
    assert make_id("What did Trump say?", {"what-did-trump-say", "what-did-trump-say-2"}) == "what-did-trump-say-3"
    assert make_id("???", set()) == "entry"
    assert len(make_id("word " * 40, set())) <= editor.MAX_ID


def test_form_fields_are_parsed_the_way_moderators_write_them():
    assert [parse_paragraph(t) for t in ["7", " ¶7 ", "#12", "p. 3", "para 4", "seven", ""]] == [7, 7, 12, 3, 4,
                                                                                                None, None]
    assert parse_phrasings("one\n\n- two\nOne!\n") == ("one", "two")


def test_adding_twice_the_same_question_gets_a_new_id_but_the_duplicate_phrasing_is_refused(kb_dir: Path):
    assert add_entry(kb_dir, ROOMMATE).ok
    again = add_entry(kb_dir, ROOMMATE)
    assert again.entry_id.endswith("-2") and not again.ok


def test_remove_deletes_only_that_entry_and_keeps_comments(kb_dir: Path):
    first = add_entry(kb_dir, ROOMMATE)
    second = add_entry(kb_dir, entry(1))
    assert first.ok and second.ok
    result = remove_entry(kb_dir, first.entry_id)
    assert result.ok, result.problems
    kb = load_knowledge(kb_dir).kb
    assert kb.entry(first.entry_id) is None and kb.entry(second.entry_id) is not None
    assert (kb_dir / DISCORD_FILE).read_text(encoding="utf-8").startswith(editor.DISCORD_HEADER)

    hand = remove_entry(kb_dir, "trump-message")  # from the hand-edited file: its comments stay
    assert hand.ok
    qa = (kb_dir / "qa.yaml").read_text(encoding="utf-8")
    assert "# A comment that must survive" in qa and "# Who Jivani met." in qa and "trump-message" not in qa
    assert load_knowledge(kb_dir).ok


def test_removing_an_unknown_id_says_so(kb_dir: Path):
    result = remove_entry(kb_dir, "no-such-entry")
    assert not result.ok and "no Q&A entry with id 'no-such-entry'" in str(result.problems[0])


def test_concurrent_adds_from_threads_all_land(kb_dir: Path):
    results = []
    threads = [threading.Thread(target=lambda n=n: results.append(add_entry(kb_dir, entry(n)))) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r.ok for r in results), [r.problems for r in results]
    kb = load_knowledge(kb_dir).kb
    assert {r.entry_id for r in results} <= {e.id for e in kb.qa}
    assert len(results) == 6


def _add_in_child(directory: str, n: int) -> None:
    result = add_entry(directory, entry(n))
    raise SystemExit(0 if result.ok else 1)


@pytest.mark.slow
def test_concurrent_adds_from_processes_all_land(kb_dir: Path):
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_add_in_child, args=(str(kb_dir), n)) for n in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    result = load_knowledge(kb_dir)
    assert result.ok, result.problems
    assert sum(e.origin.path.endswith(DISCORD_FILE) for e in result.kb.qa) == 4


def test_a_failed_rename_leaves_the_old_file_and_no_temporary(kb_dir: Path, monkeypatch: pytest.MonkeyPatch):
    assert add_entry(kb_dir, ROOMMATE).ok
    before = (kb_dir / DISCORD_FILE).read_bytes()

    def crash(*_args: object) -> None:
        raise OSError("disk on fire")

    monkeypatch.setattr(editor.os, "replace", crash)
    result = add_entry(kb_dir, entry(1))
    assert not result.ok and "could not write the file, it is unchanged: disk on fire" in str(result.problems[0])
    assert (kb_dir / DISCORD_FILE).read_bytes() == before
    assert not [p for p in kb_dir.iterdir() if p.name.endswith(editor.TEMP_SUFFIX)]
    assert load_knowledge(kb_dir).ok


def _add_and_hang_mid_write(directory: str, started: str) -> None:
    """Add an entry, but stop for good after the first bytes of the new file are written."""
    real_fdopen = os.fdopen

    def hanging_fdopen(*args, **kwargs):
        f = real_fdopen(*args, **kwargs)
        real_write = f.write

        def write(text: str) -> int:
            real_write(text[:100])
            f.flush()
            Path(started).touch()
            time.sleep(60)  # killed here
            return 0

        f.write = write
        return f

    editor.os.fdopen = hanging_fdopen
    add_entry(directory, entry(99))


def test_a_write_killed_half_way_leaves_valid_files(kb_dir: Path):
    assert add_entry(kb_dir, ROOMMATE).ok
    before = (kb_dir / DISCORD_FILE).read_bytes()
    started = kb_dir.parent / "started"
    ctx = multiprocessing.get_context("spawn")
    child = ctx.Process(target=_add_and_hang_mid_write, args=(str(kb_dir), str(started)))
    child.start()
    deadline = time.monotonic() + 30
    while not started.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(child.pid, signal.SIGKILL)
    child.join(10)
    assert started.exists() and child.exitcode == -signal.SIGKILL
    leftovers = [p for p in kb_dir.iterdir() if p.name.endswith(editor.TEMP_SUFFIX)]
    assert len(leftovers) == 1 and 0 < leftovers[0].stat().st_size <= 100  # the half-written temporary
    assert (kb_dir / DISCORD_FILE).read_bytes() == before
    assert load_knowledge(kb_dir).ok
    # The dead process's lock went with it: the next edit lands and clears the leftover.
    assert add_entry(kb_dir, entry(1)).ok
    assert not [p for p in kb_dir.iterdir() if p.name.endswith(editor.TEMP_SUFFIX)]
