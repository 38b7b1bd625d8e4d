"""Q&A entries that refer to a person/term/event fact with `see:` instead of copying its text and quotes.

On a copy of the small fixture knowledge: jivani's fact (people.yaml ¶2 quote), cusma's definition, the
feb4-white-house event.
"""

from __future__ import annotations

import io
import textwrap
from pathlib import Path

import pytest

from bot.cli import check
from bot.engine import Engine
from bot.knowledge import load_knowledge
from bot.knowledge.editor import add_phrasing, entry_yaml, restore_entry
from bot.knowledge.model import Citation, KnowledgeBase
from bot.lint import restated_facts
from tests.knowledge_dirs import FIXTURE, copy_knowledge

ROOMMATE = "a close friend and former university roommate of U.S. Vice-President JD Vance"


@pytest.fixture
def kdir(tmp_path: Path) -> Path:
    kdir = copy_knowledge(FIXTURE, tmp_path)
    people = kdir / "people.yaml"  # give jivani's listed fact an id, as a moderator would to refer to it
    people.write_text(people.read_text(encoding="utf-8").replace(
        "    - text: A close friend", "    - id: vance-roommate\n      text: A close friend"), encoding="utf-8")
    return kdir


def write_qa(kdir: Path, text: str) -> None:
    (kdir / "qa-see.yaml").write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")


def loaded(kdir: Path) -> KnowledgeBase:
    result = load_knowledge(kdir)
    assert result.problems == () and result.kb is not None
    return result.kb


def messages(kdir: Path) -> list[str]:
    return [f"{Path(p.path).name}:{p.line}: {p.message}" for p in load_knowledge(kdir).problems]


def assert_only_left_out(kdir: Path, gone: str, kept: str) -> None:
    """A problem disables its own entry only: the knowledge still loads, with the other entry."""
    kb = load_knowledge(kdir).kb
    assert kb is not None and kb.entry(gone) is None and kb.entry(kept) is not None


REFERRING = """
    - id: jivani-vance
      question: How does Jivani know Vance?
      phrasings:
        - jivani vance roommates
      see: person jivani fact vance-roommate
    - id: what-is-cusma
      question: What does CUSMA stand for?
      see: term cusma
    - id: when-white-house
      question: When did Jivani meet White House officials?
      see: event feb4-white-house
      answer: On Feb. 4, by his account.
"""


def test_a_reference_answers_with_the_facts_text_and_quotes_and_a_fix_to_the_fact_reaches_it(kdir: Path) -> None:
    write_qa(kdir, REFERRING)
    kb = loaded(kdir)
    vance, cusma, when = kb.entry("jivani-vance"), kb.entry("what-is-cusma"), kb.entry("when-white-house")
    assert (vance.answer, vance.citations) == (kb.person("jivani").facts[0].text, (Citation(2, ROOMMATE),))
    assert (cusma.answer, cusma.citations) == (kb.term("cusma").definition.text, kb.term("cusma").definition.citations)
    # an own sentence, with the event's citations
    assert (when.answer, when.citations) == ("On Feb. 4, by his account.", kb.timeline[0].citations)
    answer = Engine(kb).ask("jivani vance roommates")
    assert answer.source == "qa:jivani-vance" and answer.citations == (Citation(2, ROOMMATE),)

    people = kdir / "people.yaml"
    people.write_text(people.read_text(encoding="utf-8").replace(
        "text: A close friend and former", "text: Jivani is a close friend and former"), encoding="utf-8")
    assert loaded(kdir).entry("jivani-vance").answer.startswith("Jivani is a close friend and former")


@pytest.mark.parametrize("see, message", [
    ("person jivanni", "see: unknown person 'jivanni'; did you mean 'jivani'?"),
    ("term cusmaa", "see: unknown term 'cusmaa'; did you mean 'cusma'?"),
    ("event feb4-whitehouse", "see: unknown event 'feb4-whitehouse'; did you mean 'feb4-white-house'?"),
    ("person nobody-at-all", "see: unknown person 'nobody-at-all' (not in person ids)"),
    ("persn jivani", "see: unknown kind 'persn'; did you mean 'person'?"),
    ("people jivani", "see: unknown kind 'people'; did you mean 'person'?"),
    ("person jivani fact vance-roomate", "see: person 'jivani' has no fact 'vance-roomate'; "
                                         "did you mean 'vance-roommate'?"),
    ("person trump fact loves-canada", "see: person 'trump' has no fact 'loves-canada'; "
                                       "give the fact an 'id:' line in people.yaml"),
    ("jivani", "see: 'jivani' is not a reference; write it like 'person <id>', 'term <id>', "
               "'event <id>' or 'person <id> fact <fact id>'"),
])
def test_a_reference_to_a_missing_fact_names_its_line_and_what_was_meant(kdir: Path, see: str, message: str) -> None:
    write_qa(kdir, f"""
        # a comment line
        - id: broken-ref
          question: Is this entry left out?
          see: {see}
        - id: kept
          question: Is this one kept?
          see: term cusma
    """)
    assert messages(kdir) == [f"qa-see.yaml:4: {message}"]  # the see: line
    assert_only_left_out(kdir, "broken-ref", "kept")


