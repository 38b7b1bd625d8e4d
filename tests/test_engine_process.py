"""The engine in a child process (bot/engine/process.py): the same answers as in this process, follow-ups
included, and a child that dies is reported on every question instead of leaving readers waiting."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.engine import Conversation, Engine, load_engine
from bot.engine.process import BrokenProcessPool, EngineProcess

FIXTURE = Path(__file__).parent / "fixtures" / "knowledge"
QUESTIONS = ["Who is Jamil Jivani?", "When did Jivani go to Washington?", "What is the weather in Oslo?", "thanks!",
             "who is jivani, and when did he go to washington?"]


@pytest.fixture(scope="module")
def engine() -> Engine:
    built, problems = load_engine(FIXTURE)
    assert built is not None, problems
    return built


@pytest.fixture(scope="module")
def child(engine: Engine) -> Iterator[EngineProcess]:
    process = EngineProcess.start(engine)
    yield process
    process.close(wait=True)


@pytest.mark.parametrize("question", QUESTIONS)
async def test_the_child_answers_as_the_engine_here(engine: Engine, child: EngineProcess, question: str) -> None:
    assert await child.ask(question, Conversation()) == engine.ask(question, Conversation())


async def test_a_follow_up_leans_on_the_conversation_sent_with_it(engine: Engine, child: EngineProcess) -> None:
    talk = Conversation().add(engine.ask("Who is Jamil Jivani?"), 0.0)
    follow_up = "when did he go to washington?"
    there, here = await child.ask(follow_up, talk), engine.ask(follow_up, talk)
    assert there == here and "Jivani" in (there.resolved or "")


def test_the_child_serves_the_engine_it_was_built_from_and_no_other(engine: Engine, child: EngineProcess) -> None:
    assert child.serves(engine)
    assert not child.serves(Engine(engine.kb))  # a reload's new engine, even from the same knowledge


async def test_a_dead_child_says_so_on_every_question(engine: Engine) -> None:
    process = EngineProcess.start(engine)
    try:
        os.kill(process.pid, signal.SIGKILL)
        for _ in range(2):
            with pytest.raises(BrokenProcessPool):
                await process.ask("Who is Jamil Jivani?", Conversation())
    finally:
        process.close(wait=True)
