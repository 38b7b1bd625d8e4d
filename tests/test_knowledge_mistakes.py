"""Each mistake a moderator (or a hostile file) can make, and the exact line the moderator sees.

Every case loads a copy of the small fixture knowledge with one bad file added; the loader must
never raise, must say `path:line: message`, and must keep everything else.
"""

from __future__ import annotations

import textwrap
import tracemalloc
from pathlib import Path

import pytest

from bot.engine import load_engine
from bot.knowledge import load_knowledge
from bot.knowledge.yamlfile import MAX_FILE_BYTES
from tests.knowledge_dirs import FIXTURE, copy_knowledge

QUOTE = '    - {paragraph: 1, quote: "Conservative MP Jamil Jivani"}\n'
GOOD = "- id: good-entry\n  question: Is the good entry kept?\n  answer: Yes.\n  citations:\n" + QUOTE


@pytest.fixture
def kdir(tmp_path: Path) -> Path:
    return copy_knowledge(FIXTURE, tmp_path)


def problems(kdir: Path, name: str, text: str | bytes) -> list[str]:
    """Write `name` into the knowledge copy, load, and return its problems as `name:line: message`."""
    path = kdir / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    result = load_knowledge(kdir)
    assert result.kb is not None  # the rest of the knowledge is always there
    return [f"{Path(p.path).name}:{p.line}: {p.message}" for p in result.problems]


def qa_ids(kdir: Path) -> set[str]:
    kb = load_knowledge(kdir).kb
    assert kb is not None
    return {e.id for e in kb.qa}


# --- values YAML would turn into something else than text -------------------------------------


def test_an_impossible_date_is_just_text(kdir: Path) -> None:
    events = (kdir / "timeline.yaml").read_text(encoding="utf-8")
    (kdir / "timeline.yaml").write_text(events.replace("when: Feb. 4", "when: 2025-02-30", 1), encoding="utf-8")
    result = load_knowledge(kdir)
    assert result.problems == ()
    assert result.kb is not None and "2025-02-30" in {ev.when for ev in result.kb.timeline}


@pytest.mark.parametrize("tag, value", [("!!int", "abc"), ("!!bool", "maybe"), ("!!timestamp", "soon")])
def test_type_tags_are_refused_with_what_to_do(kdir: Path, tag: str, value: str) -> None:
    found = problems(kdir, "qa-x.yaml", f"- id: tagged\n  question: {tag} {value}\n  answer: A.\n  citations:\n"
                     + QUOTE + GOOD)
    assert found == [f"qa-x.yaml:2: '{tag}' is a YAML type tag, and every value here is text: remove '{tag}' "
                     "(or put the whole value in quotes)"]
    assert "good-entry" in qa_ids(kdir) and "tagged" not in qa_ids(kdir)


def test_words_yaml_would_read_as_booleans_stay_text(kdir: Path) -> None:
    assert problems(kdir, "qa-x.yaml", GOOD.replace("answer: Yes.", "answer: No")) == []
    kb = load_knowledge(kdir).kb
    assert kb is not None and kb.entry("good-entry").answer == "No"  # PyYAML would have made it False


def test_a_5000_digit_paragraph_number(kdir: Path) -> None:
    found = problems(kdir, "qa-x.yaml", GOOD.replace("paragraph: 1", "paragraph: " + "9" * 5000))
    assert found == ["qa-x.yaml:5: citation 'paragraph' must be a number like 4, not '" + "9" * 100 + "…'"]


def test_nesting_300_levels_deep(kdir: Path) -> None:
    found = problems(kdir, "qa-x.yaml", "- id: deep\n  question: " + "[" * 300 + "]" * 300 + "\n")
    assert found == ["qa-x.yaml:2: nested more than 12 levels deep; knowledge entries nest a few levels at most: "
                     "check the indentation"]


