"""`check --lint`: warnings about phrasings the engine matches anyway and answers that repeat each other."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from bot.cli import check
from bot.knowledge import load_knowledge
from bot.lint import lint
from tests.knowledge_dirs import FIXTURE, copy_knowledge

QUOTE = '    - {paragraph: 1, quote: "Tell the Canadians I love them"}\n'


@pytest.fixture
def kdir(tmp_path: Path) -> Path:
    return copy_knowledge(FIXTURE, tmp_path)


def test_a_phrasing_the_engine_matches_anyway_is_a_warning_and_a_needed_one_is_not(kdir: Path) -> None:
    kb = load_knowledge(kdir).kb
    assert kb is not None
    messages = [str(w).replace(f"{kdir}/", "") for w in lint(kb)]
    assert messages == ["qa.yaml:6: warning: phrasing 'trump message to canadians' is answered by 'trump-message' "
                        "without it: it can go"]
    # "Tell the Canadians I love them" (qa.yaml:7) is the quote itself, not a question the engine can match
    # without being told: no warning for it.


def test_two_answers_saying_the_same_thing(kdir: Path) -> None:
    (kdir / "qa-x.yaml").write_text(
        "- id: love-message\n  question: Did Trump send Canadians his love?\n"
        "  answer: Trump asked Jivani to tell the Canadians that he loves them.\n  citations:\n" + QUOTE,
        encoding="utf-8")
    kb = load_knowledge(kdir).kb
    assert kb is not None
    same = [str(w).replace(f"{kdir}/", "") for w in lint(kb) if "says the same" in w.message]
    assert same == ["qa.yaml:3: warning: the answer of 'trump-message' says the same as 'love-message' "
                    f"({kdir}/qa-x.yaml:1): one entry with both questions as phrasings is easier to keep right"
                    .replace(f"{kdir}/", "")]


def test_warnings_alone_leave_check_passing(kdir: Path) -> None:
    out = io.StringIO()
    assert check(kdir, out, lint=True) == 0
    lines = out.getvalue().splitlines()
    assert any(": warning: phrasing 'trump message to canadians'" in line for line in lines)
    assert lines[-1] == "paragraphs covered: 4/23"
    out = io.StringIO()
    assert check(kdir, out) == 0 and "warning" not in out.getvalue().split("\n", 1)[1]  # only when asked


def test_strict_fails_on_a_warning_and_passes_without_one(kdir: Path) -> None:
    assert check(kdir, io.StringIO(), lint=True, strict=True) == 1  # 'trump message to canadians' can go
    qa = kdir / "qa.yaml"
    qa.write_text(qa.read_text(encoding="utf-8").replace("    - trump message to canadians\n",
                                                         "    - trump message to canadians  # keep: a test\n"),
                  encoding="utf-8")
    out = io.StringIO()
    assert check(kdir, out, lint=True, strict=True) == 0, out.getvalue()
    assert "warning" not in out.getvalue().split("\n", 1)[1]  # the first line names the folder


def test_a_focused_answer_inside_a_broader_one_is_not_the_same_answer(kdir: Path) -> None:
    (kdir / "qa-x.yaml").write_text(
        "- id: jivani-rubio\n  question: Did Jivani meet Marco Rubio?\n"
        "  answer: JD Vance, Usha Vance and Marco Rubio, and officials.\n  citations:\n"
        '    - {paragraph: 4, quote: "U.S. Secretary of State Marco Rubio on Feb. 4"}\n', encoding="utf-8")
    kb = load_knowledge(kdir).kb
    assert kb is not None
    assert not [w for w in lint(kb) if "says the same" in w.message]
