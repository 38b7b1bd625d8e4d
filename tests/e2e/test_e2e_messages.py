"""Questions in messages: a mention, a DM, the configured channel; and mentions that must never ping."""

from __future__ import annotations

import pytest

from bot.discord.bot import StoryBot
from tests.standin import Discord

pytestmark = pytest.mark.slow  # the real bot against the stand-in: seconds a test


async def test_a_mention_is_answered_as_a_reply_without_ping(standin: Discord, story_bot: StoryBot) -> None:
    event = await standin.member_says("who is Jivani?", mentions_bot=True, channel=standin.world.chatter)
    reply = await event.reply()
    assert "Jivani" in reply.text
    assert reply.body["message_reference"]["message_id"] == event.id
    assert reply.body["allowed_mentions"] == {"parse": [], "replied_user": False}


async def test_a_dm_is_answered(standin: Discord, story_bot: StoryBot) -> None:
    reply = await (await standin.dm("What is CUSMA?")).reply()
    assert "CUSMA" in reply.text
    assert reply.message is not None and reply.message["channel_id"] == str(
        standin.world.dm_channel(standin.world.member.id)
    )


async def test_a_question_in_the_configured_channel_is_answered(standin: Discord, story_bot: StoryBot) -> None:
    reply = await (await standin.member_says("Who is Usha Vance?", channel=standin.world.answers)).reply()
    assert "Vance" in reply.text


async def test_chatter_and_other_channels_are_left_alone(standin: Discord, story_bot: StoryBot) -> None:
    chatter = await standin.member_says("lol same", channel=standin.world.answers)
    elsewhere = await standin.member_says("who is Jivani?", channel=standin.world.chatter)
    await chatter.no_reply(0.5)
    await elsewhere.no_reply(0.0)


async def test_a_bare_mention_gets_the_help(standin: Discord, story_bot: StoryBot) -> None:
    reply = await (await standin.member_says("", mentions_bot=True, channel=standin.world.chatter)).reply()
    assert "/ask" in reply.text


async def test_everyone_and_role_mentions_are_answered_without_any_ping(standin: Discord, story_bot: StoryBot) -> None:
    w = standin.world
    text = f"@everyone @here <@&{w.readers_role}> <@{w.moderator.id}> who is <@&{w.moderator_role}> Jivani?"
    event = await standin.member_says(text, mentions_bot=True, author=w.moderator, channel=w.chatter)
    reply = await event.reply()
    assert reply.body["allowed_mentions"]["parse"] == []
    assert not any(reply.body["allowed_mentions"].get(k) for k in ("users", "roles", "replied_user"))
    # the standin fixture then fails the test if any send allowed a ping


async def test_the_bot_ignores_its_own_messages(standin: Discord, story_bot: StoryBot) -> None:
    await (await standin.member_says("who is Jivani?")).reply()
    await standin.member_says("what is CUSMA?")  # the first reply's echo arrived before this on the gateway
    await standin.signal.until(lambda: len(standin.messages) >= 4, 5.0, "the second reply")
    sends = [r for r in standin.requests if r.line.startswith("POST /channels/")]
    assert len(sends) == 2 and not standin.unsolicited


async def test_a_member_asking_too_fast_is_told_once(standin: Discord, tmp_path: object) -> None:
    from .harness import running_bot, settings_for

    async with running_bot(standin, settings_for(standin, tmp_path, cooldown_rate=2)):  # type: ignore[arg-type]
        names = ("Jivani", "Rubio", "Carney", "Vance")
        events = [await standin.member_says(f"who is {name}?", mentions_bot=True) for name in names]
        answers = [await e.reply() for e in events[:3]]
        await events[3].no_reply(0.5)
    assert "please wait" in answers[2].text and "please wait" not in answers[1].text
