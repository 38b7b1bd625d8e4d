"""Per-question cost of the reader cooldown with many readers in the window: ours against discord.py's.

    python -m benchmarks.cooldown [--readers 20000]

discord.py's CooldownMapping checks every reader it knows on each call; bot/discord/cooldown.py does not.
"""

from __future__ import annotations

import argparse
import sys
import time

from discord.ext import commands

from bot.discord.cooldown import QuestionCooldown


def per_call(check: object, readers: int) -> float:
    """Microseconds per question once `readers` readers asked within the window (a second question each)."""
    for reader in range(readers):
        check(reader)  # type: ignore[operator]
    start = time.perf_counter()
    for reader in range(readers):
        check(reader)  # type: ignore[operator]
    return (time.perf_counter() - start) / readers * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--readers", type=int, default=20_000)
    args = parser.parse_args(argv)
    mapping: commands.CooldownMapping[int] = commands.CooldownMapping.from_cooldown(5, 60.0, lambda user: user)
    ours = QuestionCooldown(5, 60.0)
    print(f"{args.readers} readers in a 60 s window, per question:")
    print(f"  discord.py CooldownMapping: {per_call(mapping.update_rate_limit, args.readers):8.1f} µs")
    print(f"  QuestionCooldown (TTLCache): {per_call(ours.retry_after, args.readers):8.1f} µs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
