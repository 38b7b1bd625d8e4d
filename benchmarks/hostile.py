"""Hostile input at scale: thousands of hostile messages through `python -m bot run` and the stand-in.

    python -m benchmarks.hostile [--messages 10000] [--out benchmarks/hostile-results.md]

The suite's tests/e2e/test_e2e_hostile.py sends 1,200 of them to a bot in the test process; this
sends more, to the bot as production runs it, and counts: replies owed and received, violations
the stand-in recorded (a limit broken, a ping allowed), errors and tracebacks in the bot's log.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tests.e2e.harness import settings_for, spawn_bot
from tests.e2e.hostile import MAKERS, corpus, deliver
from tests.standin import Discord

ROOT = Path(__file__).resolve().parents[1]
BATCH = 200
REPLY_TIMEOUT = 60.0


@dataclass(frozen=True, slots=True)
class Result:
    messages: int
    seconds: float
    owed: int  # replies owed: everything but the answer channel, where silence is allowed
    received: int
    violations: collections.Counter[str]
    errors: list[str]

    @property
    def clean(self) -> bool:
        return self.owed == self.received and not self.violations and not self.errors


async def measure(count: int) -> Result:
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        async with Discord() as standin:
            w = standin.world
            messages = corpus(count, users=(w.bot.id, w.member.id), roles=(w.moderator_role, w.guild_id))
            log = (workdir / "bot.log").open("wb")
            bot = await spawn_bot(standin, settings_for(standin, workdir), workdir, output=log)
            owed = received = 0
            try:
                await standin.wait_connected(60.0)
                start = time.monotonic()
                for first in range(0, count, BATCH):
                    batch = range(first, min(first + BATCH, count))
                    events = [e for e in await asyncio.gather(*(deliver(standin, n, messages[n]) for n in batch)) if e]
                    replies = await asyncio.gather(*(e.reply(REPLY_TIMEOUT) for e in events), return_exceptions=True)
                    owed += len(events)
                    received += sum(not isinstance(r, BaseException) for r in replies)
                seconds = time.monotonic() - start
            finally:
                bot.terminate()
                await asyncio.wait_for(bot.wait(), 30.0)
                log.close()
            logged = (workdir / "bot.log").read_text(errors="replace").splitlines()
    errors = [line for line in logged if " ERROR " in line or "Traceback" in line]
    return Result(count, seconds, owed, received, collections.Counter(v.kind for v in standin.violations), errors)


def report(r: Result) -> str:
    kinds = ", ".join(m.__name__.replace("_", "-") for m in MAKERS)
    return "\n".join([
        f"# Hostile input: {r.messages} messages",
        "",
        f"`python -m benchmarks.hostile --messages {r.messages}`, {time.strftime('%Y-%m-%d')}: "
        "the bot as `python -m bot run`, the stand-in over 127.0.0.1.",
        f"Kinds, in turn: {kinds}. Routes, in turn: mention, DM, answer channel, /ask, /who autocomplete.",
        "",
        f"- replies owed (everything but the answer channel, where silence is allowed): {r.owed}",
        f"- replies received: {r.received}",
        f"- violations (limit, mention, protocol): {dict(r.violations) or 'none'}",
        f"- errors or tracebacks in the bot's log: {len(r.errors) or 'none'}",
        f"- time: {r.seconds:.1f} s ({r.messages / r.seconds:.0f} messages/s)",
        "",
    ])  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "hostile-results.md")
    args = parser.parse_args(argv)
    result = asyncio.run(measure(args.messages))
    text = report(result)
    args.out.write_text(text, encoding="utf-8")
    print(text)
    for line in result.errors[:10]:
        print(line, file=sys.stderr)
    return 0 if result.clean else 1


if __name__ == "__main__":
    sys.exit(main())
