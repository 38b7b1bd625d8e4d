"""Conversations per reader and place, the engine's judgement in answer channels, intents, "did you mean…?".

A scripted engine (the real one underneath, for the knowledge) records the Conversation each question
was asked in and can be told what to answer, so these tests pin down the face: which conversation
the engine gets, when the bot speaks up, and what it shows. How the engine resolves "he" is its own tests'.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import sqlite3

import discord
import pytest

from bot.config import DEFAULT_CHANNEL_CONFIDENCE, Settings, SettingsError
from bot.discord.cogs.ask import worth_answering
from bot.discord.cogs.menu import can_post
from bot.discord.i18n import StoryTranslator
from bot.discord.render import CHOOSE_STORY
from bot.engine import Answer, Conversation, Engine
from bot.knowledge import Citation
from bot.knowledge.packs import MAIN_STORY
from tests.discord.conftest import (
    ANSWER_CHANNEL,
    BOT_ID,
    DM_CHANNEL,
    OTHER_CHANNEL,
    OTHER_READER,
    OTHER_READER_ID,
    READER_ID,
    THREAD_IN_ANSWER_CHANNEL,
    WORLD,
    Harness,
    _interaction,
    assert_within_limits,
    button_press,
    message_create,
    slash,
)

CITED = (Citation(1, "Tell the Canadians I love them"),)


class Scripted(Engine):
    """The real engine, except for questions given a scripted answer; every call's conversation is kept."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine.kb)
        self.asked: list[tuple[str, Conversation | None]] = []
        self.script: dict[str, Answer] = {}

    def ask(self, text: str, conversation: Conversation | None = None) -> Answer:
        self.asked.append((text, conversation))
        if text in self.script:
            return dataclasses.replace(self.script[text], question=text)
        return super().ask(text, conversation)

    def conversation_for(self, text: str) -> Conversation:
        conversation = next(c for t, c in reversed(self.asked) if t == text)
        assert conversation is not None, "the bot asked without a conversation"
        return conversation


def story(confidence: float, **changes: object) -> Answer:
    return dataclasses.replace(Answer("", True, "Trump asked him to tell Canadians he loves them.", confidence,
                                      CITED, "qa:trump-message"), **changes)  # type: ignore[arg-type]


@pytest.fixture
def scripted(harness: Harness) -> Scripted:
    engine = Scripted(harness.bot.engine)
    harness.bot.engine = engine
    return engine


def asked_before(conversation: Conversation) -> list[str]:
    return [turn.question for turn in conversation.turns]


# --- conversations: per reader and per place ----------------------------------------------------


async def test_a_follow_up_gets_the_readers_conversation_in_that_channel(harness: Harness,
                                                                         scripted: Scripted) -> None:
    await harness.say("who is jivani?")
    await harness.say("who is his old roommate?")
    assert asked_before(scripted.conversation_for("who is his old roommate?")) == ["who is jivani?"]
    assert asked_before(scripted.conversation_for("who is jivani?")) == []


async def test_another_readers_he_gets_none_of_the_first_readers_conversation(harness: Harness,
                                                                              scripted: Scripted) -> None:
    other = OTHER_READER
    await harness.say("who is scott bessent?")
    await harness.say(f"<@{BOT_ID}> what did he claim?", author=other)  # addressed: answered
    assert asked_before(scripted.conversation_for("what did he claim?")) == []
    conversations = harness.bot.answerer.conversations
    assert conversations.get((MAIN_STORY, OTHER_READER_ID, ANSWER_CHANNEL), 0.0).turns[0].question == \
        "what did he claim?"
    first = harness.bot.answerer.conversations.get((MAIN_STORY, READER_ID, ANSWER_CHANNEL), 0.0)
    assert asked_before(first) == ["who is scott bessent?"]


async def test_each_place_keeps_its_own_conversation(harness: Harness, scripted: Scripted) -> None:
    scripted.script["who is he?"] = story(0.95)  # heard in the thread too
    await harness.say("who is jivani?")
    await harness.say("who is he?", channel_id=THREAD_IN_ANSWER_CHANNEL)
    await harness.say("who is he?", dm=True)
    await harness.say(f"<@{BOT_ID}> who is he?", channel_id=OTHER_CHANNEL)
    assert [asked_before(c) for t, c in scripted.asked if t == "who is he?" and c is not None] == [[], [], []]
    keys = {(READER_ID, ANSWER_CHANNEL), (READER_ID, THREAD_IN_ANSWER_CHANNEL), (READER_ID, DM_CHANNEL),
            (READER_ID, OTHER_CHANNEL)}
    assert {key for key in keys if harness.bot.answerer.conversations.get((MAIN_STORY, *key), 0.0).turns} == keys


async def test_slash_commands_and_messages_share_the_readers_conversation(harness: Harness,
                                                                          scripted: Scripted) -> None:
    await harness.interact(slash("ask", question="who is jivani?"))
    await harness.say("who is his old roommate?")  # same reader, same channel
    await harness.interact(slash("ask", question="when was that?", dm=True))  # same reader, the DM
    assert asked_before(scripted.conversation_for("who is his old roommate?")) == ["who is jivani?"]
    assert asked_before(scripted.conversation_for("when was that?")) == []


