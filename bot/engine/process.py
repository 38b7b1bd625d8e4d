"""The engine in a child process of its own, for a service answering many readers at once.

The engine is pure Python. Answering in threads of the bot's own process means sharing one GIL with the
event loop, and in a burst of questions the loop then waits for an answer thread at every socket write:
with two cores, the loop and the engine took turns on one. A child process gives each its own core.

The child (`python -m bot.engine.process`) builds an Engine for each story from the KnowledgeBase the parent
loaded, sent pickled, so it answers from exactly the knowledge the parent swapped in, never from files read a
moment later; one child serves every story, sharing one copy of the models. Then each question goes down its
stdin as the story's slug, the text and the reader's small immutable Conversation, and
each Answer comes back on its stdout, in order: a 4-byte length, then a pickle. The parent reads and writes
the pipes on its event loop. concurrent.futures' ProcessPoolExecutor was tried first: its queue feeder and
manager threads took the GIL from the loop again (0.3 ms a question), and its queues cost the child as much
again; the pipes cost neither. Pickle is safe here: both ends are this program.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import itertools
import logging
import os
import pickle
import signal
import struct
import sys
import time
import weakref
from collections.abc import Callable, Mapping
from typing import Any, BinaryIO

from bot.engine.answer import Answer
from bot.engine.conversation import Conversation
from bot.engine.engine import Engine
from bot.knowledge.packs import MAIN_STORY

log = logging.getLogger(__name__)

_LENGTH = struct.Struct(">I")
STOP_WAIT = 10.0  # seconds close() waits for the child to answer what it was sent and exit, before killing it
START_WAIT = 120.0  # seconds a child may take to build its engine (seconds at 10,000 entries) before it is killed
# The longest answer the parent reads. An answer is a few kB; a length beyond this is a corrupt stream, and
# reading it would wait for bytes that never come (or hold gigabytes): the child is stopped instead.
MAX_FRAME = 16 * 2**20


class ChildGone(RuntimeError):
    """The answer process has exited (killed, out of memory, or it could not start): ask elsewhere."""


class ChildLate(ChildGone):
    """The answer process had questions and answered none for the deadline: it is stopped as hung."""


class FrameTooLarge(ValueError):
    """The child announced an answer longer than MAX_FRAME: its stream cannot be trusted."""


def _frame(value: Any) -> bytes:
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    return _LENGTH.pack(len(data)) + data


class EngineProcess:
    """One child process answering as the parent's Engines (one per story) would; a reload of any story needs a
    new EngineProcess, and until it is ready the other stories are still answered here.

    It keeps no reference to those engines or their knowledge once started (weak ones only): a replaced engine
    is freed piece by piece by the reloader, which a reference held here would turn into one long free.
    """

    def __init__(self, engines: Mapping[str, Engine], child: asyncio.subprocess.Process,
                 on_exit: Callable[[EngineProcess], None] | None = None) -> None:
        self._serves = {story: weakref.ref(engine) for story, engine in engines.items()}
        self._child = child
        self.pid = child.pid
        self._on_exit = on_exit
        self._ids = itertools.count()
        self._waiting: dict[int, asyncio.Future[Answer]] = {}
        self._gone = False
        self._closing = False
        # Why the parent stopped the child, if it did: ("deadline" | "frame", a phrase for the log).
        self.fault: tuple[str, str] | None = None
        self._progress = time.monotonic()  # when the child last answered, or was given work while idle
        self._reader = asyncio.create_task(self._read(), name=f"answer process {child.pid}")

    def serves(self, engine: Engine, story: str = MAIN_STORY) -> bool:
        """Whether the child answers `story` as `engine` would: it was built from that engine's knowledge."""
        ref = self._serves.get(story)
        return ref is not None and ref() is engine

    @property
    def alive(self) -> bool:
        return not self._gone and self.fault is None

    @classmethod
    async def start(cls, engines: Mapping[str, Engine], *, log_level: str = "INFO", log_format: str = "text",
                    on_exit: Callable[[EngineProcess], None] | None = None) -> EngineProcess:
        """Start a child and wait until it has built its copy of each story's engine (seconds for a large one).

        `on_exit` is called if the child exits before close() (killed, out of memory). Raises ChildGone when
        the child could not start.
        """
        # Pickled in a thread: at 10,000 entries that is 0.1 s the event loop would otherwise stall for.
        stories = {story: (engine.kb, engine.params) for story, engine in engines.items()}
        setup = await asyncio.to_thread(_frame, (stories, log_level, log_format))
        del stories
        child = await asyncio.create_subprocess_exec(sys.executable, "-m", __name__, stdin=asyncio.subprocess.PIPE,
                                                     stdout=asyncio.subprocess.PIPE)
        assert child.stdin is not None and child.stdout is not None
        try:
            child.stdin.write(setup)
            del setup
            async with asyncio.timeout(START_WAIT):
                await child.stdin.drain()
                ready = await _read_frame(child.stdout)
        except TimeoutError as exc:
            await _end(child)
            raise ChildGone(f"the answer process was not ready within {START_WAIT:.0f} s") from exc
        except (OSError, asyncio.IncompleteReadError, FrameTooLarge) as exc:
            await _end(child)
            raise ChildGone(f"the answer process exited while starting (code {child.returncode})") from exc
        if ready != child.pid:
            await _end(child)
            raise ChildGone(f"the answer process said {ready!r} instead of its process id")
        return cls(engines, child, on_exit)

    async def ask(self, question: str, conversation: Conversation, deadline: float,
                  story: str = MAIN_STORY) -> Answer:
        """The child's answer from `story`'s engine. Raises ChildGone when the child has exited (then every later
        call does), and ChildLate (stopping the child) when it has answered nothing for `deadline` seconds while
        this waited.

        The deadline runs from the child's last answer, not from this question: in a burst, the child answers
        hundreds of questions a second and a question may wait its turn longer than the deadline; a stopped or
        stuck child answers none.
        """
        if not self.alive or self._closing:
            raise ChildGone("the answer process has exited or is stopping")
        n = next(self._ids)
        future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        if not self._waiting:
            self._progress = time.monotonic()  # idle until now: the clock starts with this question
        self._waiting[n] = future
        assert self._child.stdin is not None
        self._child.stdin.write(_frame((n, story, question, conversation)))
        while not future.done():
            idle = time.monotonic() - self._progress
            if idle >= deadline:
                self._waiting.pop(n, None)
                self.stop("deadline", f"answered nothing for {deadline:g} s (hung or stopped)")
                raise ChildLate(f"the answer process {self.pid} answered nothing for {deadline:g} s")
            await asyncio.wait((future,), timeout=deadline - idle)
        return future.result()

    def stop(self, kind: str, why: str) -> None:
        """Kill a child that cannot be trusted to answer; its questions and owner hear of it as of an exit."""
        if self.fault is None and not self._gone:
            self.fault = kind, why
            with contextlib.suppress(ProcessLookupError):
                self._child.kill()

    async def _read(self) -> None:
        """Hand each answer to the question waiting for it; when the child is gone, tell every question left."""
        assert self._child.stdout is not None
        try:
            while True:
                n, answer = await _read_frame(self._child.stdout)
                self._progress = time.monotonic()
                future = self._waiting.pop(n, None)
                if future is not None and not future.done():  # a question whose reader left is dropped
                    future.set_result(answer)
        except (asyncio.IncompleteReadError, OSError):
            pass  # the child exited: its end of the pipe closed
        except FrameTooLarge as exc:
            self.stop("frame", str(exc))
        except Exception:  # an answer that cannot be read: stop trusting this child
            log.exception("unreadable answer from the answer process %d; stopping it", self.pid)
            with contextlib.suppress(ProcessLookupError):
                self._child.kill()
        finally:
            self._gone = True
            waiting, self._waiting = self._waiting, {}
            for future in waiting.values():
                if not future.done():
                    future.set_exception(ChildGone("the answer process exited before answering"))
            if not self._closing and self._on_exit is not None:
                self._on_exit(self)

    async def close(self) -> None:
        """Stop the child once the questions already sent to it are answered; kill it if that takes too long."""
        self._closing = True
        assert self._child.stdin is not None
        if not self._child.stdin.is_closing():
            self._child.stdin.close()  # the child answers what it has read, then sees the end and exits
        try:
            await asyncio.wait_for(asyncio.shield(self._child.wait()), STOP_WAIT)
        except TimeoutError:
            log.warning("the answer process %d did not stop within %.0f s; killing it", self.pid, STOP_WAIT)
            await _end(self._child)
        await self._reader