def test_an_alias_bomb_is_refused_without_expanding_it(kdir: Path) -> None:
    levels = ["&a [x, x, x, x, x, x, x, x, x]"] + [
        f"&{chr(98 + i)} [" + ", ".join([f"*{chr(97 + i)}"] * 9) + "]" for i in range(10)]
    bomb = "- id: bomb\n  question: Q?\n" + "".join(f"  k{i}: {v}\n" for i, v in enumerate(levels))
    assert 500 < len(bomb) < 700  # 9**11: 31 billion strings if expanded
    tracemalloc.start()
    try:
        found = problems(kdir, "qa-x.yaml", bomb + GOOD)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50_000_000
    assert found[0] == ("qa-x.yaml:3: '&a' is a YAML anchor or alias; knowledge files don't use them: "
                        "write the value out in full (or put it in quotes)")
    assert [f for f in found if "anchor or alias" in f] == found[:1]  # once per entry, not once per alias
    assert "good-entry" in qa_ids(kdir)


def test_a_50_mb_junk_file_is_refused_by_its_size(kdir: Path) -> None:
    path = kdir / "qa-junk.yaml"
    with path.open("wb") as f:
        f.truncate(50 * 1024 * 1024)  # sparse: 50 MB of NUL bytes without writing them
    result = load_knowledge(kdir)
    assert [str(p).split("/")[-1] for p in result.problems] == [
        f"qa-junk.yaml:0: file is larger than {MAX_FILE_BYTES // 2**20} MB (52,428,800 bytes); knowledge files "
        "are small text files: is this the right file?"]


def test_binary_and_huge_lines_never_reach_a_message_whole(kdir: Path) -> None:
    found = problems(kdir, "qa-x.yaml", b"- id: x\n  question: \xff\xfe\n")
    assert found == ["qa-x.yaml:2: this line is not UTF-8 text: save the file as UTF-8 (is it a text file at all?)"]
    found = problems(kdir, "qa-x.yaml", GOOD.replace('quote: "Conservative', 'quote: "' + "x" * 3_000_000))
    assert len(found) == 1 and len(found[0]) < 200
    assert found[0].startswith("qa-x.yaml:5: quote is not in paragraph 1: 'xxxx")


def test_a_fifo_is_not_read(kdir: Path) -> None:
    import os

    os.mkfifo(kdir / "qa-pipe.yaml")
    found = [f"{Path(p.path).name}:{p.line}: {p.message}" for p in load_knowledge(kdir).problems]
    assert found == ["qa-pipe.yaml:0: not a regular file (a pipe, device or directory?); knowledge files are "
                     "text files"]


def test_a_symlink_loop_is_a_problem_not_a_crash(kdir: Path) -> None:
    (kdir / "qa-loop.yaml").symlink_to(kdir / "qa-loop.yaml")
    found = [f"{Path(p.path).name}:{p.line}: {p.message}" for p in load_knowledge(kdir).problems]
    assert found == ["qa-loop.yaml:0: cannot read file: Too many levels of symbolic links"]


# --- misspelt keys ------------------------------------------------------------------------------


@pytest.mark.parametrize("line, shown, meant", [
    ("  phrasing:\n    - how many phrasings\n", "phrasing", "phrasings"),
    ("  anwser: A.\n", "anwser", "answer"),
    ("  persons: [jivani]\n", "persons", "people"),
])
def test_a_misspelt_key_names_the_key_meant(kdir: Path, line: str, shown: str, meant: str) -> None:
    text = "- id: misspelt\n  question: Q?\n" + line + ("" if meant == "answer" else "  answer: A.\n")
    found = problems(kdir, "qa-x.yaml", text + "  citations:\n" + QUOTE)
    assert found == [f"qa-x.yaml:3: unknown key '{shown}'; did you mean '{meant}'?"]


def test_a_misspelt_citation_key(kdir: Path) -> None:
    found = problems(kdir, "qa-x.yaml", GOOD.replace("{paragraph:", "{pargraph:"))
    assert found == ["qa-x.yaml:5: unknown key 'pargraph'; did you mean 'paragraph'?"]


def test_an_unknown_key_with_nothing_close_lists_the_keys(kdir: Path) -> None:
    found = problems(kdir, "qa-x.yaml", GOOD.replace("  answer:", "  colour: red\n  answer:"))
    assert found == ["qa-x.yaml:3: unknown key 'colour'; the keys here are id, question, phrasings, see, answer, "
                     "citations, people, terms"]


