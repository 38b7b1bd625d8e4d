"""Paragraph help: `paragraph N`, where a misplaced quote really is, and `check --fix` after the article changes."""

from __future__ import annotations

import difflib
import fcntl
import io
import re
from pathlib import Path

import pytest

from bot.cli import check, paragraph
from bot.config import DEFAULT_KNOWLEDGE_DIR
from bot.knowledge import load_knowledge
from bot.knowledge.editor import LOCK_FILE
from bot.knowledge.renumber import fixable, line_diff, renumber
from tests.knowledge_dirs import copy_knowledge

P15 = "“He’s going to fight for those autoworkers, as all of our MPs have been doing,” Poilievre said."


@pytest.fixture
def kdir(tmp_path: Path) -> Path:
    return copy_knowledge(DEFAULT_KNOWLEDGE_DIR, tmp_path)


def run_check(kdir: Path, **kwargs: bool) -> tuple[int, list[str]]:
    out = io.StringIO()
    code = check(kdir, out, **kwargs)
    first, *lines = out.getvalue().splitlines()
    assert first == f"knowledge: {kdir.resolve()}"  # which folder was checked, always first
    return code, "\n".join(lines).replace(f"{kdir}/", "").splitlines()


def test_paragraph_shows_one_paragraph_with_its_number(capsys: pytest.CaptureFixture[str]) -> None:
    out = io.StringIO()
    assert paragraph(DEFAULT_KNOWLEDGE_DIR, "¶15", out) == 0
    assert out.getvalue() == f"¶15 (Washington Trip)\n{P15}\n"
    assert paragraph(DEFAULT_KNOWLEDGE_DIR, "99", io.StringIO()) == 1
    assert capsys.readouterr().err == "there is no paragraph '99': the article has ¶1 to ¶23\n"


def test_paragraph_lists_all_numbers_and_marks_the_headings() -> None:
    out = io.StringIO()
    assert paragraph(DEFAULT_KNOWLEDGE_DIR, None, out) == 0
    lines = out.getvalue().splitlines()
    numbered = [line for line in lines if line.startswith("¶")]
    assert [int(re.match(r"¶(\d+)", line)[1]) for line in numbered] == list(range(1, 24))
    assert f"¶15  {P15}" in lines
    assert "[Washington Trip]" in lines and lines.index("[Washington Trip]") == lines.index(numbered[12]) - 1


def test_a_quote_under_the_wrong_paragraph_says_where_it_is(kdir: Path) -> None:
    (kdir / "qa-x.yaml").write_text(
        "- id: misplaced-quote\n  question: Who does Jivani fight for, says Poilievre?\n"
        "  answer: Jivani, Poilievre said.\n"
        "  citations:\n    - {paragraph: 16, quote: \"fight for those autoworkers\"}\n", encoding="utf-8")
    code, lines = run_check(kdir)
    assert code == 1
    assert lines[:2] == ["qa-x.yaml:5: quote is in ¶15, not ¶16: 'fight for those autoworkers'",
                         "run `python -m bot check --fix` to renumber them (it shows each change as a diff)"]
    kb = load_knowledge(kdir).kb  # meanwhile the entry answers, citing the paragraph the quote is in
    assert kb is not None and kb.entry("misplaced-quote").citations[0].paragraph == 15


def test_fixing_the_articles_typo_gives_one_problem_per_changed_quote(kdir: Path) -> None:
    article = kdir / "article.txt"
    article.write_text(article.read_text(encoding="utf-8").replace("USCMA review", "CUSMA review"), encoding="utf-8")
    changed = sum(len(re.findall(r"quote: .*USCMA", f.read_text(encoding="utf-8"))) for f in kdir.glob("*.yaml"))
    code, lines = run_check(kdir)
    found = [line for line in lines if re.match(r"[\w-]+\.yaml:\d+: ", line)]
    assert code == 1 and len(found) == changed >= 3
    assert all(": quote is not in paragraph 23: '" in line and "USCMA" in line for line in found)
    assert "terms.yaml:14: quote is not in paragraph 23: 'The Liberal government has said it now has its sights " \
           "set on the USCMA review'" in lines
    hint = lines[lines.index(found[1]) + 1]
    assert hint == "    ¶23 says: 'The Liberal government has said it now has its sights set on the CUSMA review'"


def insert_paragraph(kdir: Path, before: str) -> None:
    article = kdir / "article.txt"
    lines = article.read_text(encoding="utf-8").split("\n")
    at = next(i for i, line in enumerate(lines) if line.startswith(before))
    lines.insert(at, "An editor's note inserted into the story.")
    article.write_text("\n".join(lines), encoding="utf-8")


