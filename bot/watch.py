"""Live reload: notice edits to the knowledge files and swap in a new Engine, or keep the old one.

A reload builds a whole new KnowledgeBase and Engine in a worker thread, beside the one in
use, and hands it to `swap` only when the load has no problems. `swap` assigns one reference
(e.g. `bot.engine = new`), so a question being answered sees the old knowledge or the new,
never a mix. A refused reload changes nothing; its `path:line` problems go to the log and
to whoever `on_result` tells.

What decides a reload is a fingerprint of the directory: the real path the configured path
resolves to now, and the device, inode, size and mtime of each knowledge file (through symlinks).
So every way a directory changes is seen: a save in place, an atomic rename over a file, the
directory deleted and made again, swapped by rename, a `current` symlink flipped to another
release, a Kubernetes ConfigMap's `..data` symlink swapped. watchfiles (inotify on Linux) wakes
the watcher as soon as something happens in the directory, and groups the events of one save;
the fingerprint is also taken every `poll_s` seconds whatever inotify says, because an inotify
watch follows the directory it was put on, not the path, and goes quiet when that is replaced.

When the directory cannot be watched (gone, a symlink loop), the watcher says so once, in the
log and through `on_result`, keeps answering from the last good knowledge, and keeps looking.
The watcher never stops on an error: anything unexpected is logged and it restarts after a pause.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import watchfiles

from bot.engine import Engine, load_engine
from bot.knowledge.editor import validate
from bot.knowledge.files import is_knowledge_file, unreadable_files
from bot.knowledge.loader import Problem, problem_lines

log = logging.getLogger(__name__)

QUIET_MS = 300  # a save is over when the files have been quiet this long…
MAX_WAIT_MS = 2_000  # …or after this long, so a reload starts within a few seconds
POLL_S = 2.0  # the fingerprint is taken at least this often, whatever inotify says
BUILD_TIMEOUT_S = 300.0  # a load that has not finished by then is abandoned and reported
LOOK_TIMEOUT_S = 30.0  # listing the directory (a hung network mount) is given up after this
FREE_WAIT_S = 10.0  # how long a replaced engine may stay in use before it is let go as it is
RESTART_DELAYS_S = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0)  # after an unexpected error, wait, then watch again
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class ReloadResult:
    engine: Engine | None  # the engine now in use when the reload succeeded
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        return self.engine is not None and not self.problems


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """What the knowledge directory holds now; two equal fingerprints mean nothing to reload."""

    real: str  # the directory the configured path resolves to
    directory: tuple[int, int]  # its device and inode: a directory made again at the same path differs
    files: tuple[tuple[str, int, int, int, int], ...]  # name, device, inode, size, mtime_ns (or errno, 0, 0, 0)


def fingerprint(directory: Path | str) -> Fingerprint:
    """Take the directory's fingerprint. Raises OSError when it cannot be listed (gone, a symlink loop)."""
    real = os.path.realpath(directory)
    st = os.stat(real)
    files = []
    with os.scandir(real) as entries:
        for entry in entries:
            if not is_knowledge_file(entry.name):
                continue
            try:
                s = os.stat(entry.path)  # through symlinks: a ConfigMap's files are links into ..data
                files.append((entry.name, s.st_dev, s.st_ino, s.st_size, s.st_mtime_ns))
            except OSError as exc:
                files.append((entry.name, exc.errno or -1, 0, 0, 0))
    return Fingerprint(real, (st.st_dev, st.st_ino), tuple(sorted(files)))


