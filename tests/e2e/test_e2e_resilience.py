"""Faults: a dropped gateway, rate limits and server errors on sending, a slow Discord."""

from __future__ import annotations

import pytest

from bot.discord.bot import StoryBot
from tests.standin import Discord

pytestmark = pytest.mark.slow  # the real bot against the stand-in: seconds a test


@pytest.mark.parametrize("code", [None, 4000], ids=["connection-lost", "close-4000"])
async def test_the_bot_resumes_after_a_dropped_gateway_and_answers_again(
    standin: Discord, story_bot: StoryBot, code: int | None
) -> None:
    await (await standin.member_says("who is Jivani?")).reply()
    await standin.gateway.drop(code)
    await standin.wait_connected(10.0, resumes=1)
    reply = await (await standin.slash("who", name="Vance")).reply()
    assert standin.gateway.identifies == 1 and "Vance" in reply.text


async def test_the_bot_reconnects_when_discord_asks(standin: Discord, story_bot: StoryBot) -> None:
    await standin.gateway.send_op(7)  # RECONNECT
    await standin.wait_connected(10.0, resumes=1)
    assert "Jivani" in (await (await standin.member_says("who is Jivani?")).reply()).text


@pytest.mark.parametrize("status", [429, 502])
async def test_a_refused_send_is_retried_and_the_reply_arrives(
    standin: Discord, story_bot: StoryBot, status: int
) -> None:
    fault = standin.inject("POST /channels/*/messages", status=status, retry_after=0.3)
    reply = await (await standin.member_says("who is Jivani?")).reply(timeout=5.0)
    attempts = [r.status for r in standin.requests if r.line.startswith("POST /channels/")]
    assert fault.hits == 1 and attempts == [status, 200] and "Jivani" in reply.text


async def test_a_rate_limited_interaction_response_is_retried_in_time(standin: Discord, story_bot: StoryBot) -> None:
    standin.inject("POST /interactions/*/callback", status=429, retry_after=0.5)
    event = await standin.slash("who", name="Jivani")
    await event.reply()
    assert event.response_time is not None and 0.5 <= event.response_time < 3.0


async def test_a_slow_discord_still_gets_every_answer(standin: Discord, story_bot: StoryBot) -> None:
    standin.inject("POST /channels/*/messages", delay=0.4, times=3)
    events = [await standin.member_says(f"who is {name}?") for name in ("Jivani", "Vance", "Rubio")]
    replies = [await e.reply(timeout=10.0) for e in events]
    assert [n in r.text for n, r in zip(("Jivani", "Vance", "Rubio"), replies, strict=True)] == [True] * 3
