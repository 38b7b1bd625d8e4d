"""Knowledge loading: its speed, and its time and memory on hostile files (the loader's own budgets).

    python -m benchmarks.knowledge_files [--out benchmarks/knowledge-results.md]

Each hostile file is added to a copy of the small test knowledge; the time is one load of the
whole directory, the memory tracemalloc's peak during a second, traced load (tracing is slow).
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import string
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

from benchmarks.bench import synthetic_knowledge
from bot.config import DEFAULT_KNOWLEDGE_DIR
from bot.knowledge import load_knowledge
from bot.lint import lint

FIXTURE = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "knowledge"
MB = 2**20


def _bomb() -> str:
    levels = ["&a [x, x, x, x, x, x, x, x, x]"] + [
        f"&{chr(98 + i)} [" + ", ".join([f"*{chr(97 + i)}"] * 9) + "]" for i in range(10)]
    return "- id: bomb\n  question: Q?\n" + "".join(f"  k{i}: {v}\n" for i, v in enumerate(levels))


def hostile_files() -> dict[str, Callable[[Path], None]]:
    rng = random.Random(1)
    return {
        "50 MB of junk": lambda p: p.write_bytes(b"\x01junk " * (50 * MB // 6)),
        "one 15 MB line": lambda p: p.write_text("x" * (15 * MB)),
        "15 MB of random text lines": lambda p: p.write_text("".join(
            "".join(rng.choices(string.ascii_letters + " :-[]{}'\"#", k=79)) + "\n" for _ in range(15 * MB // 80))),
        "15 MB list of short items": lambda p: p.write_text("- a\n" * (15 * MB // 4)),
        "15 MB of tiny entries": lambda p: p.write_text("- id: x\n  question: q\n" * (15 * MB // 22)),
        f"alias bomb ({len(_bomb())} bytes)": lambda p: p.write_text(_bomb()),
        "nesting 300 deep": lambda p: p.write_text("- id: deep\n  question: " + "[" * 300 + "]" * 300 + "\n"),
        "5,000-digit paragraph number": lambda p: p.write_text(
            "- id: n\n  question: Q?\n  answer: A.\n  citations:\n    - {paragraph: " + "9" * 5000 + ", quote: x}\n"),
    }


def timed(directory: Path, runs: int) -> tuple[float, object]:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        result = load_knowledge(directory)
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    lines = ["# Knowledge loading", "", f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
             "2 shared cores, so read the figures as orders of magnitude.", ""]
    story_s, result = timed(DEFAULT_KNOWLEDGE_DIR, 15)
    kb = result.kb  # type: ignore[attr-defined]
    lines.append(f"- story knowledge (knowledge/): load {story_s * 1000:.0f} ms (median of 15)")
    with tempfile.TemporaryDirectory() as tmp:
        synthetic_knowledge(kb, 10_000, Path(tmp))
        big_s, _ = timed(Path(tmp), 3)
    lines.append(f"- 10,000 entries in one qa.yaml (5 MB): load {big_s:.2f} s (median of 3)")
    t0 = time.perf_counter()
    warnings = lint(kb)
    lines.append(f"- `check --lint` warnings on knowledge/: {len(warnings)} in {time.perf_counter() - t0:.1f} s")
    lines += ["", "| hostile file added | load | peak memory (traced) | problems | longest problem line |",
              "|---|---|---|---|---|"]
    for name, write in hostile_files().items():
        with tempfile.TemporaryDirectory() as tmp:
            kdir = Path(tmp) / "knowledge"
            shutil.copytree(FIXTURE, kdir)
            write(kdir / "qa-hostile.yaml")
            seconds, result = timed(kdir, 1)
            tracemalloc.start()
            load_knowledge(kdir)
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        problems = result.problems  # type: ignore[attr-defined]
        longest = max((len(str(p)) for p in problems), default=0)
        lines.append(f"| {name} | {seconds:.2f} s | {peak / 1e6:.0f} MB | {len(problems)} | {longest} chars |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