class KnowledgeReloader:
    def __init__(self, directory: Path | str, swap: Callable[[Engine], None],
                 extra: Callable[[], Mapping[str, str]] | None = None, *, engine: Engine | None = None,
                 prepare: Callable[[Engine], Awaitable[None]] | None = None,
                 poll_s: float = POLL_S, quiet_ms: int = QUIET_MS, max_wait_ms: int = MAX_WAIT_MS,
                 force_polling: bool | None = None) -> None:
        """`engine` is the one in use now, if known: then the first reload frees it off the loop too.

        `prepare` is awaited with a new engine before it is swapped in (the bot starts the process that will
        answer from it): done before the old engine is freed, the two heavy steps never compete for the cores.
        """
        self.directory = Path(directory)
        self._swap = swap
        self._prepare = prepare
        # Knowledge files kept elsewhere (file name → text: the store's shared entries), loaded and validated
        # with the directory's as if they were in it.
        self._extra = extra
        self._engine = engine  # the engine swapped in last, freed piece by piece when the next one replaces it
        self._poll_s = poll_s
        self._quiet_ms = quiet_ms
        self._max_wait_ms = max_wait_ms
        self._force_polling = force_polling
        # One reload at a time: a slow reload that read older files must not swap in after a newer one.
        self._lock = asyncio.Lock()
        self._seen: Fingerprint | None = None  # the files the last reload (or the first look) read
        self._trouble: str | None = None  # what the watcher last said it cannot do, until it can again

    async def reload(self) -> ReloadResult:
        """Load the knowledge again and swap it in if it has no problems; never raises."""
        async with self._lock:
            # Taken before reading, so a change made during the load is seen next time; and taken whatever
            # the outcome, so a load that fails is retried at the next change, not at every look.
            with contextlib.suppress(OSError, TimeoutError):  # the loader says what is wrong in its own words
                self._seen = await _in_daemon_thread(fingerprint, self.directory, timeout=LOOK_TIMEOUT_S)
            try:
                engine, problems = await _in_daemon_thread(_build, self.directory, self.load,
                                                           timeout=BUILD_TIMEOUT_S)
            except TimeoutError:
                engine, problems = None, (Problem(str(self.directory), 0, f"loading the knowledge took over "
                                                  f"{BUILD_TIMEOUT_S:.0f} s and was abandoned (a file that never "
                                                  "finishes reading?)"),)
            except Exception as exc:
                log.exception("knowledge reload crashed")
                engine, problems = None, (Problem(str(self.directory), 0, f"loading the knowledge failed: {exc!r}"),)
            if engine is None or problems:  # a reload serves complete knowledge or none
                log.warning("knowledge reload refused, still answering from the last good knowledge:\n%s",
                            problem_lines(problems))
                return ReloadResult(None, problems)
            if self._prepare is not None:
                try:
                    await self._prepare(engine)
                except Exception:  # the new knowledge is swapped in all the same
                    log.exception("preparing for the reloaded knowledge failed")
            old, self._engine = [self._engine], engine
            self._swap(engine)
            threading.Thread(target=_free_piecewise, args=(old,), name="knowledge free", daemon=True).start()
            del old
            log.info("knowledge reloaded: %s", engine.kb.summary())
            return ReloadResult(engine, ())

    def load(self) -> tuple[Engine | None, tuple[Problem, ...]]:
        """Load the directory (with the extra files, if any) into a new Engine; blocking, for a worker thread."""
        extra = dict(self._extra()) if self._extra is not None else {}
        if not extra:
            return load_engine(self.directory)
        result = validate(self.directory, extra)
        if not result.ok or result.kb is None:
            return None, result.problems
        return Engine(result.kb), ()

    async def watch(self, on_result: Callable[[ReloadResult], Awaitable[None]]) -> None:
        """Reload after every change to the knowledge, until cancelled. Never returns or raises otherwise."""
        failures = 0
        while True:
            try:
                real = await self._look(on_result)
                if real is None:
                    await asyncio.sleep(self._poll_s)
                    continue
                notifier = _Notifier(real, self._quiet_ms, self._max_wait_ms, self._force_polling)
                try:
                    while True:
                        await notifier.wait(self._poll_s)
                        failures = 0
                        if await self._look(on_result) != real:
                            break  # moved, swapped or gone: watch whatever the path names now
                finally:
                    notifier.close()
            except Exception as exc:
                delay = RESTART_DELAYS_S[min(failures, len(RESTART_DELAYS_S) - 1)]
                failures += 1
                log.exception("the knowledge watcher failed; watching again in %.0f s", delay)
                await self._say_trouble(on_result, f"the knowledge watcher failed ({exc!r}); it starts again in "
                                                   f"{delay:.0f} s")
                await asyncio.sleep(delay)

    async def _look(self, on_result: Callable[[ReloadResult], Awaitable[None]]) -> str | None:
        """Reload if the knowledge changed since last seen; the real directory now, None when there is none."""
        try:
            now = await _in_daemon_thread(fingerprint, self.directory, timeout=LOOK_TIMEOUT_S)
        except (OSError, TimeoutError) as exc:
            why = getattr(exc, "strerror", None) or repr(exc)
            await self._say_trouble(on_result, f"cannot watch the knowledge directory {self.directory}: {why}; "
                                               "still answering from the last good knowledge, and looking again "
                                               f"every {self._poll_s:g} s")
            return None
        if self._trouble is not None:
            log.info("watching the knowledge directory %s again (%s)", self.directory, now.real)
            self._trouble = None
        if self._seen is None:
            self._seen = now  # the first look: the engine in use was loaded from these files
        elif now != self._seen:
            await self._settle(now)
            await _report(on_result, await self.reload())
        return now.real

    async def _settle(self, now: Fingerprint) -> None:
        """A change seen by polling may be a copy still going: wait until the files stay the same."""
        deadline = asyncio.get_running_loop().time() + self._max_wait_ms / 1000
        while asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(self._quiet_ms / 1000)
            try:
                later = await _in_daemon_thread(fingerprint, self.directory, timeout=LOOK_TIMEOUT_S)
            except (OSError, TimeoutError):
                return  # the reload will say what is wrong
            if later == now:
                return
            now = later

    async def _say_trouble(self, on_result: Callable[[ReloadResult], Awaitable[None]], message: str) -> None:
        """Tell the log and the moderators once per distinct trouble, not at every look."""
        if message == self._trouble:
            return
        self._trouble = message
        log.error("%s", message)
        await _report(on_result, ReloadResult(None, (Problem(str(self.directory), 0, message),)))


