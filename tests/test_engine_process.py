"""The engine in a child process (bot/engine/process.py): the same answers as in this process, follow-ups
included, and a child that dies is reported on every question instead of leaving readers waiting."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator

import pytest

from bot.engine import Conversation, Engine
from bot.engine.process import ChildGone, EngineProcess

QUESTIONS = ["Who is Jamil Jivani?", "When did Jivani go to Washington?", "What is the weather in Oslo?", "thanks!",
             "who is jivani, and when did he go to washington?"]



@pytest.fixture
async def child(engine: Engine) -> AsyncIterator[EngineProcess]:
    process = await EngineProcess.start(engine)
    yield process
    await process.close()


async def test_the_child_answers_as_the_engine_here(engine: Engine, child: EngineProcess) -> None:
    there = await asyncio.gather(*(child.ask(q, Conversation()) for q in QUESTIONS))  # all sent at once
    assert there == [engine.ask(q, Conversation()) for q in QUESTIONS]  # each to its own question


async def test_a_follow_up_leans_on_the_conversation_sent_with_it(engine: Engine, child: EngineProcess) -> None:
    talk = Conversation().add(engine.ask("Who is Jamil Jivani?"), 0.0)
    follow_up = "when did he go to washington?"
    there, here = await child.ask(follow_up, talk), engine.ask(follow_up, talk)
    assert there == here and "Jivani" in (there.resolved or "")


async def test_the_child_serves_the_engine_it_was_built_from_and_no_other(engine: Engine,
                                                                          child: EngineProcess) -> None:
    assert child.serves(engine) and child.alive
    assert not child.serves(Engine(engine.kb))  # a reload's new engine, even from the same knowledge


async def test_a_dead_child_says_so_on_every_question_and_to_its_owner(engine: Engine) -> None:
    exits: list[EngineProcess] = []
    process = await EngineProcess.start(engine, on_exit=exits.append)
    try:
        os.kill(process.pid, signal.SIGKILL)
        for _ in range(2):
            with pytest.raises(ChildGone):
                await process.ask("Who is Jamil Jivani?", Conversation())
        assert exits == [process] and not process.alive
    finally:
        await process.close()


async def test_close_answers_what_was_sent_then_stops_the_child_without_calling_it_dead(engine: Engine) -> None:
    exits: list[EngineProcess] = []
    process = await EngineProcess.start(engine, on_exit=exits.append)
    sent = [asyncio.ensure_future(process.ask(q, Conversation())) for q in QUESTIONS]
    await asyncio.sleep(0)  # the questions are written before the pipe closes
    await process.close()
    assert [a.question for a in await asyncio.gather(*sent)] == QUESTIONS
    assert exits == [] and not process.alive
    with pytest.raises(ProcessLookupError):
        os.kill(process.pid, 0)


async def test_a_child_that_exits_at_once_is_a_failed_start(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "executable", "/bin/false")  # e.g. a Python that cannot import the bot
    with pytest.raises(ChildGone, match="while starting"):
        await EngineProcess.start(engine)
