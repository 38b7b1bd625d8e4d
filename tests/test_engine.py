"""The engine's promises: cited answers that check out, honest declines, and no exception on any string."""

from __future__ import annotations

import logging

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.engine import DOESNT_SAY, Engine
from bot.engine.index import sentences
from bot.engine.text import QuestionType, clean, content_terms, question_type, stem, words


@pytest.fixture(scope="module")
def engine(story_engine: Engine) -> Engine:
    """The story's engine: these promises are about the shipped knowledge."""
    return story_engine


def assert_cited(engine: Engine, answer_citations: tuple) -> None:
    assert answer_citations
    for c in answer_citations:
        assert engine.kb.article.verify_quote(c.paragraph, c.quote) is None


@pytest.mark.parametrize(
    ("question", "needle", "paragraph"),
    [
        ("Who is Pierre Polievre?", "Conservative", 13),
        ("rubbio", "Secretary of State", 4),
        ("jivanni", "Conservative MP", 1),
        ("35% tariffs", "35 percent", 22),
        ("<@123456789012345678> who is scott bessent?? 🤔", "Treasury", 21),
        ("hey bot, quick one: who is jivani's old roommate?", "Vance", 2),
        ("WHAT IS THE BOARD OF PEACE", "Board of Peace", 19),
    ],
)
def test_answers_how_people_type(engine: Engine, question: str, needle: str, paragraph: int) -> None:
    answer = engine.ask(question)
    assert answer.answered, (question, answer)
    text = " ".join([answer.text or "", *(c.quote for c in answer.citations)])
    assert needle.lower() in text.lower()
    assert paragraph in {c.paragraph for c in answer.citations}
    assert_cited(engine, answer.citations)


def test_question_at_the_end_of_chatter(engine: Engine) -> None:
    answer = engine.ask("ok so I read this and I'm confused, why did trump cancel carney's invite?")
    assert answer.answered and 19 in {c.paragraph for c in answer.citations}


def test_one_word_must_be_the_storys(engine: Engine) -> None:
    """A lone word the story never uses is chatter, however it appears in readers' phrasings."""
    assert not engine.ask("lol nice").answered
    genocidal = engine.ask("genocidal")
    assert genocidal.answered and 12 in {c.paragraph for c in genocidal.citations}


def test_where_needs_a_place_and_how_many_a_number(engine: Engine) -> None:
    """Answers that hold no place or no count ("Feb. 4" is a date) do not serve these questions."""
    assert not engine.ask("where exactly did jivani meet vance").answered
    assert not engine.ask("how many senators is jivani meeting").answered
    where = engine.ask("where did carney speak on jan 20")
    assert where.answered and "Davos" in (where.text or "")


def test_when_question_gets_a_date(engine: Engine) -> None:
    answer = engine.ask("when did carney give his davos speech")
    assert answer.answered and "Jan. 20" in " ".join([answer.text or "", *(c.quote for c in answer.citations)])


@pytest.mark.parametrize(
    "question",
    ["What time is it?", "tell me a joke", "How tall is JD Vance?", "What is the capital of France?",
     "", "   ", "🤔🤔🤔", "asdfghjkl"],
)
def test_declines_what_the_story_does_not_say(engine: Engine, question: str) -> None:
    answer = engine.ask(question)
    assert not answer.answered
    assert answer.text == DOESNT_SAY and answer.citations == () and answer.source is None


def test_decline_offers_close_suggestions(engine: Engine) -> None:
    answer = engine.ask("How old is Marco Rubio?")
    assert not answer.answered
    assert 1 <= len(answer.suggestions) <= 3
    assert any("Rubio" in s for s in answer.suggestions)


def test_every_answer_source_is_cited(engine: Engine) -> None:
    """The engine never gives an answer without a verified quote: every document carries one."""
    for doc in engine.index.docs:
        assert_cited(engine, doc.citations)


def test_lookups_and_autocomplete(engine: Engine) -> None:
    assert (p := engine.find_person("polievre")) is not None and p.id == "poilievre"
    assert (t := engine.find_term("usmca")) is not None and t.id == "cusma"
    assert engine.find_person("zzzz") is None
    choices = engine.complete_people("jiv")
    assert choices[0][1] == "jivani"
    assert len(engine.complete_people("")) == len(engine.kb.people) <= 25
    assert all(len(name) <= 100 for name, _ in engine.complete_terms("", limit=25))
    assert len(engine.complete_terms("", limit=25)) <= 25
    events = engine.events()
    assert [e.id for e in events] == [e.id for e in engine.kb.timeline]
    davos = engine.events("davos")
    assert davos and all(e in events for e in davos) and len(davos) < len(events)


def test_text_rules() -> None:
    assert words("U.S. tariffs 35%") == ["us", "tariffs", "35", "percent"]
    assert words("Canada's exports isn't it") == ["canada", "exports", "is", "not", "it"]
    assert stem("meetings") == stem("meet") == stem("met")
    assert stem("travelling") == stem("travel")
    assert content_terms("What did he say about the tariffs?") == ["say", "tariff"]
    assert clean("<@!42> hi <:wave:123> @everyone") .split() == ["hi"]
    assert question_type("When did they meet?") is QuestionType.WHEN
    assert question_type("how many exports") is QuestionType.NUMBER
    assert question_type("Did Jivani meet Rubio?") is QuestionType.YESNO
    assert question_type("whose roommate was he") is QuestionType.WHO
    assert sentences("He met U.S. officials on Feb. 4. Then he left.") == [
        "He met U.S. officials on Feb. 4.", "Then he left."]


HOSTILE = st.one_of(
    st.text(max_size=300),
    st.text(alphabet=st.characters(categories=["Cc", "Cf", "Zs", "So", "Mn"]), max_size=200),
    st.builds(lambda s: "@everyone " + s + " ```" + s + "```", st.text(max_size=100)),
    st.builds(lambda n: "who is jivani " * n, st.integers(min_value=0, max_value=400)),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=HOSTILE)
def test_any_string_gets_an_answer(engine: Engine, text: str) -> None:
    answer = engine.ask(text)
    assert answer.question == text
    assert 0.0 <= answer.confidence <= 1.0
    if answer.citations:
        assert_cited(engine, answer.citations)
    if answer.answered:
        assert answer.citations
    elif answer.intent is not None:  # said to the bot: a pointer to /help, no story fact
        assert not answer.citations and answer.text and "/help" in answer.text
    else:  # the story doesn't say, or doesn't say the detail asked (and then says what it does say, cited)
        assert answer.text == DOESNT_SAY or (answer.text or "").startswith("The story doesn't say ")


def test_non_string_input_is_declined(engine: Engine) -> None:
    answer = engine.ask(None)  # type: ignore[arg-type]
    assert not answer.answered


# Any text with lone surrogates ("\ud800") in it: what a Discord client or a pipe can hand over.
ANY_TEXT = st.builds(lambda a, s, b: a + s + b, st.text(max_size=100),
                     st.text(alphabet=st.characters(categories=["Cs"]), min_size=1, max_size=3), st.text(max_size=100))


@pytest.mark.slow  # 300 generated texts through every stage, explain included
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.one_of(ANY_TEXT, st.builds(lambda s: f"who is {s} jivani", ANY_TEXT)))
def test_any_text_with_surrogates_reaches_every_stage(engine: Engine, text: str,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="bot.engine"):
        answer = engine.ask(text)
        engine.explain(text)  # raises on a stage that cannot take the text
    assert answer.question == text and not caplog.records
