"""`/kb` id autocomplete at 10,000 and 100,000 entries: the old full rapidfuzz scan against EntryFinder.

    python -m benchmarks.autocomplete [--out benchmarks/autocomplete-results.md]

The old way ran `process.extract` over every entry on the event loop for each keystroke. EntryFinder is
built once per knowledge base (off the loop) and answers a keystroke from a prefix search and a capped
candidate list. Measured, not asserted in tests.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from pathlib import Path

from rapidfuzz import fuzz, process, utils

from bot.config import DEFAULT_KNOWLEDGE_DIR
from bot.knowledge.finder import EntryFinder
from bot.knowledge.model import Citation, QAEntry

ROOT = Path(__file__).resolve().parents[1]
TYPED = ["", "t", "trump", "trump-mess", "who is jiv", "trmup mesage", "tariffs canada", "zzzz", "jivani vance",
         "what did", "w"]


def entries(n: int, seed: int = 5) -> list[QAEntry]:
    rng = random.Random(seed)
    text = (DEFAULT_KNOWLEDGE_DIR / "article.txt").read_text(encoding="utf-8")
    vocab = sorted({w.strip(".,“”\"'—()’‘").lower() for w in text.split() if len(w) > 3} - {""})
    out, ids = [], set()
    while len(out) < n:
        words = rng.sample(vocab, rng.randint(3, 8))
        ident = "-".join(words[:4])
        if ident in ids:
            continue
        ids.add(ident)
        out.append(QAEntry(ident, f"{rng.choice(['Who', 'What', 'When', 'Why', 'How'])} {' '.join(words)}?", (),
                           "answer", (Citation(1, "x"),)))
    return out


def old_way(qa: list[QAEntry], typed: str) -> list[str]:
    """What /kb autocomplete did before: rapidfuzz over every entry."""
    if not typed.strip():
        return [e.id for e in qa[:25]]
    ranked = process.extract(typed, {e.id: f"{e.id} {e.question}" for e in qa}, scorer=fuzz.WRatio,
                             processor=utils.default_process, limit=25)
    return [key for _, _, key in ranked]


def per_keystroke_ms(fn, rounds: int = 5) -> tuple[float, float]:
    times = []
    for _ in range(rounds):
        for typed in TYPED:
            t0 = time.perf_counter()
            fn(typed)
            times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), max(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "autocomplete-results.md")
    args = parser.parse_args()
    rows = []
    for n in (10_000, 100_000):
        qa = entries(n)
        t0 = time.perf_counter()
        finder = EntryFinder(qa)
        build = time.perf_counter() - t0
        new_median, new_max = per_keystroke_ms(finder.find)
        old_median, old_max = per_keystroke_ms(lambda typed, qa=qa: old_way(qa, typed), rounds=1)
        rows.append(f"| {n:,} | {build * 1000:.0f} ms | {new_median:.2f} / {new_max:.1f} ms "
                    f"| {old_median:.1f} / {old_max:.1f} ms |")
    report = ("# /kb id autocomplete benchmark\n\n`python -m benchmarks.autocomplete`; keystrokes: "
              + ", ".join(f"`{t}`" for t in TYPED)
              + ".\n\n| entries | EntryFinder build (once per reload, off the loop) | per keystroke, median / max "
              "| before (full rapidfuzz scan), median / max |\n| --- | --- | --- | --- |\n" + "\n".join(rows) + "\n")
    args.out.write_text(report, encoding="utf-8")
    print(report)


if __name__ == "__main__":
    main()