class _Notifier:
    """File-system events for one directory, from watchfiles in a daemon thread: a wake-up, nothing more.

    Not watchfiles' awatch: its worker thread is shielded from cancellation, and a watcher cancelled
    just after it started was seen to wait for ever (the bot's close hung in tests/discord). Here
    cancelling only stops waiting; `close` tells the thread to end within `quiet_ms`.
    """

    def __init__(self, directory: str, quiet_ms: int, max_wait_ms: int, force_polling: bool | None) -> None:
        loop = asyncio.get_running_loop()
        self._changed = False  # set from the thread (through the loop) when files changed since the last wait
        self._waiter: asyncio.Future[None] | None = None
        self._stop = threading.Event()

        def run() -> None:
            try:
                for _changes in watchfiles.watch(directory, watch_filter=None,  # even ..data: ConfigMap swaps
                                                 debounce=max_wait_ms, step=quiet_ms, stop_event=self._stop,
                                                 recursive=False, force_polling=force_polling,
                                                 poll_delay_ms=quiet_ms, raise_interrupt=False):
                    if loop.is_closed():
                        return
                    loop.call_soon_threadsafe(self._signal)
            except Exception:
                if not loop.is_closed():  # else nobody is listening any more
                    log.warning("no file-system events for %s; looking every few seconds instead", directory,
                                exc_info=True)

        threading.Thread(target=run, name="knowledge notify", daemon=True).start()

    async def wait(self, timeout: float) -> None:
        """Until something changes in the directory, or `timeout` seconds."""
        if not self._changed:
            # A plain future, not a task: nothing that waits for "the bot's work to finish" waits for this.
            self._waiter = asyncio.get_running_loop().create_future()
            await _wait(self._waiter, timeout)
            self._waiter = None
        self._changed = False

    def _signal(self) -> None:
        self._changed = True
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def close(self) -> None:
        self._stop.set()