def test_an_inserted_paragraph_is_one_short_report_and_check_fix_renumbers(kdir: Path) -> None:
    insert_paragraph(kdir, "Jivani had said on Feb. 3")  # the new ¶5
    before = {f.name: f.read_text(encoding="utf-8") for f in kdir.glob("*.yaml")}
    code, lines = run_check(kdir)
    assert code == 1
    moved = int(lines[0].split()[0])
    assert moved > 200
    assert lines[:3] == [
        f"{moved} citations cite a paragraph that no longer holds their quote; each quote is verbatim in another "
        "paragraph (did the article change?):",
        f"  ¶5–¶23: now 1 paragraph later ({moved} citations)",
        "run `python -m bot check --fix` to renumber them (it shows each change as a diff)",
    ]
    assert len(lines) == 6

    code, lines = run_check(kdir, fix=True)
    assert code == 0
    assert f"renumbered {moved} citation(s)" in lines
    assert "-      - {paragraph: 7, quote: \"Jivani’s Bowmanville—Oshawa North riding in Ontario\"}" in lines
    assert "+      - {paragraph: 8, quote: \"Jivani’s Bowmanville—Oshawa North riding in Ontario\"}" in lines
    assert lines[-1] == "paragraphs covered: 23/24"
    for name, old in before.items():  # only the numbers changed: comments, quotes and layout are as written
        new = (kdir / name).read_text(encoding="utf-8")
        assert re.sub(r"paragraph: \d+", "", new) == re.sub(r"paragraph: \d+", "", old), name
    assert load_knowledge(kdir).ok


def test_check_fix_keeps_a_symlinked_file_a_symlink(kdir: Path, tmp_path: Path) -> None:
    real = tmp_path / "shared-qa.yaml"
    (kdir / "qa-tariffs.yaml").rename(real)
    (kdir / "qa-tariffs.yaml").symlink_to(real)
    before = real.read_text(encoding="utf-8")
    insert_paragraph(kdir, "Jivani had said on Feb. 3")
    code, _ = run_check(kdir, fix=True)
    assert code == 0
    after = real.read_text(encoding="utf-8")  # renumbered through the link, whichever paragraphs the file cites
    assert (kdir / "qa-tariffs.yaml").is_symlink() and after != before
    assert re.sub(r"paragraph: \d+", "", after) == re.sub(r"paragraph: \d+", "", before)
    assert not [f for f in kdir.iterdir() if f.name.endswith(".tmp")]


def test_check_fix_leaves_a_number_edited_since_the_check(kdir: Path) -> None:
    insert_paragraph(kdir, "Jivani had said on Feb. 3")
    fix = fixable(load_knowledge(kdir).problems)[0]
    assert fix.mark is not None
    text = fix.path.read_text(encoding="utf-8")
    edited = text[:fix.mark.start] + "1" + text[fix.mark.end:]  # a moderator changed it meanwhile
    fix.path.write_text(edited, encoding="utf-8")
    result = renumber(kdir, [fix])
    assert result.fixed == 0 and result.diff == ""
    assert result.skipped == (f"{fix.path}:{fix.mark.line}: changed since it was checked; run check again",)
    assert fix.path.read_text(encoding="utf-8") == edited


def test_check_fix_diff_is_difflibs_diff_made_in_one_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    """Thousands of renumbered citations made difflib's quadratic matching take minutes."""
    old = "".join(f"- {{paragraph: {n}, quote: q{n}}}\n" for n in range(1, 400)) + "last: 7"
    new = re.sub(r"paragraph: (\d+)", lambda m: f"paragraph: {int(m[1]) + (int(m[1]) % 9 < 2)}", old)
    new = new.replace("last: 7", "last: 8")
    expected = "".join(difflib.unified_diff(old.splitlines(True), new.splitlines(True), "qa.yaml", "qa.yaml"))

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("difflib's matcher is quadratic")

    with monkeypatch.context() as patched:
        patched.setattr(difflib, "SequenceMatcher", refuse)
        made, unchanged = line_diff(old, new, "qa.yaml"), line_diff(old, old, "qa.yaml")
    assert made == expected and unchanged == ""


def test_check_fix_holds_the_edit_lock_only_to_write(kdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A /kb add must not wait while the new texts and their diffs are made."""
    from bot.knowledge import renumber as module

    insert_paragraph(kdir, "Jivani had said on Feb. 3")
    made, writes = [], []

    def lock_is_free() -> bool:
        with (kdir / LOCK_FILE).open("a") as other:  # another open file: flock conflicts within one process too
            try:
                fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            fcntl.flock(other, fcntl.LOCK_UN)
            return True

    real_diff, real_write = module.line_diff, module.write_atomic
    monkeypatch.setattr(module, "line_diff", lambda *a: made.append(lock_is_free()) or real_diff(*a))
    monkeypatch.setattr(module, "write_atomic", lambda *a: writes.append(lock_is_free()) or real_write(*a))
    result = renumber(kdir, fixable(load_knowledge(kdir).problems))
    assert result.fixed > 200 and made and writes
    assert all(made) and not any(writes)
