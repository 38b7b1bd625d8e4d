"""The engine in a child process of its own, for a service answering many readers at once.

The engine is pure Python. Answering in threads of the bot's own process means sharing one GIL with the
event loop, and in a burst of questions the loop then waits for an answer thread at every socket write:
with two cores, the loop and the engine took turns on one. A child process gives each its own core.

The child builds its Engine from the KnowledgeBase the parent loaded (sent pickled), so it answers from
exactly the knowledge the parent swapped in, never from files read a moment later. A question goes over
as text plus the reader's small immutable Conversation; the Answer comes back the same way.

concurrent.futures' ProcessPoolExecutor does the plumbing (queues, a child that dies shows up as
BrokenProcessPool on every question waiting for it); "spawn", not fork, because the parent has threads
(the event loop's helpers, the store's writer) that a forked child would inherit mid-lock.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import multiprocessing
import os
import signal
import weakref
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from bot.engine.answer import Answer
from bot.engine.conversation import Conversation
from bot.engine.engine import Engine
from bot.engine.params import Params
from bot.knowledge.model import KnowledgeBase

log = logging.getLogger(__name__)

__all__ = ["BrokenProcessPool", "EngineProcess"]

_engine: Engine | None = None  # in the child: the engine it answers from


def _setup(log_level: str, log_format: str) -> None:
    """The child's first step: log like the parent, and leave Ctrl-C to the parent, which stops the child."""
    from bot.logs import setup_logging

    setup_logging(log_level, log_format)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _build(kb: KnowledgeBase, params: Params) -> int:
    """Build the child's engine; its process id, for the parent's log."""
    global _engine
    _engine = Engine(kb, params)
    # The engine lives as long as the child and never becomes garbage: out of the collector's full passes,
    # which would otherwise walk all of it again and again in a burst of questions (as the bot does at start).
    gc.collect()
    gc.freeze()
    return os.getpid()


def _ask(question: str, conversation: Conversation) -> Answer:
    assert _engine is not None, "the child answers only after _build"
    return _engine.ask(question, conversation)


class EngineProcess:
    """One child process answering as one Engine of the parent's would; a reload needs a new EngineProcess.

    It keeps no reference to that engine or its knowledge once started (a weak one only): a replaced engine
    is freed piece by piece by the reloader, which a reference held here would turn into one long free.
    """

    def __init__(self, engine: Engine, executor: ProcessPoolExecutor, pid: int) -> None:
        self._serves = weakref.ref(engine)
        self._executor = executor
        self.pid = pid

    def serves(self, engine: Engine) -> bool:
        """Whether the child answers as `engine` would: it was built from that engine's knowledge."""
        return self._serves() is engine

    @classmethod
    def start(cls, engine: Engine, *, log_level: str = "INFO", log_format: str = "text") -> EngineProcess:
        """Start a child and wait until it has built its copy of `engine`. Blocking (a process start and an
        engine's build): call it from a worker thread. Raises BrokenProcessPool when the child could not start
        or died building."""
        executor = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"), initializer=_setup,
                                       initargs=(log_level, log_format))
        try:
            # Sent as a call, not as the initializer's arguments, which the executor would keep for its lifetime.
            pid = executor.submit(_build, engine.kb, engine.params).result()
        except BaseException:
            executor.shutdown(wait=False, cancel_futures=True)
            raise
        return cls(engine, executor, pid)

    async def ask(self, question: str, conversation: Conversation) -> Answer:
        """The child's answer. Raises BrokenProcessPool when the child has died (then every later call does)."""
        return await asyncio.wrap_future(self._executor.submit(_ask, question, conversation))

    def close(self, *, wait: bool = False) -> None:
        """Stop the child once the questions already sent to it are answered (`wait`: block until then)."""
        self._executor.shutdown(wait=wait)
