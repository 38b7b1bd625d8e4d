"""Two stories in one bot, against the stand-in Discord: channels mapped to different stories answer each from its
own, a reader picks one in a DM, and moderators' gaps stay apart."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from bot.config import Settings
from bot.discord.render import CHOOSE_STORY
from bot.knowledge.packs import MAIN_STORY
from tests.discord.conftest import (
    ANSWER_CHANNEL,
    MODERATOR,
    OTHER_CHANNEL,
    READER,
    THREAD_IN_ANSWER_CHANNEL,
    Call,
    Harness,
    InProcessDiscord,
    autocomplete,
    button_press,
    slash,
    start_bot,
)
from tests.discord.test_kb import interact as kb_interact
from tests.knowledge_dirs import SECOND_STORY
from tests.standin.actors import ChannelOption

SECOND = "harbour"
ONLY_SECOND = "How long is the Harbourline line?"  # the second story's; the first says nothing of it
ONLY_FIRST = "Who is Jamil Jivani?"
MISSED_SECOND = "How many trees will the Harbourline cut down?"
MISSED_FIRST = "What did Jivani eat for breakfast?"


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    """Every bot in this module serves two stories: the knowledge folder's and a copy of the fictional one."""
    stories = tmp_path / "stories"
    shutil.copytree(SECOND_STORY, stories / SECOND)
    return dataclasses.replace(settings, stories_dir=stories)


def text(call: Call) -> str:
    """What a reader reads in a reply: its content and its embeds' titles, text, fields and footers."""
    parts = [call.content or ""]
    for embed in call.embeds:
        parts += [embed.get("title", ""), embed.get("description", ""), embed.get("footer", {}).get("text", "")]
        parts += [f.get("value", "") for f in embed.get("fields", [])]
    return "\n".join(parts)


async def ask(harness: Harness, question: str, channel_id: int = ANSWER_CHANNEL) -> str:
    return text(await harness.interact(slash("ask", question=question, channel_id=channel_id)))


async def map_channel(harness: Harness, story: str, channel_id: int | None) -> str:
    options = {"story": story} | ({"channel": ChannelOption(channel_id)} if channel_id else {})
    return text(await harness.interact(slash("kb story set", user=MODERATOR, **options)))


async def test_two_channels_mapped_to_two_stories_answer_each_from_its_own(harness: Harness) -> None:
    second_title = harness.bot.answerer.engines[SECOND].kb.story.title
    assert "Now answering about" in await map_channel(harness, SECOND, OTHER_CHANNEL)
    there = await ask(harness, ONLY_SECOND, OTHER_CHANNEL)
    assert "14" in there and second_title in there
    assert "14" not in await ask(harness, ONLY_SECOND)  # the answer channel still has the first story
    assert "Conservative" in await ask(harness, ONLY_FIRST)
    # The lookups answer from the place's story too: the second story's ¶18 is its last paragraph.
    assert second_title in text(await harness.interact(slash("source", paragraph=18, channel_id=OTHER_CHANNEL)))
    assert second_title not in text(await harness.interact(slash("source", paragraph=18)))
    assert f"story: {SECOND}" in text(await harness.interact(slash("story", channel_id=OTHER_CHANNEL)))
    listed = text(await harness.interact(slash("kb story list", user=MODERATOR)))
    assert f"<#{OTHER_CHANNEL}> → `{SECOND}`" in listed
    sample = harness.bot.health.registry.get_sample_value("story_bot_story_questions_total",
                                                    {"story": SECOND, "outcome": "answered"})
    assert sample == 2.0  # the /ask and the /source


async def test_a_mapped_channel_holds_in_its_threads_and_the_server_default_elsewhere(harness: Harness) -> None:
    await map_channel(harness, SECOND, None)  # the whole server
    assert "14" in await ask(harness, ONLY_SECOND, OTHER_CHANNEL)
    await map_channel(harness, MAIN_STORY, ANSWER_CHANNEL)  # but this channel keeps the first story…
    assert "14" not in await ask(harness, ONLY_SECOND, THREAD_IN_ANSWER_CHANNEL)  # …and so do its threads
    assert "Conservative" in await ask(harness, ONLY_FIRST, THREAD_IN_ANSWER_CHANNEL)


