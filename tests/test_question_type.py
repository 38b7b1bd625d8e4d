"""A reader's opening word ("yo", "so", "hey") does not change what kind of answer a question wants."""

from __future__ import annotations

import pytest

from bot.engine.text import QuestionType, question_type


@pytest.mark.parametrize(("question", "kind"), [
    ("yo did the mayor vote for it", QuestionType.YESNO), ("so was it approved", QuestionType.YESNO),
    ("hey is the line going ahead?", QuestionType.YESNO), ("did it pass", QuestionType.YESNO),
    ("ok so who voted against it", QuestionType.WHO), ("yo when does it open", QuestionType.WHEN),
    ("so what happened", QuestionType.WHAT),
])
def test_an_opening_interjection_leaves_the_kind_of_question(question: str, kind: QuestionType) -> None:
    assert question_type(question) is kind


@pytest.mark.parametrize("question", [
    "which city is the line in", "which town did she grow up in", "which country signed it",
    "which state is it in", "which region pays for it", "which district does she represent",
])
def test_which_and_a_place_noun_asks_where(question: str) -> None:
    """The place nouns are general English; a story's own (an electoral "riding") is its pack's business."""
    assert question_type(question) is QuestionType.WHERE