async def test_a_reply_to_the_bot_is_a_follow_up_even_when_the_engine_is_unsure(harness: Harness,
                                                                                  scripted: Scripted) -> None:
    scripted.script["when was that?"] = story(0.3)  # too unsure to butt in, but it was said to the bot
    assert await harness.say("What did Trump ask Jivani to tell Canadians?")
    bots = message_create("the bot's answer", author=WORLD.bot)
    (follow_up,) = await harness.say("when was that?", replying_to=bots)
    assert follow_up.embeds
    assert asked_before(scripted.conversation_for("when was that?")) == ["What did Trump ask Jivani to tell Canadians?"]


async def test_chatter_left_alone_is_not_remembered(harness: Harness, scripted: Scripted) -> None:
    await harness.say("who is jivani?")
    assert await harness.say("lol same") == []
    await harness.say("who is his old roommate?")
    assert asked_before(scripted.conversation_for("who is his old roommate?")) == ["who is jivani?"]


# --- answer channels: the engine's judgement ------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "heard"),
    [
        (story(0.95), True),
        (story(DEFAULT_CHANNEL_CONFIDENCE), True),
        (story(DEFAULT_CHANNEL_CONFIDENCE - 0.01), False),  # good enough for /ask, not to butt in
        (story(0.95, answered=False), False),
        (story(1.0, intent="greeting", text="Hi! Ask me about the story, or try /help."), False),
    ],
)
def test_worth_answering_only_a_confident_story_answer(answer: Answer, heard: bool) -> None:
    assert worth_answering(answer, DEFAULT_CHANNEL_CONFIDENCE) is heard


async def test_an_answer_channel_hears_a_casual_question_the_engine_is_sure_of(harness: Harness,
                                                                                scripted: Scripted) -> None:
    scripted.script["anyone know what trump said to jivani"] = story(0.9)
    scripted.script["i wonder what he said lol"] = story(0.6)
    (call,) = await harness.say("anyone know what trump said to jivani")  # no "?", no question word first
    assert call.embeds[0]["description"] == "Trump asked him to tell Canadians he loves them."
    assert_within_limits(call)
    assert await harness.say("i wonder what he said lol") == []


async def test_the_channel_confidence_is_a_setting(harness: Harness, scripted: Scripted) -> None:
    scripted.script["i wonder what he said lol"] = story(0.6)
    harness.bot.settings = dataclasses.replace(harness.bot.settings, channel_confidence=0.5)
    assert (await harness.say("i wonder what he said lol"))[0].embeds


async def test_chatter_does_not_use_up_the_cooldown(harness: Harness, scripted: Scripted) -> None:
    harness.bot.questions.__init__(1, 60.0)
    for chatter in ("lol", "same", "good morning"):
        assert await harness.say(chatter) == []
    assert (await harness.say("What did Trump ask Jivani to tell Canadians?"))[0].embeds


# --- intents: help, greetings, thanks ------------------------------------------------------------


async def test_an_intent_is_answered_with_the_engines_words_not_as_a_story_answer(harness: Harness,
                                                                                  scripted: Scripted) -> None:
    pointer = "You're welcome! Ask me anything about the story, or try /help."
    scripted.script["thanks!"] = Answer("", False, pointer, 1.0, intent="thanks")
    (dm,) = await harness.say("thanks!", dm=True)
    slash_reply = await harness.interact(slash("ask", question="thanks!"))
    for call in (dm, slash_reply):
        assert call.content == pointer and not call.embeds and not call.buttons
    assert await harness.say("thanks!") == []  # overheard in the answer channel: left alone
    assert harness.bot.store.stats().questions == 0  # not a story question: not a gap for moderators


# --- did you mean…? -----------------------------------------------------------------------------------

CLOSE = ("What did Trump ask Jivani to tell Canadians?", "Who did Jivani meet at the White House?")


async def test_two_close_answers_are_offered_as_buttons_instead_of_a_guess(harness: Harness,
                                                                          scripted: Scripted) -> None:
    scripted.script["what did they say"] = story(0.7, alternatives=CLOSE)
    call = await harness.interact(slash("ask", question="what did they say"))
    assert "Did you mean" in call.content and not call.embeds
    assert [b["label"] for b in call.buttons] == list(CLOSE)
    assert all(b["custom_id"].startswith("story:pick:") for b in call.buttons)
    assert_within_limits(call)


async def test_a_pick_answers_that_title_and_is_recorded(harness: Harness, scripted: Scripted) -> None:
    scripted.script["what did they say"] = story(0.7, alternatives=CLOSE)
    offer = await harness.interact(slash("ask", question="what did they say"))
    picked = await harness.interact(button_press(harness.fake.message_of(offer), offer.buttons[0]["custom_id"]))
    (embed,) = picked.embeds
    assert embed["title"] == CLOSE[0] and "¶1" in embed["fields"][0]["value"]
    assert scripted.asked[-1][0] == CLOSE[0]
    assert await asyncio.to_thread(harness.bot.store.flush, 10)  # recording is queued: wait for it to land
    with sqlite3.connect(harness.bot.settings.database_path) as db:
        rows = db.execute("SELECT q.question, p.title FROM picks p JOIN questions q ON q.id = p.question_id").fetchall()
    assert rows == [("what did they say", CLOSE[0])]


