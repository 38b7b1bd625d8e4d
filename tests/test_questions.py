"""The held-out question sets (tests/data/questions*.yaml, 565 questions written from the article alone).

These are floors that guard against regressions, set below the measured figures
(accuracy 0.855, 15 wrong answers at the time of writing): raising quality is
measured with `python -m benchmarks.calibrate`, not forced here.
"""

from __future__ import annotations

from collections import Counter

import pytest

from bot.config import DEFAULT_KNOWLEDGE_DIR
from bot.engine import Answer, Engine, load_engine
from tests.question_set import Item, judge, load_items

ACCURACY_FLOOR = 0.82
WRONG_ANSWERS_CEILING = 25


@pytest.fixture(scope="module")
def replies() -> list[tuple[Item, Answer, str]]:
    engine: Engine | None
    engine, problems = load_engine(DEFAULT_KNOWLEDGE_DIR)
    assert engine is not None, problems
    out = []
    for item in load_items():
        answer = engine.ask(item.q)
        out.append((item, answer, judge(item, answer, engine.kb.article)))
    return out


def test_set_covers_every_paragraph() -> None:
    paras = Counter(p for item in load_items() if item.answerable for p in item.paras)
    assert set(paras) == set(range(1, 24))


def test_accuracy_floor(replies: list[tuple[Item, Answer, str]]) -> None:
    right = sum(not why for _, _, why in replies)
    assert right / len(replies) >= ACCURACY_FLOOR, [(i.q, why) for i, _, why in replies if why]


def test_few_confidently_wrong_answers(replies: list[tuple[Item, Answer, str]]) -> None:
    wrong = [(i.q, why) for i, a, why in replies if why and a.answered]
    assert len(wrong) <= WRONG_ANSWERS_CEILING, wrong


def test_off_topic_and_noise_are_always_declined(replies: list[tuple[Item, Answer, str]]) -> None:
    answered = [i.q for i, a, _ in replies if i.kind in {"none:offtopic", "none:noise", "none:chitchat"} and a.answered]
    assert answered == []
