"""/kb: refused for a member, working for a moderator, including the add form (a modal) and a gap
turned into a phrasing with one click."""

from __future__ import annotations

import pytest

from bot.discord.bot import StoryBot
from bot.discord.cogs.kb import REFUSAL
from tests.standin import Discord

pytestmark = pytest.mark.slow  # the real bot against the stand-in: seconds a test

QUESTION = "Which outlet heard about the unofficial meetings first-hand from Jivani?"


@pytest.mark.parametrize("command", ["kb reload", "kb gaps", "kb stats", "kb add", "kb show", "kb history",
                                     "kb restore"])
async def test_a_member_is_refused(standin: Discord, story_bot: StoryBot, command: str) -> None:
    options = {"id": "x"} if command in ("kb show", "kb history", "kb restore") else {}
    reply = await (await standin.slash(command, **options)).reply()
    assert reply.ephemeral and reply.content == REFUSAL


async def test_a_member_gets_no_entry_ids(standin: Discord, story_bot: StoryBot) -> None:
    assert await standin.autocomplete("kb show", "id", "") == []


async def test_a_moderator_sees_stats_and_gaps(standin: Discord, story_bot: StoryBot) -> None:
    mo = standin.world.moderator
    await (await standin.slash("ask", question="What is the capital of Mongolia?")).reply()
    stats = await (await standin.slash("kb stats", user=mo)).reply()
    gaps = await (await standin.slash("kb gaps", user=mo)).reply()
    assert stats.ephemeral and "Knowledge:" in stats.text
    assert "Mongolia" in gaps.text and gaps.custom_ids()


async def test_a_moderator_shows_an_entry_found_by_autocomplete(standin: Discord, story_bot: StoryBot) -> None:
    mo = standin.world.moderator
    choices = await standin.autocomplete("kb show", "id", "trump", user=mo)
    reply = await (await standin.slash("kb show", user=mo, id=choices[0]["value"])).reply()
    assert 0 < len(choices) <= 25 and reply.ephemeral and reply.embeds


async def test_a_moderator_reloads(standin: Discord, story_bot: StoryBot) -> None:
    event = await standin.slash("kb reload", user=standin.world.moderator)
    reply = await event.reply()
    assert event.replies[0].kind == "defer" and reply.text.startswith("Reloaded:")


async def test_a_moderator_adds_an_entry_through_the_form_and_readers_get_it(
    standin: Discord, story_bot: StoryBot
) -> None:
    mo = standin.world.moderator
    form = await (await standin.slash("kb add", user=mo, question=QUESTION)).reply()
    assert form.kind == "modal"
    values = {
        "Answer, in the bot's words": "The American outlet Semafor.",
        "Citation: paragraph number": "4",
        "Citation: exact quote from that paragraph": "Jivani told the American outlet Semafor",
    }
    added = await (await standin.submit_modal(form, values, user=mo)).reply(timeout=10.0)
    assert added.text.startswith("Added"), added.text
    answer = await (await standin.slash("ask", question=QUESTION)).reply()
    assert "The American outlet Semafor." in answer.text


async def test_a_refused_entry_is_shown_back_with_a_retry_button(standin: Discord, story_bot: StoryBot) -> None:
    mo = standin.world.moderator
    form = await (await standin.slash("kb add", user=mo, question="Is this cited?")).reply()
    values = {
        "Answer, in the bot's words": "Yes.",
        "Citation: paragraph number": "seven",
        "Citation: exact quote from that paragraph": "nothing like this is in the article",
    }
    refused = await (await standin.submit_modal(form, values, user=mo)).reply()
    retry = await (await standin.click(refused, refused.custom_ids()[0], user=mo)).reply()
    assert refused.text.startswith("Not added") and retry.kind == "modal"


MISSED = "is jivani tight with the veep?"


async def test_a_readers_miss_becomes_a_phrasing_in_one_click_and_the_reader_is_then_answered(
    standin: Discord, story_bot: StoryBot
) -> None:
    mo, reader = standin.world.moderator, standin.world.reader(1)
    missed = await (await standin.member_says(MISSED, author=reader, mentions_bot=True)).reply()
    assert "doesn't say" in missed.text

    gaps = await (await standin.slash("kb gaps", user=mo)).reply(timeout=10.0)
    assert MISSED in gaps.text and "closest entry: jivani-vance-friends" in gaps.text
    button = next(c for row in gaps.components for c in row["components"]
                  if c["label"] == "1. Add as a phrasing of «jivani-vance-friends»")
    added = await (await standin.click(gaps, button["custom_id"], user=mo)).reply(timeout=10.0)
    assert added.text.startswith(f"Added “{MISSED}” as a phrasing of `jivani-vance-friends`"), added.text

    answer = await (await standin.member_says(MISSED, author=reader, mentions_bot=True)).reply()
    entry = story_bot.engine.kb.entry("jivani-vance-friends")
    assert entry is not None and MISSED in entry.phrasings
    for citation in entry.citations:
        assert f"¶{citation.paragraph}" in answer.text
    assert "doesn't say" not in answer.text

    after = await (await standin.slash("kb gaps", user=mo)).reply(timeout=10.0)
    assert MISSED not in after.text
    stats = await (await standin.slash("kb stats", user=mo)).reply(timeout=10.0)
    assert "Gaps closed this week: 1 " in stats.text
