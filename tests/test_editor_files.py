"""/kb remove on hand-written files of any shape, symlinked knowledge files, and FIFOs named like knowledge."""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest
import yaml

from bot.knowledge import load_knowledge
from bot.knowledge.editor import DISCORD_FILE, NewEntry, add_entry, cut_entry, remove_entry

KNOWLEDGE = Path(__file__).resolve().parent / "fixtures" / "knowledge"
IDS = ("extra-one", "extra-two", "extra-three")

# The same three entries, written by hand three ways. Quotes are from the fixture article.
INDENTED = """\
# Extra questions, written by hand.
  - id: extra-one
    question: Who shared a university room with JD Vance?
    answer: Jamil Jivani.
    citations:
      - paragraph: 2
        quote: former university roommate of U.S. Vice-President JD Vance

  # The second one.
  - id: extra-two
    question: What did Jivani call his White House meetings?   # asked a lot
    answer: Productive.
    citations: [{paragraph: 3, quote: "Productive meetings today with the White House and State Department"}]
  - id: extra-three
    question: Whom did Jivani meet unofficially?
    answer: |
      JD Vance and his wife,
      Usha Vance.
    citations:
      - {paragraph: 4, quote: "he held unofficial meetings with Vance and his wife Usha Vance"}
# trailing note one
# trailing note two
"""

BLOCK = """\
# Extra questions, written by hand.
- id: extra-one
  question: Who shared a university room with JD Vance?
  answer: Jamil Jivani.
  citations:
  - paragraph: 2
    quote: former university roommate of U.S. Vice-President JD Vance
# The second one.
- id: extra-two
  question: What did Jivani call his White House meetings?   # asked a lot
  answer: Productive.
  citations: [{paragraph: 3, quote: "Productive meetings today with the White House and State Department"}]

- id: extra-three
  question: Whom did Jivani meet unofficially?
  answer: >
    JD Vance and his wife,
    Usha Vance.
  citations:
    - {paragraph: 4, quote: "he held unofficial meetings with Vance and his wife Usha Vance"}  # trailing on the last
# trailing note one

# trailing note two
"""

FLOW = """\
# Extra questions, written by hand.
[{id: extra-one, question: "Who shared a university room with JD Vance?", answer: Jamil Jivani.,
  citations: [{paragraph: 2, quote: former university roommate of U.S. Vice-President JD Vance}]},
 # The second one.
 {id: extra-two, question: "What did Jivani call his White House meetings?", answer: Productive.,
  citations: [{paragraph: 3, quote: "Productive meetings today with the White House and State Department"}]},
 {id: extra-three, question: "Whom did Jivani meet unofficially?", answer: "JD Vance and his wife, Usha Vance.",
  citations: [{paragraph: 4, quote: "he held unofficial meetings with Vance and his wife Usha Vance"}]}]
# trailing note one
# trailing note two
"""

ONE_LINE_FLOW = '[{id: a, q: "x, y"}, {id: b, q: z}, {id: c, q: w}]  # trailing\n'


def full_line_comments(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip().startswith("#")]


@pytest.fixture
def kb_dir(tmp_path: Path) -> Path:
    target = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE, target)
    return target


@pytest.mark.parametrize("shape", [INDENTED, BLOCK, FLOW], ids=["indented", "block", "flow"])
@pytest.mark.parametrize("removed", IDS)
def test_remove_keeps_every_other_entry_and_every_comment_of_a_hand_written_file(kb_dir: Path, shape: str,
                                                                                   removed: str):
    extra = kb_dir / "qa-extra.yaml"
    extra.write_text(shape, encoding="utf-8")
    assert load_knowledge(kb_dir).ok
    before = yaml.safe_load(shape)

    result = remove_entry(kb_dir, removed)

    assert result.ok, result.problems
    text = extra.read_text(encoding="utf-8")
    assert yaml.safe_load(text) == [item for item in before if item["id"] != removed]
    assert full_line_comments(text) == full_line_comments(shape)  # the header, notes and trailing comments
    loaded = load_knowledge(kb_dir)
    assert loaded.ok, loaded.problems
    assert {e.id for e in loaded.kb.qa} >= set(IDS) - {removed} and loaded.kb.entry(removed) is None