async def test_the_mapping_is_kept_for_the_next_start(harness: Harness, settings: Settings,
                                                      fake: InProcessDiscord) -> None:
    await map_channel(harness, SECOND, OTHER_CHANNEL)
    again = await start_bot(settings, fake)
    try:
        mapped = {(harness.bot.guilds[0].id, OTHER_CHANNEL): SECOND}
        assert again.answerer.place_stories == harness.bot.answerer.place_stories == mapped
    finally:
        await again.close()


async def test_an_unknown_story_is_refused_and_nothing_is_mapped(harness: Harness) -> None:
    reply = await map_channel(harness, "nowhere", OTHER_CHANNEL)
    assert "nowhere" in reply and not harness.bot.answerer.place_stories


async def test_a_dm_reader_picks_a_story_and_is_answered_and_remembered(harness: Harness) -> None:
    (menu,) = await harness.say(ONLY_SECOND, dm=True)
    assert menu.content == CHOOSE_STORY
    (select,) = menu.body["components"][0]["components"]
    assert [o["value"] for o in select["options"]] == [MAIN_STORY, SECOND]
    menu_message = harness.fake.message_of(menu)
    picked = await harness.interact(button_press(menu_message, select["custom_id"], dm=True, values=[SECOND]))
    assert "14" in text(picked)  # the question asked before picking is answered from the story picked
    (answer,) = await harness.say("When will the first trains carry passengers?", dm=True)
    assert "2031" in text(answer)  # no menu again: the pick is remembered
    assert f"story: {SECOND}" in text(await harness.interact(slash("story", dm=True)))
    switched = text(await harness.interact(slash("story", dm=True, pick=MAIN_STORY)))
    assert f"story: {MAIN_STORY}" in switched
    (answer,) = await harness.say(ONLY_FIRST, dm=True)
    assert "Conservative" in text(answer)


async def test_gaps_and_stats_are_kept_apart_per_story(harness: Harness) -> None:
    await map_channel(harness, SECOND, OTHER_CHANNEL)
    await ask(harness, MISSED_SECOND, OTHER_CHANNEL)
    await ask(harness, MISSED_FIRST)
    # (kb_interact: a gaps reply's buttons have a timeout, which the plain settle would wait for.)
    there = text(await kb_interact(harness, slash("kb gaps", user=MODERATOR, channel_id=OTHER_CHANNEL)))
    here = text(await kb_interact(harness, slash("kb gaps", user=MODERATOR)))
    assert "trees" in there and "breakfast" not in there
    assert "breakfast" in here and "trees" not in here
    stats = text(await harness.interact(slash("kb stats", user=MODERATOR, channel_id=OTHER_CHANNEL)))
    assert f"Story: {SECOND}" in stats and "Questions: 1" in stats


async def test_reloading_one_story_leaves_the_other_alone(harness: Harness) -> None:
    first = harness.bot.answerer.engines[MAIN_STORY]
    result = await harness.bot.reloaders[SECOND].reload()
    assert result.ok and harness.bot.answerer.engines[SECOND] is result.engine
    assert harness.bot.answerer.engines[MAIN_STORY] is first


async def test_the_story_options_offer_the_stories_by_slug_or_title(harness: Harness) -> None:
    title_word = harness.bot.answerer.engines[SECOND].kb.story.title.split()[0].lower()
    for command, option, who in (("kb story set", "story", MODERATOR), ("story", "pick", READER)):
        call = await harness.interact(autocomplete(command, option, title_word, user=who))
        assert [c["value"] for c in call.json["data"]["choices"]] == [SECOND]
        call = await harness.interact(autocomplete(command, option, "", user=who))
        assert [c["value"] for c in call.json["data"]["choices"]] == [MAIN_STORY, SECOND]
