"""Adding a phrasing to an existing entry, and restoring a removed entry from the audit's text."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.engine import load_engine
from bot.knowledge import load_knowledge
from bot.knowledge.editor import DISCORD_FILE, add_phrasing, entry_yaml, remove_entry, restore_entry

KNOWLEDGE = Path(__file__).resolve().parent / "fixtures" / "knowledge"
WORDING = "did jivani get to see the VP's wife in DC?"


@pytest.fixture
def kb_dir(tmp_path: Path) -> Path:
    target = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE, target)
    return target


def test_a_phrasing_joins_an_entry_with_one_line_and_a_fresh_engine_answers_it(kb_dir: Path):
    engine, _ = load_engine(kb_dir)
    assert engine is not None and not engine.ask("potus words for the folks up north: 'luv ya'?").answered
    before = (kb_dir / "qa.yaml").read_text(encoding="utf-8")
    result = add_phrasing(kb_dir, "trump-message", "  potus words for the folks up north:   'luv ya'? ")
    assert result.ok, result.problems
    after = (kb_dir / "qa.yaml").read_text(encoding="utf-8")
    added = [line for line in after.splitlines() if line not in before.splitlines()]
    assert added == ["    - 'potus words for the folks up north: ''luv ya''?'"]  # quoted: it holds ': '
    assert after.replace(added[0] + "\n", "") == before  # nothing else moved; the comments stay
    engine, _ = load_engine(kb_dir)
    answer = engine.ask("potus words for the folks up north: 'luv ya'?")
    assert answer.answered and answer.source == "qa:trump-message"
    assert [c.paragraph for c in answer.citations] == [1]


def test_an_entry_without_phrasings_gets_the_key(kb_dir: Path):
    assert add_phrasing(kb_dir, "who-jivani-met", WORDING).ok
    entry = load_knowledge(kb_dir).kb.entry("who-jivani-met")
    assert entry.phrasings == (WORDING,)


@pytest.mark.parametrize("layout", [
    "  - id: a-q\n    question: What is A?\n    phrasings:\n      - a?\n    answer: A.\n    citations:\n"
    "      - {paragraph: 1, quote: \"Tell the Canadians I love them.\"}\n  # trailing comment\n",
    "- id: a-q\n  question: What is A?\n  phrasings:\n  - a?\n  answer: A.\n  citations:\n"
    "  - {paragraph: 1, quote: \"Tell the Canadians I love them.\"}\n",
])
def test_indented_and_indentless_lists_take_the_phrasing(kb_dir: Path, layout: str):
    (kb_dir / "qa-more.yaml").write_text(layout, encoding="utf-8")
    assert load_knowledge(kb_dir).ok
    result = add_phrasing(kb_dir, "a-q", "tell me about a")
    assert result.ok, result.problems
    assert load_knowledge(kb_dir).kb.entry("a-q").phrasings == ("a?", "tell me about a")
    assert "# trailing comment" in (kb_dir / "qa-more.yaml").read_text() or "  # " not in layout


def test_a_layout_it_cannot_edit_is_refused_with_where_to_do_it_by_hand(kb_dir: Path):
    flow = '- {id: a-q, question: What is A?, phrasings: [a?], answer: A., citations: [{paragraph: 1, quote: "Tell the Canadians I love them."}]}\n'  # noqa: E501
    (kb_dir / "qa-more.yaml").write_text(flow, encoding="utf-8")
    result = add_phrasing(kb_dir, "a-q", "tell me about a")
    assert not result.ok
    (problem,) = result.problems
    assert problem.path.endswith("qa-more.yaml") and problem.line == 1
    assert "add it by hand" in problem.message
    assert (kb_dir / "qa-more.yaml").read_text() == flow


def test_a_phrasing_another_entry_has_is_refused_as_check_would_and_nothing_is_written(kb_dir: Path):
    before = (kb_dir / "qa.yaml").read_bytes()
    result = add_phrasing(kb_dir, "who-jivani-met", "Tell the Canadians I love them")
    assert not result.ok and "trump-message" in str(result.problems[0])
    assert str(result.problems[0]).startswith(str(kb_dir / "qa.yaml") + ":")
    assert (kb_dir / "qa.yaml").read_bytes() == before


def test_an_unknown_entry_an_empty_or_a_known_phrasing_is_refused(kb_dir: Path):
    assert "no Q&A entry with id 'nope'" in str(add_phrasing(kb_dir, "nope", "x").problems[0])
    assert "empty" in str(add_phrasing(kb_dir, "trump-message", " \n ").problems[0])
    before = (kb_dir / "qa.yaml").read_bytes()
    again = add_phrasing(kb_dir, "trump-message", "TRUMP message to canadians!")  # a second click, say
    assert "is already a phrasing of entry 'trump-message'" in str(again.problems[0])
    assert (kb_dir / "qa.yaml").read_bytes() == before


def test_a_removed_entry_is_restored_from_its_yaml(kb_dir: Path):
    entry = load_knowledge(kb_dir).kb.entry("trump-message")
    kept = entry_yaml(entry)
    assert remove_entry(kb_dir, "trump-message").ok
    result = restore_entry(kb_dir, kept)
    assert result.ok, result.problems
    restored = load_knowledge(kb_dir).kb.entry("trump-message")
    assert restored == entry and restored.origin.path.endswith(DISCORD_FILE)
    again = restore_entry(kb_dir, kept)
    assert not again.ok and "exists already" in str(again.problems[0])


def test_a_restore_that_no_longer_fits_the_article_is_refused(kb_dir: Path):
    entry = load_knowledge(kb_dir).kb.entry("trump-message")
    kept = entry_yaml(entry)
    remove_entry(kb_dir, "trump-message")
    article = kb_dir / "article.txt"
    article.write_text(article.read_text(encoding="utf-8").replace("love them", "like them"), encoding="utf-8")
    result = restore_entry(kb_dir, kept)
    assert not result.ok and "quote is not in paragraph 1" in str(result.problems[0])
    assert not (kb_dir / DISCORD_FILE).exists()
    assert not restore_entry(kb_dir, "question | answer (an old audit row)").ok
