"""`/kb gaps` at scale: 20,000 distinct missed wordings, read, grouped, asked again.

    python -m benchmarks.gaps [--wordings 20000] [--rows 2000000] [--out benchmarks/gaps-results.md]

Target (issues 11 and 12): `/kb gaps` over 20,000 distinct missed questions in ≤ 1 s. Measured, not
asserted in tests. The wordings are made from the article's own words (so they share vocabulary the way
readers' questions do), a fifth of them misspelt or reordered copies of others (so there is something
to group). A second database of `--rows` questions (a third of them missed, every one a different
wording) measures `/kb stats` and the gaps read at the scale of issue 11 (2 M rows).
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from bot.config import DEFAULT_KNOWLEDGE_DIR
from bot.engine import load_engine
from bot.gaps import closed_this_week, find_gaps, group
from bot.knowledge.loader import phrasing_key
from bot.store import SQLiteStore as Store

ROOT = Path(__file__).resolve().parents[1]
WH = ("who", "what", "when", "where", "why", "how", "did", "is", "does", "was")


def wordings(n: int, seed: int = 11) -> list[str]:
    """`n` questions with distinct phrasing keys, a fifth of them variants of earlier ones."""
    rng = random.Random(seed)
    text = (DEFAULT_KNOWLEDGE_DIR / "article.txt").read_text(encoding="utf-8")
    vocab = sorted({w.strip(".,“”\"'—()’‘").lower() for w in text.split() if len(w) > 3} - {""})
    out: list[str] = []
    keys: set[str] = set()
    while len(out) < n:
        if out and rng.random() < 0.2:
            words = rng.choice(out).rstrip("?").split()
            i = rng.randrange(len(words))
            w = words[i]
            if len(w) > 3 and rng.random() < 0.7:
                j = rng.randrange(len(w) - 1)
                words[i] = w[:j] + w[j + 1] + w[j] + w[j + 2:]  # a swapped pair of letters
            else:
                rng.shuffle(words)
            question = " ".join(words) + "?"
        else:
            question = f"{rng.choice(WH)} {' '.join(rng.sample(vocab, rng.randint(3, 7)))}?"
        key = phrasing_key(question)
        if key not in keys:
            keys.add(key)
            out.append(question)
    return out


def timed(fn, rounds: int) -> tuple[str, object]:
    """Median wall time and median CPU time of this process (the machine is shared: wall time includes
    waiting for a core), as "wall ms (CPU ms)", and the last result."""
    walls, cpus, result = [], [], None
    for _ in range(rounds):
        t0, c0 = time.perf_counter(), time.process_time()
        result = fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return f"{statistics.median(walls) * 1000:.0f} ms ({statistics.median(cpus) * 1000:.0f} ms CPU)", result


def big_store(path: Path, rows: int) -> Store:
    """A database of `rows` questions, written directly (the Store writes one row at a time)."""
    Store(path, salt="bench").close()
    db = sqlite3.connect(path)
    with db:
        db.executemany(
            "INSERT INTO questions (question, question_key, answered, source, confidence) VALUES (?, ?, ?, ?, ?)",
            ((f"question {i}?", f"question {i}", int(i % 3 != 0), f"qa:entry-{i % 500}" if i % 3 else None, 0.5)
             for i in range(rows)))
    db.close()
    return Store(path, salt="bench")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--wordings", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "gaps-results.md")
    args = parser.parse_args()

    engine, _ = load_engine(DEFAULT_KNOWLEDGE_DIR)
    assert engine is not None
    questions = wordings(args.wordings)
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "bot.sqlite3", salt="bench")
        rng = random.Random(3)
        for q in questions:
            for _ in range(rng.choice((1, 1, 1, 2, 3))):
                store.record_question(question=q, answered=False, source=None, confidence=0.1, guild_id=1,
                                      channel_id=2, user_id=rng.randrange(10**6))
        assert store.flush(600)  # the questions are queued (answer first, record after): all written first
        t_read, missed = timed(store.missed_wordings, args.rounds)
        t_group, groups = timed(lambda: group(missed), args.rounds)
        t_first, _ = timed(lambda: find_gaps(store, engine, 5), 1)  # asks the shown gaps' wordings again
        t_again, shown = timed(lambda: find_gaps(store, engine, 5), args.rounds)
        store.close()
        big = big_store(Path(tmp) / "big.sqlite3", args.rows)
        t_stats, _ = timed(lambda: (big.stats(), closed_this_week(big)), args.rounds)
        t_big_read, _ = timed(big.missed_wordings, args.rounds)
        big.close()

    rows = [
        ("distinct missed wordings", f"{len(missed):,}"),
        ("groups", f"{len(groups):,} (largest {max(g.count for g in groups)} misses)"),
        ("read from SQLite (`Store.missed_wordings`)", t_read),
        ("group (`bot.gaps.group`)", t_group),
        ("`/kb gaps` work, first call (read + group + ask the shown gaps again + close)", t_first),
        ("`/kb gaps` work, next calls", t_again),
        (f"`/kb stats` work at {args.rows:,} questions", t_stats),
        (f"gaps read at {args.rows:,} questions ({args.rows // 3:,} distinct misses)", t_big_read),
    ]
    table = "\n".join(f"| {k} | {v} |" for k, v in rows)
    load = os.getloadavg()[0]
    report = (f"# /kb gaps benchmark\n\n`python -m benchmarks.gaps --wordings {args.wordings}` "
              f"(median of {args.rounds} rounds where repeated; wall time, and this process's CPU time: on a "
              f"shared machine the wall time includes waiting for a core).\n\n"
              f"| measure | result |\n| --- | --- |\n{table}\n\n"
              f"Target: ≤ 1 s for the whole `/kb gaps` work at 20,000 distinct wordings. "
              f"Shown: {len(shown)} gaps. Load average when it finished: {load:.1f} (2 cores).\n")
    args.out.write_text(report, encoding="utf-8")
    print(report)


if __name__ == "__main__":
    main()