def test_a_reference_with_its_own_citations_is_an_error_at_the_citations(kdir: Path) -> None:
    write_qa(kdir, f"""
        - id: both
          question: How does Jivani know Vance?
          see: person jivani fact vance-roommate
          citations:
            - {{paragraph: 2, quote: "{ROOMMATE}"}}
    """)
    assert messages(kdir) == ["qa-see.yaml:4: an entry with 'see:' takes its citations from that fact: "
                              "remove 'citations' (or 'see' to keep its own)"]


def test_a_reference_to_a_fact_with_a_problem_of_its_own_adds_no_second_problem(kdir: Path) -> None:
    write_qa(kdir, REFERRING)
    terms = kdir / "terms.yaml"
    terms.write_text(terms.read_text(encoding="utf-8").replace("(USMCA/CUSMA)", "(USCMA/CUSMA)"), encoding="utf-8")
    found = messages(kdir)
    assert len(found) == 1 and found[0].startswith("terms.yaml:")
    assert_only_left_out(kdir, "what-is-cusma", "jivani-vance")


# An entry with its own copy of Jivani's vance-roommate fact's quote.
COPIES_A_FACT = f"""
        - id: roommates
          question: Were Jivani and Vance roommates?
          answer: Yes, at university.
          citations:
            - {{paragraph: 2, quote: "{ROOMMATE}"}}
"""


def test_lint_suggests_see_for_an_entry_that_copies_a_facts_quotes(kdir: Path) -> None:
    write_qa(kdir, COPIES_A_FACT + """\
        - id: message-copy
          question: When did Jivani meet White House officials?
          answer: On Feb. 4.
          citations:
            - {paragraph: 1, quote: "he met with White House officials on Feb. 4"}
    """)
    warnings = [str(w).replace(f"{kdir}/", "") for w in restated_facts(loaded(kdir))]
    tail = ("instead of its citations (and drop its answer if the fact's text answers its question as well), "
            "so a fix to the fact fixes this entry too")
    assert warnings == [
        "qa-see.yaml:1: warning: 'roommates' copies the quotes of `person jivani fact vance-roommate` 'A close "
        "friend and former university roommate of U.S. Vice-President JD Vance.': write "
        f"`see: person jivani fact vance-roommate` {tail}",
        "qa-see.yaml:6: warning: 'message-copy' copies the quotes of `event feb4-white-house` 'Jivani met White "
        f"House officials in Washington.': write `see: event feb4-white-house` {tail}"]
    write_qa(kdir, REFERRING)  # the see: form is what it asks for: no warning left
    assert restated_facts(loaded(kdir)) == []
    out = io.StringIO()
    assert check(kdir, out, lint=True) == 0 and "copies the quotes" not in out.getvalue()


def test_lint_asks_for_an_id_when_the_copied_fact_has_none(tmp_path: Path) -> None:
    kdir = copy_knowledge(FIXTURE, tmp_path)
    write_qa(kdir, COPIES_A_FACT)
    (warning,) = restated_facts(loaded(kdir))
    assert "copies the quotes of a fact of person jivani 'A close friend" in warning.message
    assert "give that fact an `id:` and write `see: person jivani fact <that id>`" in warning.message


def test_the_audit_keeps_the_reference_and_a_phrasing_can_join_a_referring_entry(kdir: Path) -> None:
    write_qa(kdir, REFERRING)
    kb = loaded(kdir)
    assert entry_yaml(kb.entry("jivani-vance")) == (
        "- id: jivani-vance\n  question: How does Jivani know Vance?\n  phrasings:\n    - jivani vance roommates\n"
        "  see: person jivani fact vance-roommate\n")
    assert "answer: On Feb. 4, by his account.\n" in entry_yaml(kb.entry("when-white-house"))
    assert "citations" not in entry_yaml(kb.entry("when-white-house"))

    assert add_phrasing(kdir, "jivani-vance", "are jivani and vance old friends").ok
    assert loaded(kdir).entry("jivani-vance").phrasings[-1] == "are jivani and vance old friends"

    kept = entry_yaml(loaded(kdir).entry("what-is-cusma"))
    (kdir / "qa-see.yaml").write_text(textwrap.dedent(REFERRING).replace(
        "- id: what-is-cusma\n  question: What does CUSMA stand for?\n  see: term cusma\n", ""), encoding="utf-8")
    assert loaded(kdir).entry("what-is-cusma") is None
    assert restore_entry(kdir, kept).ok
    assert loaded(kdir).entry("what-is-cusma").see.text == "term cusma"
