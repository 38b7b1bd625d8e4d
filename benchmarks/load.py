"""A burst of questions from many members at once, answered by the real bot over real sockets.

    python -m benchmarks.load [--questions 500] [--rounds 3] [--ask-only] [--threads] [--out FILE]

The stand-in (tests/standin) runs in this process; the bot runs as `python -m bot run` in a child
process, as in production, pointed at the stand-in, with its own answer process (`--threads`: answering
in threads of the bot instead, ANSWER_PROCESS=off). Half the questions mention the bot, half use
/ask (`--ask-only`: every one is an /ask, 2,000 readers pressing it at once); each comes from a different
member (so the per-member cooldown stays out of the way), all dispatched at once. Latency runs from the
moment the stand-in sends the event to the moment the reply reaches it; an interaction's first response
(answer or "thinking…") must reach the stand-in within Discord's 3 s, on the stand-in's clock, or it is lost.
Targets on the 2-core reference machine: 500 questions, none lost, p99 under 1 s; 2,000 /ask, none lost.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tests.e2e.harness import settings_for, spawn_bot
from tests.question_set import load_items
from tests.standin import Discord, Event

ROOT = Path(__file__).resolve().parents[1]
REPLY_TIMEOUT = 60.0
TARGET_P99 = 1.0
FIRST_RESPONSE_LIMIT = 3.0  # Discord's window for an interaction's first response


@dataclass(frozen=True, slots=True)
class Round:
    questions: int
    lost: int
    seconds: float  # first event to last reply
    latencies: list[float]
    first_responses: list[float]  # interactions: event to the first callback (Discord allows 3 s)
    violations: int

    @property
    def late(self) -> int:
        """Interactions whose first response missed Discord's window: lost to the reader even if a reply followed."""
        return sum(t > FIRST_RESPONSE_LIMIT for t in self.first_responses)

    @property
    def per_second(self) -> float:
        return (self.questions - self.lost) / self.seconds

    def quantile(self, q: float, of: list[float] | None = None) -> float:
        values = self.latencies if of is None else of
        return statistics.quantiles(values, n=1000, method="inclusive")[round(q * 1000) - 1]


async def burst(standin: Discord, questions: list[str], offset: int, ask_only: bool = False) -> Round:
    """Deliver every question at once, half as mentions and half as /ask (or all as /ask), then wait for every reply."""
    w = standin.world

    async def deliver(n: int, text: str) -> Event:
        member = w.reader(offset + n)
        if ask_only or n % 2:
            return await standin.slash("ask", question=text, user=member)
        return await standin.member_says(text, mentions_bot=True, author=member, channel=w.chatter)

    violations = len(standin.violations)
    events = await asyncio.gather(*(deliver(n, q) for n, q in enumerate(questions)))
    replies = await asyncio.gather(*(e.reply(timeout=REPLY_TIMEOUT) for e in events), return_exceptions=True)
    answered = [(e, r) for e, r in zip(events, replies, strict=True) if not isinstance(r, BaseException)]
    start = min(e.at for e in events)
    end = max((r.at for _, r in answered), default=start)
    return Round(
        questions=len(questions),
        lost=len(events) - len(answered) + sum(
            (t := e.response_time) is not None and t > FIRST_RESPONSE_LIMIT for e, _ in answered
        ),
        seconds=end - start,
        latencies=sorted(r.at - e.at for e, r in answered),
        first_responses=sorted(t for e in events if (t := e.response_time) is not None),
        violations=len(standin.violations) - violations,
    )


