"""How long a live reload stalls the event loop, at 10,000 entries.

    python -m benchmarks.reload [--entries 10000] [--reloads 5] [--out benchmarks/reload-results.md]

The bot answers readers on one event loop; a reload builds the new engine in a worker thread, but
the loop can still stall on the GIL: a full garbage collection triggered by the build, or freeing
the old engine's objects when its last reference goes. A ticker task sleeps 1 ms at a time and
records the largest gap between two ticks while `KnowledgeReloader.reload()` runs; the stall is
that gap minus the 1 ms it asked for. Target: ≤ 50 ms. Reported, never asserted in tests.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.bench import synthetic_knowledge
from bot.config import DEFAULT_KNOWLEDGE_DIR
from bot.engine import Engine, load_engine
from bot.engine.process import EngineProcess
from bot.watch import KnowledgeReloader

TICK_S = 0.001
IDLE_S = 1.0  # ticking with no reload first: the machine's noise floor


class Holder:
    """The bot's one engine reference, as the reloader swaps it; notes when the swap happened."""

    def __init__(self, engine: Engine, process: EngineProcess | None = None) -> None:
        self.engine = engine
        self.swapped_at = 0.0
        self.process = process  # the child answering for the engine, as in the bot with ANSWER_PROCESS on

    async def prepare(self, engine: Engine) -> None:
        if self.process is not None:
            old, self.process = self.process, await EngineProcess.start(engine)
            await old.close()

    def swap(self, engine: Engine) -> None:
        self.swapped_at = time.perf_counter()
        self.engine = engine  # the old engine's last reference goes here: freeing it is part of the stall


class Ticker:
    """Sleeps 1 ms at a time on the loop and records every gap longer than asked: (when it began, stall s)."""

    def __init__(self) -> None:
        self.gaps: list[tuple[float, float]] = []
        self._task: asyncio.Task | None = None
        self._running = False

    async def __aenter__(self) -> Ticker:
        self._running = True
        self._task = asyncio.create_task(self._tick())
        await asyncio.sleep(0.05)
        return self

    async def __aexit__(self, *_exc: object) -> None:
        self._running = False
        if self._task is not None:
            await self._task

    async def _tick(self) -> None:
        last = time.perf_counter()
        while self._running:
            await asyncio.sleep(TICK_S)
            now = time.perf_counter()
            self.gaps.append((last, now - last - TICK_S))
            last = now

    def worst(self, start: float = 0.0, end: float = float("inf")) -> float:
        """The largest stall (ms) of the gaps that began in [start, end)."""
        return max((gap for began, gap in self.gaps if start <= began < end), default=0.0) * 1000


async def one_reload(reloader: KnowledgeReloader, holder: Holder) -> dict[str, float]:
    """Loop stalls (ms) of one reload: idle beforehand, while building, at the swap and just after; wall time.

    With an answer process (the bot's ANSWER_PROCESS), the reload starts a new child from the new engine before
    the swap, as the bot does (the reloader's `prepare`), and stops the old one.
    """
    async with Ticker() as ticker:
        await asyncio.sleep(IDLE_S)  # the machine's own noise, for comparison
        t0 = time.perf_counter()
        result = await reloader.reload()
        took = time.perf_counter() - t0
        await asyncio.sleep(1.5)  # freeing the old engine, after the swap, is measured too
    assert result.ok, result.problems[:3]
    return {"idle": ticker.worst(end=t0), "build": ticker.worst(t0, holder.swapped_at),
            "swap": ticker.worst(holder.swapped_at - TICK_S * 2), "all": ticker.worst(t0), "wall": took}


async def run(directory: Path, reloads: int, answer_process: bool = False) -> list[dict[str, float]]:
    engine, problems = load_engine(directory)
    assert engine is not None, problems[:3]
    holder = Holder(engine, await EngineProcess.start(engine) if answer_process else None)
    del engine
    reloader = KnowledgeReloader(directory, holder.swap, engine=holder.engine, prepare=holder.prepare)
    runs = []
    for _ in range(reloads):
        figures = await one_reload(reloader, holder)
        runs.append(figures)
        print("reload: loop stall {all:.0f} ms (while building {build:.0f}, at the swap and after {swap:.0f}; "
              "idle beforehand {idle:.0f}), reload took {wall:.2f} s".format(**figures), flush=True)
    if holder.process is not None:
        await holder.process.close()
    return runs


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--entries", type=int, default=10_000)
    ap.add_argument("--reloads", type=int, default=5)
    ap.add_argument("--out", type=Path, default=None, help="append a row of figures to this markdown file")
    ap.add_argument("--label", default="", help="what this run measures (e.g. the commit)")
    ap.add_argument("--answer-process", action="store_true", help="also start a new answer process at each reload")
    args = ap.parse_args()
    story, _ = load_engine(DEFAULT_KNOWLEDGE_DIR)
    assert story is not None
    with tempfile.TemporaryDirectory(prefix="reload-bench-") as tmp:
        synthetic_knowledge(story.kb, args.entries, Path(tmp))
        del story
        runs = asyncio.run(run(Path(tmp), args.reloads, args.answer_process))
    stalls = [r["all"] for r in runs]
    row = (f"| {args.label or '-'} | {args.entries:,} | {args.reloads} | {max(stalls):.0f} ms | "
           f"{statistics.median(stalls):.0f} ms | {max(r['build'] for r in runs):.0f} ms | "
           f"{max(r['swap'] for r in runs):.0f} ms | {max(r['idle'] for r in runs):.0f} ms | "
           f"{statistics.median(r['wall'] for r in runs):.1f} s |")
    print(f"largest stall {max(stalls):.1f} ms, median {statistics.median(stalls):.1f} ms "
          f"(Python {sys.version.split()[0]})")
    print(row)
    if args.out:
        with args.out.open("a", encoding="utf-8") as f:
            f.write(row + "\n")
        print(f"row appended to {args.out}")


if __name__ == "__main__":
    main()
