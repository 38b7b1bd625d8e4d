"""Rendering within Discord's limits whatever the knowledge or the reader writes (checked on the JSON sent)."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.discord import render
from bot.engine import DOESNT_SAY, Answer, Engine
from bot.knowledge import Citation, Event, Fact, Paragraph, Person, Term, fold
from bot.knowledge.loader import load_knowledge
from tests.standin import limits

text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=6000)
citations = st.lists(st.builds(Citation, st.integers(1, 23), text), max_size=40).map(tuple)


def assert_embed_fits(reply: render.Reply) -> None:
    assert reply.embed is not None
    embed = reply.embed.to_dict()
    assert isinstance(embed["footer"]["text"], str)  # every reply has a footer
    problems = limits.check_message({"embeds": [embed]})
    assert not problems, "; ".join(map(str, problems))


def test_budgets_add_up_to_less_than_discords_total() -> None:
    worst = (render.TITLE_LIMIT + render.DESCRIPTION_LIMIT + len(render.SOURCES) + render.FIELD_VALUE_LIMIT
             + len(render.RELATED) + render.RELATED_BUDGET + render.FOOTER_BUDGET)
    assert worst <= render.EMBED_TOTAL_LIMIT == limits.EMBED_TOTAL
    assert render.FOOTER_BUDGET <= render.FOOTER_LIMIT == limits.EMBED_FOOTER


def test_truncate_keeps_short_text_and_cuts_long_text_at_a_word() -> None:
    assert render.truncate("short", 10) == "short"
    cut = render.truncate("the quick brown fox jumps over the lazy dog", 20)
    assert cut == "the quick brown fox…" and len(cut) <= 20


def test_truncate_never_leaves_a_dangling_escape() -> None:
    cut = render.truncate(render.escape("a" * 8 + "*" * 10), 10)
    assert len(cut) <= 10 and not cut.endswith("\\…")


@given(st.text(max_size=300), st.integers(2, 200))
def test_truncate_fits(value: str, limit: int) -> None:
    assert len(render.truncate(value, limit)) <= limit


@given(st.lists(st.text(st.characters(exclude_characters="\n"), min_size=1, max_size=400), max_size=60),
       st.integers(40, 2000))
def test_fit_lines_fits_and_counts_what_it_left_out(lines: list[str], limit: int) -> None:
    out = render.fit_lines(lines, limit)
    assert len(out) <= limit
    if len("\n".join(lines)) <= limit:
        assert out == "\n".join(lines)
    elif "…and " in out.rsplit("\n", 1)[-1]:
        shown = out.count("\n")
        assert out.rsplit("\n", 1)[-1] == f"…and {len(lines) - shown} more"


def test_sources_are_paragraph_and_quote_once_each() -> None:
    lines = render.source_lines([Citation(1, "“Tell the Canadians I love them.”"),
                                 Citation(1, "Tell the Canadians I love them."), Citation(7, "a *strong* network")])
    assert lines == ["¶1 — “Tell the Canadians I love them.”", r"¶7 — “a \*strong\* network”"]


def test_abstention_is_plain_text_with_a_pointer_to_the_buttons() -> None:
    assert render.answer_reply(Answer("q", False, DOESNT_SAY, 0.1), "S").content == DOESNT_SAY
    with_suggestions = render.answer_reply(Answer("q", False, DOESNT_SAY, 0.3, suggestions=("a?",)), "S")
    assert with_suggestions.content == DOESNT_SAY + "\nPerhaps one of these:" and with_suggestions.embed is None


@settings(max_examples=60, deadline=None)
@given(text, text, citations, text, st.lists(text, max_size=3))
def test_any_answer_fits(question: str, answer: str, cited: tuple[Citation, ...], title: str,
                         related: list[str]) -> None:
    assert_embed_fits(render.answer_reply(Answer(question, True, answer, 1.0, cited, suggestions=tuple(related)),
                                          title))


def test_an_unsure_answer_offers_related_questions() -> None:
    reply = render.answer_reply(Answer("q", True, "a", 0.6, (Citation(1, "quote"),), suggestions=("Who is X?",)), "S")
    assert reply.embed is not None
    fields = {f.name: f.value for f in reply.embed.fields}
    assert fields[render.RELATED] == "• Who is X?"


@settings(max_examples=30, deadline=None)
@given(text, st.lists(st.builds(Fact, text, citations), min_size=1, max_size=60), text)
def test_any_profile_fits(name: str, facts: list[Fact], title: str) -> None:
    person = Person("p", name or "x", (), facts[0], tuple(facts[1:]))
    term = Term("t", name or "x", (), facts[0], tuple(facts[1:]))
    assert_embed_fits(render.person_reply(person, title))
    assert_embed_fits(render.term_reply(term, title))


@settings(max_examples=30, deadline=None)
@given(st.lists(st.builds(Event, st.text(max_size=50), st.text(max_size=50), text, citations), min_size=1,
                max_size=200), st.one_of(st.none(), st.text(min_size=1, max_size=100)))
def test_any_timeline_fits(events: list[Event], query: str | None) -> None:
    assert_embed_fits(render.timeline_reply(events, query, "Story"))


def test_paragraph_shows_section_and_escaped_text() -> None:
    said = "He said *this* and __that__."
    reply = render.paragraph_reply(Paragraph(3, said, "Washington Trip", fold(said)), "Story")
    assert reply.embed.title == "¶3 — Washington Trip"
    assert reply.embed.description == r"He said \*this\* and \_\_that\_\_."


def test_a_long_unknown_name_still_fits_content() -> None:
    reply = render.not_found_reply("anyone", "x" * 5000, ["a" * 3000])
    assert len(reply.content) <= 2000


def test_reply_kwargs_leave_out_what_is_not_set_and_never_ping() -> None:
    kwargs = render.Reply(content="hi").kwargs()
    assert set(kwargs) == {"content", "allowed_mentions"}
    assert kwargs["allowed_mentions"].to_dict() == {"parse": []}


def test_choices_are_at_most_25_of_at_most_100_characters() -> None:
    choices = render.choices([("n" * 150, "v" * 150)] * 40)
    assert len(choices) == 25
    assert all(len(c.name) <= 100 and len(c.value) <= 100 for c in choices)


def test_help_examples_come_from_the_story_and_find_something() -> None:
    """The `/when` example is someone a dated event names, so it filters to events in any story."""
    root = Path(__file__).resolve().parents[2]
    for pack, other in (("knowledge", "Fenwick"), ("tests/fixtures/stories/harbourline", "Jivani")):
        kb = load_knowledge(root / pack).kb
        assert kb is not None
        help_text = render.help_reply(kb, []).embed.description
        example = help_text.split("`/when query: ")[1].split("`")[0]
        assert other not in help_text and Engine(kb).events(example)