def test_removing_every_entry_leaves_the_comments_and_an_empty_list(kb_dir: Path):
    extra = kb_dir / "qa-extra.yaml"
    extra.write_text(INDENTED, encoding="utf-8")
    for ident in IDS:
        assert remove_entry(kb_dir, ident).ok
    text = extra.read_text(encoding="utf-8")
    assert yaml.safe_load(text) is None and full_line_comments(text) == full_line_comments(INDENTED)
    assert load_knowledge(kb_dir).ok


@pytest.mark.parametrize(("ident", "expected"), [
    ("a", '[{id: b, q: z}, {id: c, q: w}]  # trailing\n'),
    ("b", '[{id: a, q: "x, y"}, {id: c, q: w}]  # trailing\n'),
    ("c", '[{id: a, q: "x, y"}, {id: b, q: z}]  # trailing\n'),
])
def test_a_flow_list_loses_the_item_and_one_comma_only(ident: str, expected: str):
    assert cut_entry(ONE_LINE_FLOW, ident) == (expected, "")


def test_the_only_item_of_a_flow_list_leaves_an_empty_list():
    assert cut_entry("[{id: a, q: x}]\n", "a") == ("[]\n", "")


def test_two_entries_with_one_id_in_a_file_are_not_guessed_between():
    text = "- {id: a, q: x}\n- {id: a, q: y}\n"
    candidate, why = cut_entry(text, "a")
    assert candidate is None and "2 entries with that id" in why


def test_add_and_remove_write_through_a_symlinked_file_and_keep_the_link(kb_dir: Path, tmp_path: Path):
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "qa-extra.yaml").write_text(INDENTED, encoding="utf-8")
    (shared / DISCORD_FILE).write_text("# added from Discord\n", encoding="utf-8")
    for name in ("qa-extra.yaml", DISCORD_FILE):
        (kb_dir / name).symlink_to(shared / name)

    added = add_entry(kb_dir, NewEntry("Which vice-president shared Jivani's university room?", (),
                                       "JD Vance.", 2, "former university roommate of U.S. Vice-President JD Vance"))
    removed = remove_entry(kb_dir, "extra-two")

    assert added.ok and removed.ok, (added.problems, removed.problems)
    for name in ("qa-extra.yaml", DISCORD_FILE):
        assert (kb_dir / name).is_symlink() and (kb_dir / name).resolve() == shared / name
    assert added.entry_id in (shared / DISCORD_FILE).read_text(encoding="utf-8")
    assert "extra-two" not in (shared / "qa-extra.yaml").read_text(encoding="utf-8")
    assert not [p for p in shared.iterdir() if p.name.endswith(".tmp")]
    kb = load_knowledge(kb_dir).kb
    assert kb.entry(added.entry_id) is not None and kb.entry("extra-two") is None and kb.entry("extra-one")


def run_with_timeout(fn, *args, timeout: float = 5.0):
    """Run fn in a daemon thread: if it hangs (today's code on a FIFO), the test fails instead of hanging."""
    out: list = []
    thread = threading.Thread(target=lambda: out.append(fn(*args)), daemon=True)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), f"{fn.__name__} hung"
    return out[0]


@pytest.mark.parametrize("name", ["qa-fifo.yaml", DISCORD_FILE])
def test_a_fifo_named_like_knowledge_is_refused_without_hanging_the_editor(kb_dir: Path, name: str):
    os.mkfifo(kb_dir / name)
    new = NewEntry("Which vice-president shared Jivani's university room?", (), "JD Vance.", 2,
                   "former university roommate of U.S. Vice-President JD Vance")

    for result in (run_with_timeout(add_entry, kb_dir, new), run_with_timeout(remove_entry, kb_dir, "trump-message")):
        assert not result.ok
        assert any(p.path.endswith(name) and "is a FIFO, not a file" in p.message for p in result.problems)
    assert (kb_dir / name).is_fifo()


@pytest.mark.parametrize("text", ["- {id: a, n: " + "9" * 5000 + "}\n", "- [" * 300 + "]" * 300 + "\n", "- {id: a\n"])
def test_a_file_that_does_not_read_back_is_not_edited(text: str):
    candidate, why = cut_entry(text, "a")
    assert candidate is None and "cannot be read back" in why
