"""Buttons under answers, pressed through discord.py's real view store (dynamic items)."""

from __future__ import annotations

import logging
from types import SimpleNamespace

from bot.discord.bot import StoryBot
from bot.engine import Conversation, Engine
from tests.discord.conftest import (
    ABSTAINS,
    TOKEN,
    WORLD,
    Harness,
    assert_within_limits,
    button_press,
    slash,
)

TRUMP_QUESTION = "What did Trump ask Jivani to tell Canadians?"


async def test_show_paragraph_expands_the_citation(harness: Harness) -> None:
    answer = await harness.interact(slash("ask", question=TRUMP_QUESTION))
    message = harness.fake.message_of(answer)
    call = await harness.interact(button_press(message, "story:para:1"))
    assert call.ephemeral
    paragraph = harness.bot.engine.kb.article.paragraph(1)
    (embed,) = call.embeds
    assert embed["title"] == f"¶1 — {paragraph.section}"
    assert embed["description"] == paragraph.text
    assert call.body["allowed_mentions"] == {"parse": []}
    assert_within_limits(call)


async def test_suggestion_button_answers_that_suggestion(suggesting: Harness) -> None:
    harness = suggesting
    abstain = await harness.interact(slash("ask", question=ABSTAINS))
    first = abstain.buttons[0]
    call = await harness.interact(button_press(harness.fake.message_of(abstain), first["custom_id"]))
    assert not call.ephemeral
    (embed,) = call.embeds
    assert embed["title"] == first["custom_id"].removeprefix("story:ask:")
    assert embed["fields"][0]["name"] == "Sources"
    assert call.body["allowed_mentions"] == {"parse": []}


async def test_suggestion_button_counts_toward_the_cooldown(suggesting: Harness) -> None:
    harness = suggesting
    abstain = await harness.interact(slash("ask", question=ABSTAINS))
    harness.bot.questions.__init__(1, 60.0)
    message = harness.fake.message_of(abstain)
    custom_id = abstain.buttons[0]["custom_id"]
    assert (await harness.interact(button_press(message, custom_id))).embeds
    again = await harness.interact(button_press(message, custom_id))
    assert again.ephemeral and again.content.startswith("You're asking quickly")


async def test_votes_are_recorded_against_the_question(harness: Harness) -> None:
    answer = await harness.interact(slash("ask", question=TRUMP_QUESTION))
    up, down = (b["custom_id"] for b in answer.buttons if b["custom_id"].startswith("story:vote:"))
    assert up.endswith(":up") and down.endswith(":down")
    message = harness.fake.message_of(answer)
    call = await harness.interact(button_press(message, up))
    assert call.ephemeral and call.content == "Thanks, noted."
    await harness.interact(button_press(message, down, user=WORLD.reader(77)))
    stats = harness.bot.store.stats()
    assert (stats.questions, stats.answered, stats.votes, stats.helpful) == (1, 1, 2, 1)


async def test_no_vote_buttons_without_a_store(harness: Harness) -> None:
    store, harness.bot.store = harness.bot.store, None
    try:
        answer = await harness.interact(slash("ask", question=TRUMP_QUESTION))
    finally:
        harness.bot.store = store
    assert [b["custom_id"] for b in answer.buttons] == ["story:para:1"]


async def test_buttons_keep_working_after_a_restart(harness: Harness, settings, fake) -> None:
    answer = await harness.interact(slash("ask", question=TRUMP_QUESTION))
    message = harness.fake.message_of(answer)
    await harness.bot.close()
    restarted = StoryBot(settings)
    await restarted.login(TOKEN)
    try:
        again = Harness(restarted, fake)
        call = await again.interact(button_press(message, "story:para:1"))
        assert call.embeds[0]["title"].startswith("¶1 — ")
    finally:
        await restarted.close()


async def test_a_failing_button_apologises_and_logs(harness: Harness, caplog) -> None:
    answer = await harness.interact(slash("ask", question=TRUMP_QUESTION))
    engine = harness.bot.engine
    harness.bot.engine = SimpleNamespace(kb=None)  # a broken engine: .kb.article raises
    try:
        with caplog.at_level(logging.ERROR):
            call = await harness.interact(button_press(harness.fake.message_of(answer), "story:para:1"))
    finally:
        harness.bot.engine = engine
    assert call.ephemeral and call.content.startswith("Sorry, something went wrong")
    assert any("Show paragraph 1 failed" in r.getMessage() and r.exc_info for r in caplog.records)


async def test_answer_buttons_fit_discord_rows(harness: Harness) -> None:
    """An answer citing many paragraphs still sends at most five buttons a row."""

    class ManyCitations(Engine):
        def ask(self, text: str, conversation: Conversation | None = None):
            answer = super().ask(TRUMP_QUESTION)
            citations = tuple(type(answer.citations[0])(n, "x" * 10) for n in range(1, 9))
            return type(answer)(text, True, answer.text, 1.0, citations, answer.source)

    harness.bot.engine = ManyCitations(harness.bot.engine.kb)
    call = await harness.interact(slash("ask", question="anything"))
    assert_within_limits(call)
    rows = call.body["components"]
    assert [len(r["components"]) for r in rows] == [5, 2]
