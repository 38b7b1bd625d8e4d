"""The channel path: MESSAGE_CREATE payloads through discord.py's real event dispatch."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import discord
import pytest

from bot.config import Settings
from bot.discord.cogs.ask import without_mentions_of
from bot.discord.respond import Asker
from bot.engine import DOESNT_SAY, Conversation, Engine
from tests.discord.conftest import (
    ABSTAINS,
    ANSWER_CHANNEL,
    BOT_ID,
    OTHER_CHANNEL,
    OTHER_READER,
    OTHER_READER_ID,
    THREAD_IN_ANSWER_CHANNEL,
    WORLD,
    Harness,
    InProcessDiscord,
    assert_within_limits,
    message_create,
    start_bot,
)
from tests.standin import Person

TRUMP_QUESTION = "What did Trump ask Jivani to tell Canadians?"


def assert_reply(call, message_id: str) -> None:
    """A reply to the question that pings nobody, not even its author."""
    assert call.method == "POST"
    assert str(call.json["message_reference"]["message_id"]) == message_id
    assert call.json["message_reference"]["fail_if_not_exists"] is False
    assert call.json["allowed_mentions"] == {"parse": [], "replied_user": False}


async def test_question_in_a_configured_channel_gets_a_cited_reply(harness: Harness) -> None:
    payload = message_create(TRUMP_QUESTION)
    before = len(harness.fake.sent())
    await harness.event("MESSAGE_CREATE", payload)
    (call,) = harness.fake.sent()[before:]
    assert call.path == f"/channels/{ANSWER_CHANNEL}/messages"
    assert_reply(call, payload["id"])
    (embed,) = call.embeds
    assert embed["title"] == TRUMP_QUESTION
    assert embed["fields"][0]["value"].startswith("¶1 — ")
    assert {b["custom_id"] for b in call.buttons} >= {"story:para:1"}
    assert_within_limits(call)


@pytest.mark.parametrize("chatter", ["lol", "same", "good morning everyone", "what?", "huh?", "ok", "🙂", "",
                                     "I think the tariffs are bad"])
async def test_chatter_in_a_configured_channel_is_left_alone(harness: Harness, chatter: str) -> None:
    assert await harness.say(chatter) == []


async def test_threads_of_a_configured_channel_count_as_configured(harness: Harness) -> None:
    (call,) = await harness.say(TRUMP_QUESTION, channel_id=THREAD_IN_ANSWER_CHANNEL)
    assert call.path == f"/channels/{THREAD_IN_ANSWER_CHANNEL}/messages" and call.embeds


async def test_questions_elsewhere_are_left_alone(harness: Harness) -> None:
    assert await harness.say(TRUMP_QUESTION, channel_id=OTHER_CHANNEL) == []


async def test_a_mention_anywhere_is_answered_without_the_mention(harness: Harness) -> None:
    payload = message_create(f"<@{BOT_ID}> who is jivani", channel_id=OTHER_CHANNEL)
    before = len(harness.fake.sent())
    await harness.event("MESSAGE_CREATE", payload)
    (call,) = harness.fake.sent()[before:]
    assert call.path == f"/channels/{OTHER_CHANNEL}/messages"
    assert_reply(call, payload["id"])
    assert call.embeds[0]["title"] == "who is jivani"


async def test_a_bare_mention_gets_the_help(harness: Harness) -> None:
    (call,) = await harness.say(f"<@!{BOT_ID}>", channel_id=OTHER_CHANNEL)
    assert call.embeds[0]["title"] == "What I can do"


async def test_anything_in_a_dm_is_answered(harness: Harness) -> None:
    (call,) = await harness.say("jivani vance roommate", dm=True)
    assert call.json["allowed_mentions"] == {"parse": [], "replied_user": False}
    assert call.embeds or call.content.startswith(DOESNT_SAY)


async def test_bots_and_itself_are_ignored(harness: Harness) -> None:
    assert await harness.say(TRUMP_QUESTION, author=Person(OTHER_READER_ID, "otherbot", bot=True)) == []
    assert await harness.say(TRUMP_QUESTION, author=WORLD.bot) == []
    assert await harness.say(TRUMP_QUESTION, dm=True, author=WORLD.bot) == []


async def test_conversations_between_readers_are_left_alone(harness: Harness) -> None:
    theirs = message_create("Jivani met Vance, right?", author=OTHER_READER)
    assert await harness.say("did he really meet Rubio?", replying_to=theirs) == []
    assert await harness.say(f"<@{OTHER_READER_ID}> did you see what Trump said?") == []


async def test_a_follow_up_to_the_bot_is_answered(harness: Harness) -> None:
    bots = message_create("an earlier answer", author=WORLD.bot)
    (call,) = await harness.say("and who is Marco Rubio?", replying_to=bots)
    assert call.embeds


async def test_abstention_offers_suggestion_buttons(suggesting: Harness) -> None:
    (call,) = await suggesting.say(ABSTAINS, dm=True)
    assert call.content.startswith(DOESNT_SAY) and not call.embeds
    assert await suggesting.say(ABSTAINS) == []  # overheard in the answer channel: not a question it answers
    assert call.buttons and all(b["custom_id"].startswith("story:ask:") for b in call.buttons)


async def test_mentions_in_answers_cannot_ping(harness: Harness) -> None:
    (call,) = await harness.say("who is @everyone and <@&123> in the story?", dm=True)
    assert call.json["allowed_mentions"] == {"parse": [], "replied_user": False}


async def test_cooldown_note_is_sent_once_per_window(harness: Harness) -> None:
    harness.bot.questions.__init__(1, 60.0)
    assert (await harness.say(TRUMP_QUESTION))[0].embeds
    (note,) = await harness.say(TRUMP_QUESTION)
    assert note.content.startswith("You're asking quickly: please wait")
    assert note.json["allowed_mentions"] == {"parse": [], "replied_user": False}
    assert await harness.say(TRUMP_QUESTION) == []  # told once; not a wall of notes


async def test_a_failure_is_logged_and_apologised_for(harness: Harness, caplog) -> None:
    class Exploding(Engine):
        def ask(self, text: str, conversation: Conversation | None = None):
            raise RuntimeError("engine on fire")

    harness.bot.engine = Exploding(harness.bot.engine.kb)
    with caplog.at_level(logging.ERROR):
        (call,) = await harness.say(f"<@{BOT_ID}> {TRUMP_QUESTION}")
        assert await harness.say(TRUMP_QUESTION) == []  # overheard: maybe not a question, so no apology
    assert call.content.startswith("Sorry, something went wrong")
    assert call.json["allowed_mentions"] == {"parse": [], "replied_user": False}
    records = [r for r in caplog.records if "answering message" in r.getMessage()]
    assert len(records) == 2 and all("engine on fire" in str(r.exc_info[1]) for r in records)
    harness.bot.engine = Engine(harness.bot.engine.kb)
    assert (await harness.say(TRUMP_QUESTION))[0].embeds  # and it keeps going


async def test_a_refused_send_is_logged_not_fatal(harness: Harness, caplog) -> None:
    refused = harness.fake.inject("POST /channels/*/messages", status=403, times=1_000)
    with caplog.at_level(logging.ERROR):
        await harness.say(TRUMP_QUESTION)
    assert any(r.exc_info and "403" in str(r.exc_info[1]) for r in caplog.records)
    harness.fake.faults.remove(refused)
    assert (await harness.say(TRUMP_QUESTION))[0].embeds


def test_without_mentions_of_strips_both_mention_forms() -> None:
    assert without_mentions_of(f"<@{BOT_ID}> who is <@!{BOT_ID}> Jivani  <@5>?", BOT_ID) == "who is Jivani <@5>?"


def test_a_message_from_a_guild_not_cached_yet_is_recorded_with_its_guild() -> None:
    """Just after connecting, discord.py may hand over a guild message before the guild is cached: the
    message has no `guild`, its channel is a PartialMessageable that still knows the guild's id."""
    channel = discord.PartialMessageable(state=None, id=5, guild_id=7)  # type: ignore[arg-type]
    message = SimpleNamespace(author=SimpleNamespace(id=3), channel=channel, guild=None)
    assert Asker.of_message(message) == Asker(3, 5, 7)  # type: ignore[arg-type]


async def test_a_guild_not_cached_yet_is_not_taken_for_a_dm(settings: Settings, fake: InProcessDiscord) -> None:
    """Before its GUILD_CREATE the guild's messages have no `guild`: chatter there is still not a DM to answer."""
    bot = await start_bot(settings, fake)
    try:
        assert await Harness(bot, fake).say(TRUMP_QUESTION, channel_id=OTHER_CHANNEL) == []
    finally:
        await bot.close()
