"""The loader and validator: the real knowledge passes; each kind of mistake is reported at its line."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from bot.cli import check
from bot.config import DEFAULT_KNOWLEDGE_DIR
from bot.knowledge import fold, load_knowledge
from bot.knowledge.article import parse_article

SHARED_ARTICLE = Path(__file__).resolve().parents[2] / "shared" / "story" / "article.txt"


@pytest.fixture
def kdir(tmp_path: Path) -> Path:
    """A copy of the real knowledge directory that a test may break."""
    target = tmp_path / "knowledge"
    shutil.copytree(DEFAULT_KNOWLEDGE_DIR, target)
    return target


def write(path: Path, text: str) -> None:
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")


def problems_of(kdir: Path) -> list[str]:
    return [f"{Path(p.path).name}:{p.line}: {p.message}" for p in load_knowledge(kdir).problems]


def test_real_knowledge_is_clean_and_covers_every_paragraph(capsys: pytest.CaptureFixture[str]) -> None:
    assert check(DEFAULT_KNOWLEDGE_DIR, __import__("sys").stdout) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == "paragraphs covered: 23/23"


@pytest.mark.skipif(not SHARED_ARTICLE.exists(), reason="the shared story is not beside the repository")
def test_article_copy_is_verbatim() -> None:
    ours = (DEFAULT_KNOWLEDGE_DIR / "article.txt").read_text(encoding="utf-8")
    assert ours == SHARED_ARTICLE.read_text(encoding="utf-8")


def test_paragraphs_skip_headings_and_know_their_section() -> None:
    kb = load_knowledge(DEFAULT_KNOWLEDGE_DIR).kb
    assert kb is not None
    paras = kb.article.paragraphs
    assert len(paras) == 23
    assert paras[0].text.startswith("Conservative MP Jamil Jivani says")
    assert paras[12].text.startswith("During the Conservative convention")
    assert paras[12].section == "Washington Trip"
    assert paras[17].section == "Canada-US Relations"
    assert paras[22].text.startswith("The Liberal government has said")
    assert all(fold(p.text) not in {"washington trip", "canada-us relations"} for p in paras)


def test_quote_check_folds_only_typography() -> None:
    article = parse_article("He said: “Tell the Canadians I love them.” Then—left.\n", [], "Lead")
    assert article.verify_quote(1, '"tell the canadians i love them."') is None
    assert article.verify_quote(1, "then-left") is None
    assert article.verify_quote(1, "Tell the Canadians I adore them") is not None
    assert "out of range" in (article.verify_quote(2, "anything") or "")


def test_invalid_yaml_gives_its_line(kdir: Path) -> None:
    write(kdir / "qa.yaml", """
        - id: ok-entry
          question: What?
          answer: [unclosed
        """)
    assert problems_of(kdir) == ["qa.yaml:3: a list in [ ] is not closed, or its items lack commas: close it "
                                 "with ], and put an item containing ',' ':' '[' or ']' in quotes"]


def test_each_mistake_is_reported_at_its_line(kdir: Path) -> None:
    write(kdir / "qa-extra.yaml", """
        - id: missing-answer
          question: Where did Jivani travel?
          citations:
            - {paragraph: 2, quote: "travelling to Washington"}
        - id: Bad Id
          question: A question with a bad id?
          answer: Something.
          citations:
            - {paragraph: 2, quote: "travelling to Washington"}
        - id: wrong-quote
          question: What did Trump say about Mexico?
          answer: Nothing.
          citations:
            - {paragraph: 1, quote: "Tell the Mexicans I love them"}
        - id: out-of-range
          question: What is in paragraph ninety-nine?
          answer: Nothing.
          citations:
            - {paragraph: 99, quote: "Jivani ate a pizza"}
        - id: unknown-person
          question: Who met Jivani's cousin?
          answer: Nobody.
          people: [cousin-of-jivani]
          citations:
            - {paragraph: 2, quote: "travelling to Washington"}
        - id: empty-answer
          question: What is empty?
          answer: "   "
          citations:
            - {paragraph: 2, quote: "travelling to Washington"}
        - id: wrong-type
          question: [not, text]
          answer: Something.
          citations: "¶2"
        - id: missing-answer
          question: Is this id a duplicate?
          answer: Yes.
          citations:
            - {paragraph: 2, quote: "travelling to Washington"}
        - id: same-question
          question: where did jivani travel
          answer: Washington.
          citations:
            - {paragraph: 2, quote: "travelling to Washington"}
        """)
    found = problems_of(kdir)
    expected = [
        "qa-extra.yaml:1: missing field 'answer'",
        "qa-extra.yaml:5: id 'Bad Id' must be lower-case",
        "qa-extra.yaml:14: quote is not in paragraph 1",
        "qa-extra.yaml:19: paragraph 99 is out of range 1..23",
        "qa-extra.yaml:23: unknown person 'cousin-of-jivani'",
        "qa-extra.yaml:28: field 'answer' is empty",
        "qa-extra.yaml:32: field 'question' must be text, not a list",
        "qa-extra.yaml:34: field 'citations' must be a non-empty list",
        "qa-extra.yaml:35: duplicate Q&A id 'missing-answer' (first at",
        "qa-extra.yaml:41: question 'where did jivani travel' is under both 'missing-answer'",
    ]
    for prefix in expected:
        assert any(p.startswith(prefix) for p in found), (prefix, found)


def test_duplicate_yaml_key_and_unknown_file_are_reported(kdir: Path) -> None:
    write(kdir / "qa-dup.yaml", """
        - id: twice
          question: Is a key given twice caught?
          answer: Yes.
          answer: Still yes.
          citations:
            - {paragraph: 2, quote: "travelling to Washington"}
        """)
    write(kdir / "peopel.yaml", "[]\n")
    found = problems_of(kdir)
    assert "qa-dup.yaml:4: duplicate key 'answer': only the last value would count" in found
    assert any(p.startswith("peopel.yaml:1: unknown knowledge file") for p in found)


def test_people_names_must_not_collide(kdir: Path) -> None:
    text = (kdir / "people.yaml").read_text(encoding="utf-8")
    text += textwrap.dedent("""
        - id: another-jivani
          name: Jamil Jivani
          role:
            text: A second entry with the same name.
            citations:
              - {paragraph: 1, quote: "Conservative MP Jamil Jivani"}
        """)
    (kdir / "people.yaml").write_text(text, encoding="utf-8")
    found = problems_of(kdir)
    assert any("is used by both 'jivani' and 'another-jivani'" in p for p in found), found


def test_check_keeps_going_and_exits_1(kdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(kdir / "timeline.yaml", """
        - id: bad-event
          when: Feb. 4
          text: Something.
          people: [nobody]
          citations:
            - {paragraph: 1, quote: "not in the article at all"}
        """)
    write(kdir / "terms.yaml", "just: [a, mapping]\n")
    assert check(kdir, __import__("sys").stdout) == 1
    out = capsys.readouterr().out
    assert "timeline.yaml:4: unknown person 'nobody'" in out
    assert "timeline.yaml:6: quote is not in paragraph 1" in out
    assert "terms.yaml:1: expected a list of terms" in out
    assert out.splitlines()[-1].startswith("paragraphs covered: ")


def test_missing_directory_and_story_are_problems_not_tracebacks(tmp_path: Path) -> None:
    result = load_knowledge(tmp_path / "nowhere")
    assert result.kb is None and "knowledge directory not found" in str(result.problems[0])
    (tmp_path / "k").mkdir()
    result = load_knowledge(tmp_path / "k")
    assert result.kb is None
    assert any("missing story file" in str(p) for p in result.problems)


def test_places_must_be_named_in_the_article(kdir: Path) -> None:
    story = (kdir / "story.yaml").read_text(encoding="utf-8")
    (kdir / "story.yaml").write_text(story + "  - Atlantis\n", encoding="utf-8")
    assert "article.txt:1: place 'Atlantis' from story.yaml is not named in the article" in problems_of(kdir)
