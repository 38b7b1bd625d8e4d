"""Many stories in one bot: start-up, memory and per-question latency with 1, 10 and 50 story packs.

    python -m benchmarks.packs [--packs 1 10 50] [--questions 300] [--out benchmarks/packs-results.md]

Each run copies the shipped story under other slugs into a STORIES_DIR (packs of this size), then, in a fresh
process, does what the bot's start does: load and index every pack, then start the one answer process that
serves them all and wait until it is ready. Measured: the two times, the peak memory of the bot's process
and of the answer process, and the latency of questions asked through the answer process, to the first story
and to the last. Copies of one story share its vectors in the cache (bot/engine/semantic.py), as any restart of
unchanged knowledge does. Targets (issue 19): 10 packs start in at most 3 s and take at most 400 MB; p99 per
question as with one pack. Never asserted in tests: timings vary by machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.bench import percentile
from bot.config import DEFAULT_KNOWLEDGE_DIR, Settings
from bot.engine import Conversation, load_engine
from bot.engine.process import EngineProcess
from tests.question_set import load_items

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = ROOT / "tests" / "data" / "questions.yaml"


def peak_mib(status: Path) -> float:
    """A process's peak resident memory (VmHWM) in MiB, from /proc."""
    for line in status.read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def measure(stories: Path, questions: list[str]) -> dict[str, float]:
    """In this (fresh) process: the bot's start with every pack, then questions through the answer process."""
    started = time.perf_counter()
    packs = Settings.from_env({"STORIES_DIR": str(stories)}).packs()
    engines = {}
    for slug, pack in packs.items():
        engine, problems = load_engine(pack.directory)
        assert engine is not None and not problems, problems
        engines[slug] = engine
    loaded = time.perf_counter()
    process = await EngineProcess.start(engines)
    ready = time.perf_counter()
    child_peak = peak_mib(Path(f"/proc/{process.pid}/status"))
    slugs = list(engines)
    times: dict[str, list[float]] = {"first": [], "last": []}
    for story, label in ((slugs[0], "first"), (slugs[-1], "last")):
        for question in questions:
            t0 = time.perf_counter()
            await process.ask(question, Conversation(), 60.0, story)
            times[label].append((time.perf_counter() - t0) * 1000)
    child_peak = max(child_peak, peak_mib(Path(f"/proc/{process.pid}/status")))
    await process.close()
    return {
        "packs": len(engines),
        "load_s": loaded - started,
        "child_s": ready - loaded,
        "bot_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "child_mib": child_peak,
        "p50_first": percentile(times["first"], 50), "p99_first": percentile(times["first"], 99),
        "p50_last": percentile(times["last"], 50), "p99_last": percentile(times["last"], 99),
    }


def run(count: int, questions: int) -> dict[str, float]:
    """Copy the story `count - 1` times beside the main one and measure in a fresh process."""
    with tempfile.TemporaryDirectory() as tmp:
        stories = Path(tmp) / "stories"
        stories.mkdir()
        for n in range(1, count):
            shutil.copytree(DEFAULT_KNOWLEDGE_DIR, stories / f"copy-{n:02d}",
                            ignore=shutil.ignore_patterns("README.md"))
        child = subprocess.run([sys.executable, "-m", "benchmarks.packs", "--child", str(stories),
                                "--questions", str(questions)], capture_output=True, text=True, cwd=ROOT,
                               check=True)
        return json.loads(child.stdout.splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--packs", type=int, nargs="+", default=[1, 10, 50])
    parser.add_argument("--questions", type=int, default=300, help="asked to the first and to the last story")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    questions = [item.q for item in load_items([QUESTIONS])][: args.questions]
    if args.child is not None:
        print(json.dumps(asyncio.run(measure(args.child, questions))))
        return
    rows = [run(n, args.questions) for n in args.packs]
    load = os.getloadavg()
    lines = [
        "# Many stories: start-up, memory and latency",
        "",
        f"`python -m benchmarks.packs` on a {os.cpu_count()}-core machine, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
        f"Python {sys.version.split()[0]}, load average {load[0]:.1f}, {load[1]:.1f}, {load[2]:.1f} at the end; "
        f"{len(questions)} questions to the first story and to the last, through the answer process.",
        "",
        "| packs | load + index | answer process ready | start-up | bot process peak | answer process peak "
        "| p50 / p99, first story | p50 / p99, last story |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        lines.append(f"| {r['packs']} | {r['load_s']:.2f} s | {r['child_s']:.2f} s "
                     f"| {r['load_s'] + r['child_s']:.2f} s | {r['bot_mib']:.0f} MiB | {r['child_mib']:.0f} MiB "
                     f"| {r['p50_first']:.1f} / {r['p99_first']:.1f} ms "
                     f"| {r['p50_last']:.1f} / {r['p99_last']:.1f} ms |")
    lines += ["", "Targets: 10 packs start in at most 3 s with at most 400 MB; p99 per question as with one pack."]
    report = "\n".join(lines) + "\n"
    print(report)
    if args.out:
        args.out.write_text(report)


if __name__ == "__main__":
    main()
