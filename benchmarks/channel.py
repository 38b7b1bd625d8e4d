"""How CHANNEL_CONFIDENCE treats the held-out questions (tests/data/questions*.yaml) in an answer channel.

In answer channels and forums nobody addressed the bot, so it speaks up only when
`worth_answering` (bot/discord/cogs/ask.py) says so: a story answer, no intent, and a confidence
of at least CHANNEL_CONFIDENCE. For each setting this prints the share of answerable questions
answered right, the wrong answers, and the share of unanswerable questions it would still have
answered (a proxy for chatter it should leave alone). Rerun it when the engine changes.

    python -m benchmarks.channel
"""

from __future__ import annotations

from bot.config import DEFAULT_CHANNEL_CONFIDENCE, DEFAULT_KNOWLEDGE_DIR
from bot.discord.cogs.ask import worth_answering
from bot.engine import load_engine
from tests.question_set import judge, load_items

SETTINGS = (0.6, 0.7, 0.75, 0.8, 0.85, 0.9)


def main() -> None:
    engine, problems = load_engine(DEFAULT_KNOWLEDGE_DIR)
    if engine is None:
        raise SystemExit("\n".join(map(str, problems)))
    replies = [(item, engine.ask(item.q)) for item in load_items()]
    answerable = [(i, r) for i, r in replies if i.answerable]
    unanswerable = [r for i, r in replies if not i.answerable]
    print(f"{'setting':>7} {'answered right':>14} {'wrong':>5} {'unanswerable answered':>21}")
    for setting in SETTINGS:
        heard = [(i, r) for i, r in answerable if worth_answering(r, setting)]
        wrong = sum(bool(judge(i, r, engine.kb.article)) for i, r in heard)
        spoke = sum(worth_answering(r, setting) for r in unanswerable)
        mark = " <- default" if abs(setting - DEFAULT_CHANNEL_CONFIDENCE) < 1e-9 else ""
        print(f"{setting:7.2f} {(len(heard) - wrong) / len(answerable):14.3f} {wrong:5d} "
              f"{spoke / len(unanswerable):21.3f}{mark}")
    print(f"({len(answerable)} answerable, {len(unanswerable)} unanswerable questions)")


if __name__ == "__main__":
    main()
