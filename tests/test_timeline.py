"""Questions of order in time, answered from a tiny invented story's timeline (tests/knowledge_dirs.py's
Millbrook, small enough to reason about by hand): which came first, was one before the other, how many days
between; and a correction of the last answer's date."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.engine import DOESNT_SAY, Conversation, Engine, load_engine
from bot.engine.params import DEFAULT
from bot.engine.timeline import parse_when
from tests.knowledge_dirs import FIXTURE, millbrook


@pytest.fixture(scope="module")
def fixture_engine() -> Engine:
    built, problems = load_engine(FIXTURE, replace(DEFAULT, verify=False))
    assert built is not None and not problems, problems
    return built


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    built, problems = load_engine(millbrook(tmp_path_factory.mktemp("millbrook")), replace(DEFAULT, verify=False))
    assert built is not None and not problems, problems
    return built


@pytest.mark.parametrize(("when", "parsed"), [
    ("March 3, 2029", (2029, 3, 3)), ("Oct. 12", (None, 10, 12)), ("Fall 2031", (2031, 9, None)),
    ("This spring", (None, 3, None)), ("2027", (2027, None, None)), ("Late January", (None, 1.8, None)),
    ("Jan. 21 (the day after the speech)", (None, 1, 21)), ("Later this year", (None, None, None)),
])
def test_the_stories_dates_are_read_in_every_style(when: str, parsed: tuple) -> None:
    assert parse_when(when) == parsed


def test_which_came_first_cites_both_events(engine: Engine) -> None:
    answer = engine.ask("Which came first, the design contest or the council vote?")
    assert answer.answered and answer.text.startswith("First, March 3, 2029: The council voted")
    assert {c.paragraph for c in answer.citations} == {1, 2}


def test_which_came_later_names_the_later_event_first(engine: Engine) -> None:
    answer = engine.ask("which happened later: breaking ground or the design contest?")
    assert answer.answered and answer.text.startswith("Later, Fall 2029: Builders broke ground")
    assert {c.paragraph for c in answer.citations} == {2, 3}


def test_was_one_before_the_other_is_yes_or_no_by_the_timeline(engine: Engine) -> None:
    assert engine.ask("Was the council vote before the design contest?").text.startswith("Yes:")
    assert engine.ask("Did the ground breaking happen before the council vote?").text.startswith("No:")


def test_days_between_two_dated_events_and_none_from_a_season(engine: Engine) -> None:
    answer = engine.ask("How many days after the council vote was the design contest opened?")
    assert answer.answered and answer.text.startswith("45 days:")
    # "Fall 2029" names no day: no count is made up.
    assert engine.timeline.compare("how many days between the design contest and breaking ground?") is None


def test_a_comparison_of_things_the_timeline_lacks_is_no_comparison(engine: Engine) -> None:
    assert engine.timeline.compare("which came first, the chicken or the egg?") is None
    assert engine.ask("which came first, the chicken or the egg?").text == DOESNT_SAY


def test_a_correction_is_checked_against_the_last_answer_not_another_fact(engine: Engine) -> None:
    first = engine.ask("when did the council vote for the library?")
    assert first.answered and "March 3, 2029" in first.text
    talk = Conversation().add(first, 0.0)
    # April holds another fact (the contest): the correction is about the vote, and the vote was in March.
    corrected = engine.ask("wait, wasn't that in April?", talk)
    assert corrected.answered and corrected.text.startswith("No: ") and "March 3, 2029" in corrected.text
    assert corrected.source == first.source


def test_a_correction_does_not_take_up_another_fact_of_the_month_it_names(fixture_engine: Engine) -> None:
    """The fixture story has a late-January call: "wasn't that in January?" is still about the meeting."""
    first = fixture_engine.ask("when did jivani meet white house officials")
    assert first.answered and "Feb. 4" in first.text
    corrected = fixture_engine.ask("wait, wasnt that in january?", Conversation().add(first, 0.0))
    assert corrected.text.startswith("No: ") and corrected.source == first.source