# --- YAML syntax, in a moderator's words, at the line the mistake starts ---------------------------


@pytest.mark.parametrize("bad, line, message", [
    ("  question: What did he say: yes or no?\n", 2, "a value containing ': ' needs quotes: put the whole value in "
                                                     "double quotes"),
    ('  question: "What did he say?\n', 2, "this quote is never closed: add the closing quote at the end of the "
                                           "value"),
    ("  question: 'What did he say?\n", 2, "this quote is never closed: add the closing quote at the end of the "
                                           "value"),
    ("  question: Q?\n   answer: A.\n", 3, "indentation: this line is indented more than the lines above it, or a "
                                           "'-' lacks its space; line up the keys of one entry"),
    ("  question: Q?\n\tanswer: A.\n", 3, "a tab character: indent with spaces, never tabs"),
    ('  question: "Jivani" met Vance?\n', 2, "text after a closing quote: put the quotes around the whole value "
                                             "(inside single quotes write '' for ')"),
    ("  question: @jivani who?\n", 2, "a value cannot start with '@': put the whole value in double quotes"),
    ("  question: [Q?\n", 2, "a list in [ ] is not closed, or its items lack commas: close it with ], and put an "
                             "item containing ',' ':' '[' or ']' in quotes"),
])
def test_a_syntax_error_loses_only_its_entry(kdir: Path, bad: str, line: int, message: str) -> None:
    entry = "- id: broken\n" + bad + "  answer: A.\n  citations:\n" + QUOTE
    found = problems(kdir, "qa-x.yaml", entry + GOOD)
    assert found == [f"qa-x.yaml:{line}: {message}"]
    assert "good-entry" in qa_ids(kdir)


# --- one bad entry disables that entry only; no cascades ---------------------------------------------


def test_a_broken_term_quote_is_one_problem_and_references_to_it_hold(kdir: Path) -> None:
    terms = (kdir / "terms.yaml").read_text(encoding="utf-8")
    term_id = next(line.split(":", 1)[1].strip() for line in terms.splitlines() if line.startswith("- id:"))
    broken = terms.replace('quote: "', 'quote: "NOT IN THE STORY ', 1)
    (kdir / "terms.yaml").write_text(broken, encoding="utf-8")
    found = problems(kdir, "qa-x.yaml", GOOD.replace("  answer:", f"  terms: [{term_id}]\n  answer:"))
    assert len(found) == 1 and "quote is not in paragraph" in found[0] and found[0].startswith("terms.yaml:")
    kb = load_knowledge(kdir).kb
    assert kb is not None and kb.term(term_id) is None
    assert kb.entry("good-entry") is not None and kb.entry("good-entry").terms == ()


def test_ask_answers_from_everything_valid(kdir: Path) -> None:
    problems(kdir, "qa-x.yaml", "- id: broken\n  question: [Q?\n")
    engine, found = load_engine(kdir)
    assert engine is not None and len(found) == 1
    assert engine.ask("What message did Trump ask Jivani to pass along to Canadians?").answered


def test_entries_in_a_qa_folder_are_loaded(kdir: Path) -> None:
    (kdir / "qa").mkdir()
    (kdir / "qa" / "trade.yaml").write_text(GOOD, encoding="utf-8")
    (kdir / "qa" / "notes.txt").write_text("not knowledge", encoding="utf-8")
    result = load_knowledge(kdir)
    assert result.problems == ()
    assert result.kb is not None
    entry = result.kb.entry("good-entry")
    assert entry is not None and entry.origin.path.endswith("qa/trade.yaml") and entry.origin.line == 1
    (kdir / "qa" / "more.yaml").write_text(GOOD, encoding="utf-8")
    found = [f"{Path(p.path).parent.name}/{Path(p.path).name}:{p.line}: {p.message}"
             for p in load_knowledge(kdir).problems]
    assert found[0].startswith("qa/trade.yaml:1: duplicate Q&A id 'good-entry' (first at ")