async def _end(child: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError):  # it may have exited already
        child.kill()
    await child.wait()


async def _read_frame(stream: asyncio.StreamReader) -> Any:
    (length,) = _LENGTH.unpack(await stream.readexactly(_LENGTH.size))
    if length > MAX_FRAME:
        raise FrameTooLarge(f"sent a frame announcing {length:,} bytes (at most {MAX_FRAME:,} are read)")
    return pickle.loads(await stream.readexactly(length))


# --- the child --------------------------------------------------------------------------


def _read_exactly(stream: BinaryIO, size: int) -> bytes | None:
    data = stream.read(size)
    return data if len(data) == size else None  # the parent closed the pipe (or died): time to go


def _serve(requests: BinaryIO, answers: BinaryIO) -> None:
    """The child's whole life: build the engines from the first message, then answer until the pipe closes."""
    setup = _next(requests)
    if setup is None:
        return
    stories, log_level, log_format = setup
    from bot.logs import setup_logging  # the parent's level and format, on the stderr both share

    setup_logging(log_level, log_format)
    engines = {story: Engine(kb, params) for story, (kb, params) in stories.items()}
    del stories, setup
    # The engines live as long as the child and never become garbage: out of the collector's full passes,
    # which would otherwise walk them again and again in a burst of questions (as the bot does at start).
    gc.collect()
    gc.freeze()
    answers.write(_frame(os.getpid()))
    answers.flush()
    while (request := _next(requests)) is not None:
        n, story, question, conversation = request
        answers.write(_frame((n, engines[story].ask(question, conversation))))
        answers.flush()


def _next(requests: BinaryIO) -> Any:
    head = _read_exactly(requests, _LENGTH.size)
    if head is None:
        return None
    body = _read_exactly(requests, _LENGTH.unpack(head)[0])
    return None if body is None else pickle.loads(body)


def main() -> None:
    # Ctrl-C reaches the terminal's whole process group, and systemd signals the whole unit: the child leaves its
    # stopping to the parent, which closes the pipe once the answers in flight are written.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # nothing printed by accident can corrupt the answers
    _serve(sys.stdin.buffer, answers)


if __name__ == "__main__":
    main()
