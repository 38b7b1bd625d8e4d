"""Two stories in one bot, against the stand-in Discord: channels mapped to different stories answer each from its
own, a reader picks one in a DM, and moderators' gaps stay apart."""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.config import Settings
from bot.discord.render import CHOOSE_STORY
from bot.knowledge.packs import MAIN_STORY
from tests.discord.conftest import (
    ANSWER_CHANNEL,
    MODERATOR,
    OTHER_CHANNEL,
    THREAD_IN_ANSWER_CHANNEL,
    Call,
    Harness,
    InProcessDiscord,
    button_press,
    guild_create,
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
def two_stories(settings: Settings, tmp_path: Path) -> Settings:
    stories = tmp_path / "stories"
    shutil.copytree(SECOND_STORY, stories / SECOND)
    return dataclasses.replace(settings, stories_dir=stories)


@pytest.fixture
async def h(two_stories: Settings, fake: InProcessDiscord) -> AsyncIterator[Harness]:
    bot = await start_bot(two_stories, fake)
    harness = Harness(bot, fake)
    await harness.event("GUILD_CREATE", guild_create())
    yield harness
    await bot.close()
    fake.assert_clean()


def text(call: Call) -> str:
    """What a reader reads in a reply: its content and its embeds' titles, text, fields and footers."""
    parts = [call.content or ""]
    for embed in call.embeds:
        parts += [embed.get("title", ""), embed.get("description", ""), embed.get("footer", {}).get("text", "")]
        parts += [f.get("value", "") for f in embed.get("fields", [])]
    return "\n".join(parts)


async def ask(h: Harness, question: str, channel_id: int = ANSWER_CHANNEL) -> str:
    return text(await h.interact(slash("ask", question=question, channel_id=channel_id)))


async def map_channel(h: Harness, story: str, channel_id: int | None) -> str:
    options = {"story": story} | ({"channel": ChannelOption(channel_id)} if channel_id else {})
    return text(await h.interact(slash("kb story set", user=MODERATOR, **options)))


async def test_two_channels_mapped_to_two_stories_answer_each_from_its_own(h: Harness) -> None:
    second_title = h.bot.answerer.engines[SECOND].kb.story.title
    assert "Now answering about" in await map_channel(h, SECOND, OTHER_CHANNEL)
    there = await ask(h, ONLY_SECOND, OTHER_CHANNEL)
    assert "14" in there and second_title in there
    assert "14" not in await ask(h, ONLY_SECOND)  # the answer channel still has the first story
    assert "Conservative" in await ask(h, ONLY_FIRST)
    # The lookups answer from the place's story too: the second story's ¶18 is its last paragraph.
    assert second_title in text(await h.interact(slash("source", paragraph=18, channel_id=OTHER_CHANNEL)))
    assert second_title not in text(await h.interact(slash("source", paragraph=18)))
    assert f"story: {SECOND}" in text(await h.interact(slash("story", channel_id=OTHER_CHANNEL)))
    listed = text(await h.interact(slash("kb story list", user=MODERATOR)))
    assert f"<#{OTHER_CHANNEL}> → `{SECOND}`" in listed
    sample = h.bot.health.registry.get_sample_value("story_bot_story_questions_total",
                                                    {"story": SECOND, "outcome": "answered"})
    assert sample == 2.0  # the /ask and the /source


async def test_a_mapped_channel_holds_in_its_threads_and_the_server_default_elsewhere(h: Harness) -> None:
    await map_channel(h, SECOND, None)  # the whole server
    assert "14" in await ask(h, ONLY_SECOND, OTHER_CHANNEL)
    await map_channel(h, MAIN_STORY, ANSWER_CHANNEL)  # but this channel keeps the first story…
    assert "14" not in await ask(h, ONLY_SECOND, THREAD_IN_ANSWER_CHANNEL)  # …and so do its threads
    assert "Conservative" in await ask(h, ONLY_FIRST, THREAD_IN_ANSWER_CHANNEL)


async def test_the_mapping_is_kept_for_the_next_start(h: Harness, two_stories: Settings,
                                                      fake: InProcessDiscord) -> None:
    await map_channel(h, SECOND, OTHER_CHANNEL)
    again = await start_bot(two_stories, fake)
    try:
        mapped = {(h.bot.guilds[0].id, OTHER_CHANNEL): SECOND}
        assert again.answerer.place_stories == h.bot.answerer.place_stories == mapped
    finally:
        await again.close()


async def test_an_unknown_story_is_refused_and_nothing_is_mapped(h: Harness) -> None:
    reply = await map_channel(h, "nowhere", OTHER_CHANNEL)
    assert "nowhere" in reply and not h.bot.answerer.place_stories


async def test_a_dm_reader_picks_a_story_and_is_answered_and_remembered(h: Harness) -> None:
    (menu,) = await h.say(ONLY_SECOND, dm=True)
    assert menu.content == CHOOSE_STORY
    (select,) = menu.body["components"][0]["components"]
    assert [o["value"] for o in select["options"]] == [MAIN_STORY, SECOND]
    picked = await h.interact(button_press(h.fake.message_of(menu), select["custom_id"], dm=True, values=[SECOND]))
    assert "14" in text(picked)  # the question asked before picking is answered from the story picked
    (answer,) = await h.say("When will the first trains carry passengers?", dm=True)
    assert "2031" in text(answer)  # no menu again: the pick is remembered
    assert f"story: {SECOND}" in text(await h.interact(slash("story", dm=True)))
    switched = text(await h.interact(slash("story", dm=True, pick=MAIN_STORY)))
    assert f"story: {MAIN_STORY}" in switched
    (answer,) = await h.say(ONLY_FIRST, dm=True)
    assert "Conservative" in text(answer)


async def test_gaps_and_stats_are_kept_apart_per_story(h: Harness) -> None:
    await map_channel(h, SECOND, OTHER_CHANNEL)
    await ask(h, MISSED_SECOND, OTHER_CHANNEL)
    await ask(h, MISSED_FIRST)
    # (kb_interact: a gaps reply's buttons have a timeout, which the plain settle would wait for.)
    there = text(await kb_interact(h, slash("kb gaps", user=MODERATOR, channel_id=OTHER_CHANNEL)))
    here = text(await kb_interact(h, slash("kb gaps", user=MODERATOR)))
    assert "trees" in there and "breakfast" not in there
    assert "breakfast" in here and "trees" not in here
    stats = text(await h.interact(slash("kb stats", user=MODERATOR, channel_id=OTHER_CHANNEL)))
    assert f"Story: {SECOND}" in stats and "Questions: 1" in stats


async def test_reloading_one_story_leaves_the_other_alone(h: Harness) -> None:
    first = h.bot.answerer.engines[MAIN_STORY]
    result = await h.bot.reloaders[SECOND].reload()
    assert result.ok and h.bot.answerer.engines[SECOND] is result.engine
    assert h.bot.answerer.engines[MAIN_STORY] is first


async def test_with_one_story_a_dm_is_answered_without_a_menu(harness: Harness) -> None:
    (answer,) = await harness.say(ONLY_FIRST, dm=True)
    assert "Conservative" in text(answer) and answer.content != CHOOSE_STORY
