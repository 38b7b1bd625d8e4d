"""Each slash command and its autocomplete, through the real bot, discord.py and sockets."""

from __future__ import annotations

import pytest

from bot.discord.bot import StoryBot
from tests.standin import Discord

pytestmark = pytest.mark.slow  # the real bot against the stand-in: seconds a test

SYNCED = {"ask", "who", "what", "when", "source", "help", "story", "kb", "Ask the story"}


async def test_commands_are_synced_to_the_development_guild(standin: Discord, story_bot: StoryBot) -> None:
    assert {c["name"] for c in standin.commands[standin.world.guild_id]} == SYNCED
    assert None not in standin.commands  # nothing global while a development guild is set


async def test_ask_answers_in_time_with_citations(standin: Discord, story_bot: StoryBot) -> None:
    event = await standin.slash("ask", question="Who did Jivani meet in Washington?")
    reply = await event.reply()
    assert event.response_time is not None and event.response_time < 3.0
    assert "White House" in reply.text and "¶" in reply.text
    assert any(i.startswith("story:para:") for i in reply.custom_ids())


async def test_ask_outside_the_story_abstains(standin: Discord, story_bot: StoryBot) -> None:
    reply = await (await standin.slash("ask", question="What is the capital of Mongolia?")).reply()
    assert "doesn't say" in reply.text


async def test_who_by_autocomplete_then_by_name(standin: Discord, story_bot: StoryBot) -> None:
    choices = await standin.autocomplete("who", "name", "jiv")
    assert choices[0] == {"name": "Jamil Jivani", "value": "jivani"}
    by_id = await (await standin.slash("who", name=choices[0]["value"])).reply()
    by_name = await (await standin.slash("who", name="Jivani")).reply()
    assert "Jamil Jivani" in by_id.text and "Bowmanville" in by_id.text
    assert by_name.text == by_id.text


async def test_who_unknown_suggests_names_privately(standin: Discord, story_bot: StoryBot) -> None:
    reply = await (await standin.slash("who", name="Zelda Quixote")).reply()
    assert reply.ephemeral and "doesn't name anyone" in reply.text


async def test_what_by_autocomplete(standin: Discord, story_bot: StoryBot) -> None:
    choices = await standin.autocomplete("what", "term", "cus")
    assert choices[0]["value"] == "cusma"
    reply = await (await standin.slash("what", term="cusma")).reply()
    assert "CUSMA" in reply.text and "¶" in reply.text


async def test_autocomplete_with_nothing_typed_stays_within_limits(standin: Discord, story_bot: StoryBot) -> None:
    for command, option in [("who", "name"), ("what", "term")]:
        choices = await standin.autocomplete(command, option, "")
        assert 0 < len(choices) <= 25  # the stand-in also checks every name and value ≤ 100 characters


async def test_when_lists_the_timeline_and_filters_it(standin: Discord, story_bot: StoryBot) -> None:
    everything = await (await standin.slash("when")).reply()
    davos = await (await standin.slash("when", query="Davos")).reply()
    assert everything.text.startswith("Timeline") and "Davos" in everything.text
    assert davos.text.startswith("Timeline: Davos") and len(davos.text) < len(everything.text)


async def test_source_shows_a_paragraph(standin: Discord, story_bot: StoryBot) -> None:
    reply = await (await standin.slash("source", paragraph=1)).reply()
    assert reply.embeds[0]["title"].startswith("¶1") and "Tell the Canadians I love them" in reply.text


async def test_help_is_private_and_names_the_commands(standin: Discord, story_bot: StoryBot) -> None:
    reply = await (await standin.slash("help")).reply()
    assert reply.ephemeral and all(f"/{c}" in reply.text for c in ("ask", "who", "what"))


async def test_a_paragraph_button_shows_the_paragraph(standin: Discord, story_bot: StoryBot) -> None:
    answer = await (await standin.slash("ask", question="Who is Jamil Jivani?")).reply()
    button = next(i for i in answer.custom_ids() if i.startswith("story:para:"))
    shown = await (await standin.click(answer, button)).reply()
    assert shown.ephemeral and shown.embeds[0]["title"].startswith("¶" + button.rsplit(":", 1)[1])
