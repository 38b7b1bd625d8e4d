"""Live reload: notice edits to the knowledge files and swap in a new Engine, or keep the old one.

A reload builds a whole new KnowledgeBase and Engine in a worker thread, beside the one in
use, and hands it to `swap` only when the load has no problems. `swap` assigns one reference
(e.g. `bot.engine = new`), so a question being answered sees the old knowledge or the new,
never a mix. A refused reload changes nothing; its `path:line` problems go to the log and
to whoever `on_result` tells.

watchfiles (inotify on Linux, polling where that is unavailable: set
WATCHFILES_FORCE_POLLING=1) groups the several events of one save, so a save is one reload.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from watchfiles import Change, awatch

from bot.engine import Engine, load_engine
from bot.knowledge.editor import validate
from bot.knowledge.loader import ARTICLE_FILE, Problem

log = logging.getLogger(__name__)

QUIET_MS = 300  # a save is over when the files have been quiet this long…
MAX_WAIT_MS = 2_000  # …or after this long, so a reload starts within a few seconds


@dataclass(frozen=True, slots=True)
class ReloadResult:
    engine: Engine | None  # the engine now in use when the reload succeeded
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        return self.engine is not None and not self.problems


def is_knowledge_file(path: str | Path) -> bool:
    """Files the loader reads; not editors' swap files, our lock, or temporaries (all dot-files)."""
    name = Path(path).name
    return not name.startswith(".") and (name == ARTICLE_FILE or name.endswith((".yaml", ".yml")))


class KnowledgeReloader:
    def __init__(self, directory: Path | str, swap: Callable[[Engine], None],
                 extra: Callable[[], Mapping[str, str]] | None = None) -> None:
        self.directory = Path(directory)
        self._swap = swap
        # Knowledge files kept elsewhere (file name → text: the store's shared entries), loaded and validated
        # with the directory's as if they were in it.
        self._extra = extra
        # One reload at a time: a slow reload that read older files must not swap in after a newer one.
        self._lock = asyncio.Lock()

    async def reload(self) -> ReloadResult:
        async with self._lock:
            engine, problems = await asyncio.to_thread(self.load)
            if engine is None or problems:  # a reload serves complete knowledge or none
                log.warning("knowledge reload refused, still answering from the last good knowledge:\n%s",
                            "\n".join(map(str, problems)))
                return ReloadResult(None, problems)
            self._swap(engine)
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
        """Reload after every change to a knowledge file, until cancelled."""
        async for _changes in awatch(self.directory, watch_filter=_filter, debounce=MAX_WAIT_MS, step=QUIET_MS,
                                     recursive=False):  # the loader reads only the top level
            result = await self.reload()
            try:
                await on_result(result)
            except Exception:
                log.exception("could not report a knowledge reload")  # keep watching all the same


def _filter(_change: Change, path: str) -> bool:
    return is_knowledge_file(path)
