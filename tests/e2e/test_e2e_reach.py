"""Reach, end to end: follow-ups per reader and place, "did you mean", Ask the story, forums, user installs, French.

The real bot against the stand-in. Which conversation the engine gets is checked in the bot's
ConversationBook; what the engine makes of it (resolving "he") is the engine's part, checked here too.
"""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.discord.bot import StoryBot
from bot.engine import Answer, Conversation, Engine
from bot.knowledge.packs import MAIN_STORY
from tests.standin import Discord, Event

from .harness import ErrorLog, running_bot, settings_for

pytestmark = pytest.mark.slow  # the real bot against the stand-in: seconds a test

NO_PINGS = {"parse": [], "replied_user": False}
@pytest.fixture
async def forum_bot(standin: Discord, tmp_path: Path, errors: ErrorLog) -> AsyncIterator[StoryBot]:
    """The real bot watching the stand-in's forum."""
    settings = settings_for(standin, tmp_path, forum_channels=frozenset({standin.world.forum}))
    async with running_bot(standin, settings) as bot:
        yield bot
    assert not errors.records, "errors were logged:\n" + "\n".join(errors.messages())


def turns(bot: StoryBot, user_id: int, place: int) -> list[str]:
    return [t.question for t in bot.answerer.conversations.get((MAIN_STORY, user_id, place), 0.0).turns]


async def ask_in(standin: Discord, text: str, channel: int, **kwargs: object) -> Event:
    return await standin.member_says(text, mentions_bot=True, channel=channel, **kwargs)  # type: ignore[arg-type]


# --- follow-ups --------------------------------------------------------------------------------------


async def test_a_follow_up_in_a_channel(standin: Discord, story_bot: StoryBot) -> None:
    chatter, me = standin.world.chatter, standin.world.member
    await (await ask_in(standin, "who is jivani?", chatter)).reply()
    follow_up = await (await ask_in(standin, "who is his old roommate?", chatter)).reply()
    assert "Vance" in follow_up.text and follow_up.body["allowed_mentions"] == NO_PINGS
    assert turns(story_bot, me.id, chatter) == ["who is jivani?", "who is his old roommate?"]


async def test_a_follow_up_in_a_dm(standin: Discord, story_bot: StoryBot) -> None:
    me = standin.world.member
    await (await standin.dm("who is jivani?")).reply()
    follow_up = await (await standin.dm("who is his old roommate?")).reply()
    assert "Vance" in follow_up.text
    assert turns(story_bot, me.id, standin.world.dm_channel(me.id)) == ["who is jivani?", "who is his old roommate?"]


async def test_a_second_readers_he_is_not_resolved_from_the_first_readers_conversation(
    standin: Discord, story_bot: StoryBot
) -> None:
    w = standin.world
    other = w.reader(1)
    await (await ask_in(standin, "who is scott bessent?", w.chatter)).reply()
    theirs = await (await ask_in(standin, "who is he?", w.chatter, author=other)).reply()
    assert "Bessent" not in theirs.text
    assert turns(story_bot, other.id, w.chatter) == ["who is he?"]
    assert turns(story_bot, w.member.id, w.chatter) == ["who is scott bessent?"]


async def test_the_first_readers_own_he_is_resolved(standin: Discord, story_bot: StoryBot) -> None:
    await (await ask_in(standin, "who is scott bessent?", standin.world.chatter)).reply()
    mine = await (await ask_in(standin, "who is he?", standin.world.chatter)).reply()
    assert "Bessent" in mine.text


# --- did you mean…? -------------------------------------------------------------------------------------

CLOSE = ("What did Trump ask Jivani to tell Canadians?", "Who did Jivani meet at the White House?")


class TwoClose(Engine):
    """The real engine, but "what did they say" has two answers too close to pick between."""

    def ask(self, text: str, conversation: Conversation | None = None) -> Answer:
        answer = super().ask(text, conversation)
        return dataclasses.replace(answer, alternatives=CLOSE) if text == "what did they say" else answer


async def test_did_you_mean_buttons_answer_the_pick_and_record_it(standin: Discord, story_bot: StoryBot) -> None:
    story_bot.engine = TwoClose(story_bot.engine.kb)
    offer = await (await standin.slash("ask", question="what did they say")).reply()
    assert "Did you mean" in offer.text and not offer.embeds
    labels = [c["label"] for row in offer.components for c in row["components"]]
    assert labels == list(CLOSE)
    picked = await (await standin.click(offer, offer.custom_ids()[0])).reply()
    assert picked.embeds[0]["title"] == CLOSE[0] and "¶1" in picked.text

    def picks() -> list[tuple[str, str]]:
        with sqlite3.connect(story_bot.settings.database_path) as db:
            return db.execute("SELECT q.question, p.title FROM picks p JOIN questions q ON q.id = p.question_id"
                              ).fetchall()

    for _ in range(50):  # the pick is recorded just after the answer is sent
        if picks():
            break
        await asyncio.sleep(0.05)
    assert picks() == [("what did they say", CLOSE[0])]


# --- Ask the story (message context menu) -----------------------------------------------------------