async def measure(count: int, rounds: int, ask_only: bool = False, threads: bool = False) -> tuple[list[Round], str]:
    pool = [item.q for item in load_items()]
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        async with Discord() as standin:
            # The production defaults: 5 questions per 60 s, answers from a child process (unless `threads`).
            settings = settings_for(standin, workdir, cooldown_rate=5, answer_process=not threads)
            log = (workdir / "bot.log").open("wb")
            bot = await spawn_bot(standin, settings, workdir, output=log)
            try:
                await standin.wait_connected(60.0)
                await burst(standin, pool[:10], offset=0)  # warm-up: imports, first SQLite writes
                results = []
                for r in range(rounds):
                    questions = [pool[(r * count + i) % len(pool)] for i in range(count)]
                    results.append(await burst(standin, questions, offset=(r + 1) * 100_000, ask_only=ask_only))
            finally:
                bot.terminate()
                await asyncio.wait_for(bot.wait(), 30.0)
                log.close()
            errors = [
                line for line in (workdir / "bot.log").read_text(errors="replace").splitlines() if " ERROR " in line
            ]
    return results, "\n".join(errors[:10])


def report(results: list[Round], errors: str, count: int, ask_only: bool = False, threads: bool = False) -> str:
    rows = []
    for i, r in enumerate(results, 1):
        first = r.first_responses
        rows.append(
            f"| {i} | {r.questions} | {r.lost} | {r.per_second:.0f} | {r.quantile(0.5) * 1000:.0f} | "
            f"{r.quantile(0.99) * 1000:.0f} | {r.latencies[-1] * 1000:.0f} | "
            f"{r.quantile(0.5, first) * 1000:.0f} | {r.quantile(0.99, first) * 1000:.0f} | {first[-1] * 1000:.0f} | "
            f"{r.late} | {r.violations} |"
        )
    worst = max(r.quantile(0.99) for r in results)
    lost = sum(r.lost for r in results)
    late = sum(r.late for r in results)
    met = lost == 0 and late == 0 and (ask_only or worst <= TARGET_P99)
    target = ("every interaction's first response within 3 s, none lost" if ask_only
              else f"none lost, p99 <= {TARGET_P99:.0f} s")
    kind = "all /ask, one reader each" if ask_only else "half mention the bot, half use /ask; one member per question"
    return "\n".join([
        f"# Load: {count} questions in one burst, {len(results)} rounds",
        "",
        f"`python -m benchmarks.load --questions {count} --rounds {len(results)}{' --ask-only' if ask_only else ''}"
        f"{' --threads' if threads else ''}` "
        f"on {platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"{time.strftime('%Y-%m-%d %H:%M')}.",
        "Bot: `python -m bot run` in its own process, answering "
        f"{'in threads beside its event loop (ANSWER_PROCESS=off)' if threads else 'from its child process'}; "
        "stand-in and load generator in this one, over 127.0.0.1.",
        f"Questions: {kind}; all sent at once. Reply = event to the visible answer; first response = event to the "
        "interaction's first callback (answer or deferral), on the stand-in's clock. Lost = no reply, or a first "
        "response after 3 s.",
        "",
        "| round | questions | lost | replies/s | reply p50 ms | reply p99 ms | reply max ms | first response p50 ms "
        "| first response p99 ms | first response max ms | over 3 s | violations |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        f"Target ({target}): **{'met' if met else 'NOT met'}** (worst reply p99 {worst * 1000:.0f} ms, {lost} lost, "
        f"{late} first responses over 3 s).",
        "",
        "Errors logged by the bot: " + (f"\n```\n{errors}\n```" if errors else "none."),
        "",
    ])  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--ask-only", action="store_true", help="every question an /ask (default: half mentions)")
    parser.add_argument("--threads", action="store_true", help="answer in threads of the bot (ANSWER_PROCESS=off)")
    parser.add_argument("--out", type=Path, help="also write the report here (benchmarks/load-results.md keeps the "
                                                  "dated history: add to it by hand)")
    args = parser.parse_args(argv)
    results, errors = asyncio.run(measure(args.questions, args.rounds, args.ask_only, args.threads))
    text = report(results, errors, args.questions, args.ask_only, args.threads)
    if args.out is not None:
        args.out.write_text(text, encoding="utf-8")
    print(text)
    ok = all(r.lost == 0 and r.late == 0 and r.violations == 0 for r in results) and not errors
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
