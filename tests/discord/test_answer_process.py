"""ANSWER_PROCESS: readers are answered by a child process holding its own engine, and answered all the same
when that child is starting, out of date after a reload, or dead."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import signal
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.config import Settings
from bot.discord import answerer as answerer_module
from bot.engine import Answer, Engine
from tests.discord.conftest import Harness, InProcessDiscord, guild_create, settle, slash, start_bot
from tests.waiting import wait_for

QUESTION = "Who is Jamil Jivani?"
CHILD_START = 30.0  # seconds a new child may take to be ready on a busy machine


class Counting(Engine):
    """The real engine, counting the questions it answered in this process."""

    asked = 0

    def ask(self, *args: Any, **kwargs: Any) -> Answer:
        self.asked += 1
        return super().ask(*args, **kwargs)


@pytest.fixture
async def harness(settings: Settings, fake: InProcessDiscord) -> AsyncIterator[Harness]:
    bot = await start_bot(dataclasses.replace(settings, answer_process=True), fake)
    h = Harness(bot, fake)
    await h.event("GUILD_CREATE", guild_create())
    yield h
    await bot.close()
    fake.assert_clean()


async def answered(harness: Harness) -> None:
    call = await harness.interact(slash("ask", question=QUESTION))
    assert "Jivani" in call.embeds[0]["title"]


async def test_readers_are_answered_by_the_child_once_the_bot_is_up(harness: Harness) -> None:
    here = Counting(harness.bot.engine.kb)
    harness.bot.engine = here
    answerer = harness.bot.answerer
    await wait_for(lambda: answerer._process is not None and answerer._process.serves(here), CHILD_START)
    assert harness.bot.answering_in_process
    await answered(harness)
    assert here.asked == 0  # the child answered


async def test_after_a_reload_the_new_knowledge_answers_at_once_and_the_child_takes_over(harness: Harness) -> None:
    new = Counting(harness.bot.engine.kb)
    harness.bot.engine = new  # what a reload does; the child still has the old engine
    assert not harness.bot.answering_in_process
    await answered(harness)
    assert new.asked == 1  # answered here, from the new knowledge, not by the out-of-date child
    await wait_for(lambda: harness.bot.answerer._process.serves(new), CHILD_START)
    await answered(harness)
    assert new.asked == 1


async def test_a_reload_has_the_child_ready_when_the_new_knowledge_is_swapped_in(harness: Harness) -> None:
    new = Counting(harness.bot.engine.kb)
    await harness.bot.reloader._prepare(new)  # what a reload awaits before its swap
    harness.bot.engine = new
    assert harness.bot.answering_in_process
    await answered(harness)
    assert new.asked == 0


async def test_a_dead_child_is_replaced_and_nobody_is_left_unanswered(
        harness: Harness, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(answerer_module, "PROCESS_RESTART", 0.0)
    old = harness.bot.answerer._process
    assert old is not None
    os.kill(old.pid, signal.SIGKILL)
    with caplog.at_level(logging.ERROR):
        await answered(harness)  # the question that finds the child dead is answered in this process
    assert "the answer process died" in caplog.text
    await wait_for(lambda: harness.bot.answerer._process not in (None, old), CHILD_START)
    await answered(harness)


async def test_a_hung_child_misses_its_deadline_every_reader_is_answered_and_it_is_replaced(
        harness: Harness, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(answerer_module, "PROCESS_RESTART", 0.0)
    bot = harness.bot
    bot.answerer.settings = dataclasses.replace(bot.settings, answer_deadline=0.5)  # the answerer keeps the deadline
    hung = bot.answerer._process
    assert hung is not None
    os.kill(hung.pid, signal.SIGSTOP)  # alive, answering nothing
    before, sent = asyncio.all_tasks(), len(harness.fake.sent())
    with caplog.at_level(logging.ERROR):
        for _ in range(5):
            harness.fake.deliver(bot, "INTERACTION_CREATE", slash("ask", question=QUESTION))
        await settle(before, timeout=15.0)  # without a deadline, every one of them waits for ever
    replies = harness.fake.sent()[sent:]
    assert len(replies) == 5 and all("Jivani" in call.embeds[0]["title"] for call in replies)
    assert caplog.text.count("answered nothing for 0.5 s") == 1
    _, body = bot.health.status()
    assert body["answer_process"]["deadline_misses"] >= 1 and body["answer_process"]["restarts"] == 1
    assert "answered nothing" in body["answer_process"]["last_fault"]["why"]
    registry = bot.health.registry
    assert registry.get_sample_value("story_bot_answer_process_restarts_total", {"reason": "deadline"}) == 1
    assert (registry.get_sample_value("story_bot_answer_deadline_misses_total") or 0) >= 1
    await wait_for(lambda: bot.answerer._process not in (None, hung) and bot.answering_in_process, CHILD_START)
    await answered(harness)
    with pytest.raises(ProcessLookupError):
        os.kill(hung.pid, 0)


async def test_the_child_stops_with_the_bot(settings: Settings, fake: InProcessDiscord) -> None:
    bot = await start_bot(dataclasses.replace(settings, answer_process=True), fake)
    assert bot.answerer._process is not None
    pid = bot.answerer._process.pid
    await bot.close()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert bot.answerer._process is None