async def test_ask_the_story_on_another_members_message_replies_under_it(standin: Discord,
                                                                          story_bot: StoryBot) -> None:
    w = standin.world
    target = await standin.member_says("who is jivani?", author=w.moderator, channel=w.chatter)  # not to the bot
    menu = await standin.context_menu("Ask the story", target, user=w.member)
    answer = await target.reply()
    assert answer.body["message_reference"]["message_id"] == target.id
    assert answer.body["allowed_mentions"] == NO_PINGS and "Bowmanville" in answer.text
    note = await menu.reply()
    assert note.ephemeral and answer.message is not None and answer.message["id"] in note.text
    assert menu.response_time is not None and menu.response_time < 3.0


async def test_ask_the_story_from_a_user_install_answers_privately(standin: Discord, story_bot: StoryBot) -> None:
    w = standin.world
    target = await standin.member_says("who is jivani?", author=w.moderator, channel=w.chatter)
    menu = await standin.context_menu("Ask the story", target, user=w.member, user_install=True)
    private = await menu.reply()
    assert private.ephemeral and "Bowmanville" in private.text
    await target.no_reply(0.2)  # the bot is not the server's: it does not post there


async def test_ask_the_story_falls_back_to_private_when_it_cannot_post(standin: Discord,
                                                                        story_bot: StoryBot) -> None:
    w = standin.world
    target = await standin.member_says("who is jivani?", author=w.moderator, channel=w.chatter)
    standin.inject("POST /channels/*/messages", status=403)
    private = await (await standin.context_menu("Ask the story", target, user=w.member)).reply()
    assert private.ephemeral and "Bowmanville" in private.text


async def test_ask_the_story_on_chatter_tells_only_the_asker(standin: Discord, story_bot: StoryBot) -> None:
    w = standin.world
    target = await standin.member_says("what a day, huh", author=w.moderator, channel=w.chatter)
    private = await (await standin.context_menu("Ask the story", target, user=w.member)).reply()
    assert private.ephemeral and "doesn't say" in private.text
    await target.no_reply(0.2)


# --- forums ------------------------------------------------------------------------------------------------


async def test_a_forum_post_is_answered_in_its_thread_with_this_answered_it(standin: Discord,
                                                                             forum_bot: StoryBot) -> None:
    post = await standin.forum_post("Why did Jivani go to Washington?", "I read the piece but missed why.")
    answer = await post.reply()
    assert answer.message is not None and int(answer.message["channel_id"]) == post.id  # in the post's own thread
    assert "Washington" in answer.text and "¶2" in answer.text
    solved = next(i for i in answer.custom_ids() if i.startswith("story:solved:"))
    thanks = await (await standin.click(answer, solved)).reply()
    assert thanks.ephemeral
    assert forum_bot.store is not None and forum_bot.store.stats().helpful == 1


async def test_a_forum_post_that_asks_nothing_is_left_alone(standin: Discord, forum_bot: StoryBot) -> None:
    post = await standin.forum_post("Welcome!", "Say hi here and introduce yourself")
    await post.no_reply(0.5)


async def test_a_question_inside_a_forum_thread_keeps_the_threads_conversation(standin: Discord,
                                                                                forum_bot: StoryBot) -> None:
    me = standin.world.member
    post = await standin.forum_post("Who is Jamil Jivani?", "")
    await post.reply()
    follow_up = await (await standin.member_says("who is his old roommate?", mentions_bot=True,
                                                 channel=post.id)).reply()
    assert "Vance" in follow_up.text
    assert turns(forum_bot, me.id, post.id) == ["Who is Jamil Jivani?", "who is his old roommate?"]


# --- everywhere readers are, in English and French -----------------------------------------------------

READER_COMMANDS = {"ask": "demander", "who": "qui", "what": "quoi", "when": "quand", "source": "source",
                   "help": "aide"}


async def test_synced_commands_carry_installs_contexts_and_french(standin: Discord, tmp_path: Path,
                                                                  errors: ErrorLog) -> None:
    async with running_bot(standin, settings_for(standin, tmp_path, dev_guild_id=None)):
        pass
    synced = {(c["type"], c["name"]): c for c in standin.commands[None]}  # global: where installs matter
    for name, french in READER_COMMANDS.items():
        command = synced[(1, name)]
        assert command["integration_types"] == [0, 1] and command["contexts"] == [0, 1, 2]
        assert command["name_localizations"] == {"fr": french}
        assert set(command["description_localizations"]) == {"fr"}
        for option in command["options"]:
            assert set(option["name_localizations"]) == {"fr"} and set(option["description_localizations"]) == {"fr"}
    menu = synced[(3, "Ask the story")]
    assert menu["integration_types"] == [0, 1] and menu["contexts"] == [0, 1, 2]
    assert menu["name_localizations"] == {"fr": "Demander à l'article"}
    kb = synced[(1, "kb")]
    assert kb["integration_types"] == [0] and kb["contexts"] == [0]  # moderators' tools: servers only
    assert not errors.records


async def test_commands_work_in_a_dm(standin: Discord, story_bot: StoryBot) -> None:
    dm = standin.world.dm_channel(standin.world.member.id)
    who = await (await standin.slash("who", name="Jivani", channel=dm)).reply()
    assert "Bowmanville" in who.text
    help_reply = await (await standin.slash("help", channel=dm)).reply()
    assert "Answers are in English for now" in help_reply.text and "en anglais" in help_reply.text