def _build(directory: Path, load: Callable[[], tuple[Engine | None, tuple[Problem, ...]]]
           ) -> tuple[Engine | None, tuple[Problem, ...]]:
    """The worker thread's part of a reload: refuse files that must not be opened, load and index."""
    if problems := unreadable_files(directory):
        return None, problems
    with _no_full_collections():
        engine, problems = load()
    if engine is not None:
        # The engine is immutable, so a collection scanning its objects would never free any; a full
        # collection over two engines is a 0.2-0.5 s pause at 10,000 entries, holding the GIL and so the
        # event loop. Freeze moves everything alive now out of the collector's sight (the old engine is
        # still freed by reference counting when its last reference goes). A young collection first, a
        # few ms, so that recent cyclic garbage is freed rather than frozen.
        gc.collect(1)
        gc.freeze()
    return engine, problems


def _free_piecewise(box: list[Engine | None]) -> None:
    """Free an engine that was replaced a piece at a time, so the event loop gets the GIL in between.

    Dropping the last reference to a 10,000-entry engine frees ~900,000 objects in one C call that
    holds the GIL for ~0.1 s. Here each object is freed on its own after its children are put aside,
    so no free cascades. Nothing is modified, only the order of freeing changes, and an object that
    something else still holds (a question being answered from the old engine, anything shared) is
    simply let go, for reference counting to free when its holder is done.
    """
    deadline = time.monotonic() + FREE_WAIT_S
    while box[0] is not None and sys.getrefcount(box[0]) > 2 and time.monotonic() < deadline:
        time.sleep(0.05)  # questions in flight on the old engine finish first
    stack = [box.pop()]
    while stack:
        obj = stack.pop()
        if sys.getrefcount(obj) == 2 and gc.is_tracked(obj):  # ours alone (`obj` and the call's argument)
            stack.extend(gc.get_referents(obj))
        del obj  # its children are on the stack: this frees the one object, not what it holds


@contextlib.contextmanager
def _no_full_collections() -> Iterator[None]:
    """Young collections go on (the loop's short-lived garbage), but no full one while the engine is built."""
    young, middle, old = gc.get_threshold()
    gc.set_threshold(young, middle, 1_000_000)
    try:
        yield
    finally:
        gc.set_threshold(young, middle, old)


async def _in_daemon_thread(fn: Callable[..., _T], *args: object, timeout: float) -> _T:
    """Run `fn` in a daemon thread, and give up waiting after `timeout` seconds.

    Unlike asyncio.to_thread, a thread stuck for good (a file that never finishes reading) neither
    keeps the event loop's executor busy nor stops the process from exiting.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[_T] = loop.create_future()

    def settle(result: _T | None, error: Exception | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)  # type: ignore[arg-type]

    def run() -> None:
        try:
            result, error = fn(*args), None
        except Exception as exc:
            result, error = None, exc
        with contextlib.suppress(RuntimeError):  # the loop closed while we worked: nobody is waiting
            loop.call_soon_threadsafe(settle, result, error)

    threading.Thread(target=run, name=f"knowledge {getattr(fn, '__name__', 'work')}", daemon=True).start()
    if not await _wait(future, timeout):
        raise TimeoutError(f"{getattr(fn, '__name__', 'work')} did not finish within {timeout:g} s")
    return future.result()


async def _wait(future: asyncio.Future, timeout: float) -> bool:
    """Wait for `future` up to `timeout` seconds (then cancel it); whether it finished.

    Not asyncio.wait_for: before Python 3.12 it loses a cancellation that arrives as the future
    completes, and a watcher that missed its cancellation kept the bot's close waiting for ever.
    """
    try:
        done, _pending = await asyncio.wait({future}, timeout=timeout)
    finally:
        if not future.done():
            future.cancel()
    return bool(done)


async def _report(on_result: Callable[[ReloadResult], Awaitable[None]], result: ReloadResult) -> None:
    try:
        await on_result(result)
    except Exception:
        log.exception("could not report a knowledge reload")  # keep watching all the same
