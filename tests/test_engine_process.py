"""The engine in a child process (bot/engine/process.py): the same answers as in this process, follow-ups
included, and a child that dies is reported on every question instead of leaving readers waiting."""

from __future__ import annotations

import asyncio
import os
import signal
import struct
import sys
from collections.abc import AsyncIterator

import pytest

from bot.engine import Conversation, Engine
from bot.engine.process import ChildGone, ChildLate, EngineProcess
from bot.knowledge.packs import MAIN_STORY

QUESTIONS = ["Who is Jamil Jivani?", "When did Jivani go to Washington?", "What is the weather in Oslo?", "thanks!",
             "who is jivani, and when did he go to washington?"]



@pytest.fixture
async def child(engine: Engine) -> AsyncIterator[EngineProcess]:
    process = await EngineProcess.start({MAIN_STORY: engine})
    yield process
    await process.close()


async def test_the_child_answers_as_the_engine_here(engine: Engine, child: EngineProcess) -> None:
    there = await asyncio.gather(*(child.ask(q, Conversation(), 60.0) for q in QUESTIONS))  # all sent at once
    assert there == [engine.ask(q, Conversation()) for q in QUESTIONS]  # each to its own question


async def test_a_follow_up_leans_on_the_conversation_sent_with_it(engine: Engine, child: EngineProcess) -> None:
    talk = Conversation().add(engine.ask("Who is Jamil Jivani?"), 0.0)
    follow_up = "when did he go to washington?"
    there, here = await child.ask(follow_up, talk, 60.0), engine.ask(follow_up, talk)
    assert there == here and "Jivani" in (there.resolved or "")


async def test_the_child_serves_the_engine_it_was_built_from_and_no_other(engine: Engine,
                                                                          child: EngineProcess) -> None:
    assert child.serves(engine) and child.alive
    assert not child.serves(Engine(engine.kb))  # a reload's new engine, even from the same knowledge


async def test_one_child_answers_each_story_from_its_own(engine: Engine, second_engine: Engine) -> None:
    process = await EngineProcess.start({MAIN_STORY: engine, "second": second_engine})
    try:
        question = "How long is the line?"
        there = await asyncio.gather(process.ask(question, Conversation(), 60.0, "second"),
                                     process.ask(question, Conversation(), 60.0))
        assert there == [second_engine.ask(question), engine.ask(question)]
        assert there[0].answered and not there[1].answered  # the line is the second story's
        assert process.serves(second_engine, "second") and not process.serves(second_engine)
    finally:
        await process.close()


async def test_a_dead_child_says_so_on_every_question_and_to_its_owner(engine: Engine) -> None:
    exits: list[EngineProcess] = []
    process = await EngineProcess.start({MAIN_STORY: engine}, on_exit=exits.append)
    try:
        os.kill(process.pid, signal.SIGKILL)
        for _ in range(2):
            with pytest.raises(ChildGone):
                await process.ask("Who is Jamil Jivani?", Conversation(), 60.0)
        assert exits == [process] and not process.alive
    finally:
        await process.close()


async def test_close_answers_what_was_sent_then_stops_the_child_without_calling_it_dead(engine: Engine) -> None:
    exits: list[EngineProcess] = []
    process = await EngineProcess.start({MAIN_STORY: engine}, on_exit=exits.append)
    sent = [asyncio.ensure_future(process.ask(q, Conversation(), 60.0)) for q in QUESTIONS]
    await asyncio.sleep(0)  # the questions are written before the pipe closes
    await process.close()
    assert [a.question for a in await asyncio.gather(*sent)] == QUESTIONS
    assert exits == [] and not process.alive
    with pytest.raises(ProcessLookupError):
        os.kill(process.pid, 0)


async def test_a_child_that_exits_at_once_is_a_failed_start(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "executable", "/bin/false")  # e.g. a Python that cannot import the bot
    with pytest.raises(ChildGone, match="while starting"):
        await EngineProcess.start({MAIN_STORY: engine})


async def test_a_stopped_child_is_late_past_the_deadline_and_is_killed(engine: Engine) -> None:
    exits: list[EngineProcess] = []
    process = await EngineProcess.start({MAIN_STORY: engine}, on_exit=exits.append)
    try:
        os.kill(process.pid, signal.SIGSTOP)  # hung: alive, but answering nothing
        async with asyncio.timeout(10):  # without a deadline, this would wait for ever
            with pytest.raises(ChildLate):
                await process.ask("Who is Jamil Jivani?", Conversation(), 0.5)
            while not exits:
                await asyncio.sleep(0.05)
        assert exits == [process] and process.fault is not None and process.fault[0] == "deadline"
        with pytest.raises(ChildGone):
            await process.ask("Who is Jamil Jivani?", Conversation(), 0.5)
    finally:
        await process.close()
    with pytest.raises(ProcessLookupError):
        os.kill(process.pid, 0)  # killed, though it was stopped


async def test_a_frame_announcing_gigabytes_stops_the_child_instead_of_waiting_for_them(engine: Engine) -> None:
    exits: list[EngineProcess] = []
    process = await EngineProcess.start({MAIN_STORY: engine}, on_exit=exits.append)
    try:
        asking = asyncio.ensure_future(process.ask("Who is Jamil Jivani?", Conversation(), 60.0))
        process._child.stdout.feed_data(struct.pack(">I", 2 * 2**30))  # a corrupt stream: "2 GB follow"
        async with asyncio.timeout(10):
            with pytest.raises(ChildGone):
                await asking
        assert exits == [process] and process.fault is not None and process.fault[0] == "frame"
        assert "2,147,483,648 bytes" in process.fault[1]
    finally:
        await process.close()


async def test_a_burst_longer_than_the_deadline_is_answered_by_a_child_that_keeps_answering(
        engine: Engine, child: EngineProcess) -> None:
    """The deadline is for a child that answers nothing, not for a question waiting its turn."""
    deadline = 0.05  # shorter than the whole burst takes, far longer than one answer
    answers = await asyncio.gather(*(child.ask(QUESTIONS[i % len(QUESTIONS)], Conversation(), deadline)
                                     for i in range(300)))
    assert len(answers) == 300 and child.alive and child.fault is None
