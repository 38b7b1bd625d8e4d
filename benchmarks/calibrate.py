"""Calibrate the answer threshold on the held-out questions (tests/data/questions*.yaml).

Prints accuracy, answered share and wrong answers for a range of thresholds, so the
threshold in bot/engine/engine.py is chosen on data: a wrong answer costs more than
an honest "the story doesn't say", so pick the highest accuracy with few wrong answers.

    python -m benchmarks.calibrate [--failures]
"""

from __future__ import annotations

import argparse
from collections import Counter

from bot.config import DEFAULT_KNOWLEDGE_DIR
from bot.engine import engine as engine_module
from bot.engine import load_engine
from tests.question_set import judge, load_items


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--failures", action="store_true", help="list the misses at the current threshold")
    args = ap.parse_args()
    engine, problems = load_engine(DEFAULT_KNOWLEDGE_DIR)
    if engine is None:
        raise SystemExit("\n".join(map(str, problems)))
    items = load_items()
    current = engine_module.ANSWER_THRESHOLD
    # Answer every question once with the threshold at zero, then replay each threshold on the scores.
    engine_module.ANSWER_THRESHOLD = 0.0
    replies = [(item, engine.ask(item.q)) for item in items]
    engine_module.ANSWER_THRESHOLD = current
    print(f"{'threshold':>9} {'accuracy':>9} {'answerable':>10} {'abstain':>8} {'wrong':>6}")
    for step in range(30, 80, 2):
        threshold = step / 100
        right = wrong = right_a = right_u = 0
        for item, reply in replies:
            declined = reply.confidence < threshold
            if item.answerable:
                ok = not declined and not judge(item, reply, engine.kb.article)
                right_a += ok
                wrong += not ok and not declined
            else:
                ok = declined
                right_u += ok
                wrong += not ok
            right += ok
        n_a = sum(i.answerable for i in items)
        mark = " <- current" if abs(threshold - current) < 1e-9 else ""
        print(f"{threshold:9.2f} {right / len(items):9.3f} {right_a / n_a:10.3f} "
              f"{right_u / (len(items) - n_a):8.3f} {wrong:6d}{mark}")
    if args.failures:
        kinds: Counter[str] = Counter()
        for item, _ in replies:
            reply = engine.ask(item.q)
            why = judge(item, reply, engine.kb.article)
            if why:
                kinds[item.kind] += 1
                print(f"MISS [{item.kind}] {item.q!r}: {why} | {reply.source} {reply.confidence:.2f} "
                      f"{(reply.text or '')[:80]!r}")
        print(dict(kinds))


if __name__ == "__main__":
    main()
