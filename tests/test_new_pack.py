"""`check` on a pack for a new story: a missing required file is named as missing, and a heading left out of
story.yaml is found before any renumbering is offered (renumbering would cite the wrong paragraphs)."""

from __future__ import annotations

import io
from pathlib import Path

from bot.cli import check
from bot.knowledge import load_knowledge
from tests.knowledge_dirs import millbrook


def test_a_missing_required_file_is_named_as_missing(tmp_path: Path) -> None:
    pack = millbrook(tmp_path)
    (pack / "people.yaml").unlink()
    problems = [str(p) for p in load_knowledge(pack).problems]
    assert any(p.endswith("people.yaml:0: required file missing: create it (`[]` if the story has none yet)")
               for p in problems), problems
    assert not any("cannot read file" in p for p in problems)


def test_an_undeclared_heading_is_found_and_no_renumbering_is_offered(tmp_path: Path) -> None:
    pack = millbrook(tmp_path)
    article = (pack / "article.txt").read_text(encoding="utf-8").splitlines()
    (pack / "article.txt").write_text("\n".join([article[0], "The Contest", *article[1:]]) + "\n", encoding="utf-8")
    out = io.StringIO()
    assert check(pack, out) == 1
    report = out.getvalue()
    assert "article.txt:2: 'The Contest' looks like a heading: declare it in story.yaml's `headings:`" in report
    assert "--fix" not in report and "declare the headings above first" in report
