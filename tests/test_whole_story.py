"""A question about the story as a whole gets the pack's summary, with its lead cited: on a tiny invented
story (tests/knowledge_dirs.py's Millbrook), so nothing of one story is assumed."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.engine import Engine, load_engine
from bot.engine.params import DEFAULT
from bot.engine.understand import understand
from tests.knowledge_dirs import millbrook


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    built, problems = load_engine(millbrook(tmp_path_factory.mktemp("millbrook")), replace(DEFAULT, verify=False))
    assert built is not None and not problems, problems
    return built


@pytest.mark.parametrize("question", ["tldr", "tl;dr?", "what's this story about?", "summary pls",
                                      "so what is this article about", "what happened?", "can you sum it up",
                                      "Can you give me a quick summary of the article?", "a brief recap of the story"])
def test_the_story_as_a_whole_gets_its_summary_and_lead(engine: Engine, question: str) -> None:
    answer = engine.ask(question)
    assert answer.answered and answer.text == engine.kb.story.summary and answer.intent is None
    (cited,) = answer.citations
    assert cited.paragraph == 1 and engine.kb.article.verify_quote(1, cited.quote) is None


@pytest.mark.parametrize("question", ["what happened at the council vote?", "what is the library about?",
                                      "summary of the contest rules", "a quick summary of the vote"])
def test_a_question_about_one_thing_is_no_summary(question: str) -> None:
    assert understand(question).intent is None