async def test_a_pick_of_an_entrys_title_puts_the_wording_in_the_moderators_gaps_with_that_entry(
        harness: Harness, scripted: Scripted) -> None:
    entry = harness.bot.engine.kb.entry("trump-message")
    scripted.script["what did they say"] = story(0.7, alternatives=(entry.question, CLOSE[1]))
    offer = await harness.interact(slash("ask", question="what did they say"))
    await harness.interact(button_press(harness.fake.message_of(offer), offer.buttons[0]["custom_id"]))
    (wording,) = [w for w in harness.bot.store.missed_wordings() if w.text == "what did they say"]
    assert (wording.picked, wording.chosen) == (1, ("qa:trump-message",))


async def test_a_pick_that_is_itself_ambiguous_answers_instead_of_asking_again(harness: Harness,
                                                                                scripted: Scripted) -> None:
    scripted.script["what did they say"] = story(0.7, alternatives=CLOSE)
    scripted.script[CLOSE[0]] = story(0.7, alternatives=CLOSE)
    offer = await harness.interact(slash("ask", question="what did they say"))
    picked = await harness.interact(button_press(harness.fake.message_of(offer), offer.buttons[0]["custom_id"]))
    assert picked.embeds and not any(b["custom_id"].startswith("story:pick:") for b in picked.buttons)


# --- answer first: a broken store is the log's problem ----------------------------------------------------


async def test_a_failing_store_still_answers_and_logs(harness: Harness, caplog) -> None:
    def broken(**_: object) -> int:
        raise sqlite3.OperationalError("disk I/O error")

    harness.bot.store.record_question = broken  # type: ignore[method-assign]
    with caplog.at_level(logging.ERROR):
        call = await harness.interact(slash("ask", question="What did Trump ask Jivani to tell Canadians?"))
    assert call.embeds and not any(b["custom_id"].startswith("story:vote:") for b in call.buttons)
    assert any("recording a question failed" in r.getMessage() and r.exc_info for r in caplog.records)


# --- settings ----------------------------------------------------------------------------------------


def test_reach_settings_are_read_and_checked() -> None:
    settings = Settings.from_env(env={"FORUM_CHANNELS": "5, 6", "CHANNEL_CONFIDENCE": "0.9"}, env_file=None)
    assert settings.forum_channels == {5, 6} and settings.channel_confidence == 0.9
    assert Settings.from_env(env={}, env_file=None).channel_confidence == DEFAULT_CHANNEL_CONFIDENCE
    for bad in ("high", "1.5", "-0.1", "nan"):
        with pytest.raises(SettingsError, match="CHANNEL_CONFIDENCE must be a number from 0 to 1"):
            Settings.from_env(env={"CHANNEL_CONFIDENCE": bad}, env_file=None)



# --- Ask the story: where the bot may post its reply ------------------------------------------------------


def _menu_interaction(harness: Harness, *, dm: bool = False, **changes: object) -> discord.Interaction:
    data = {"id": "1", "name": "Ask the story", "type": 3, "target_id": "2"}
    payload = _interaction(2, data, dm=dm) | changes
    return discord.Interaction(data=payload, state=harness.bot._connection)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("where", "changes", "posts"),
    [
        ("a server that installed the bot", {}, True),
        ("a server, from a user install", {"authorizing_integration_owners": {"1": str(READER_ID)}}, False),
        ("a server channel it may not send in", {"app_permissions": "0"}, False),
        ("its own DM", {"dm": True}, True),
        ("a DM or group DM it is not in", {"dm": True, "context": 2}, False),
    ],
)
def test_ask_the_story_posts_only_where_the_bot_can(harness: Harness, where: str, changes: dict, posts: bool) -> None:
    changes = dict(changes)
    interaction = _menu_interaction(harness, dm=bool(changes.pop("dm", False)), **changes)
    assert can_post(interaction) is posts, where


# --- French ------------------------------------------------------------------------------------------------


async def test_a_changed_translation_changes_the_command_hash(harness: Harness) -> None:
    """So the bot re-syncs when only a translation changed (the hash is of the translated payload)."""

    class NoFrench(StoryTranslator):
        async def translate(self, *args: object) -> str | None:
            return None

    before = await harness.bot.command_sync.hash()
    await harness.bot.tree.set_translator(NoFrench())
    assert await harness.bot.command_sync.hash() != before


async def test_with_one_story_a_dm_is_answered_without_asking_which_story(harness: Harness) -> None:
    (answer,) = await harness.say("Who is Jamil Jivani?", dm=True)
    assert answer.content != CHOOSE_STORY and "Conservative" in answer.embeds[0]["description"]
