"""The project's real bot against the stand-in: in this process (`running_bot`) or as `python -m bot run`.

Shared by the end-to-end tests and the benchmarks. The child process is pointed at the stand-in by
tests/standin/child_site/sitecustomize.py (via PYTHONPATH and STANDIN_URL), so the bot's code has no test hooks.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import replace
from pathlib import Path
from typing import IO

from bot.config import Settings
from bot.discord.bot import StoryBot
from tests.standin import Discord, connected

ROOT = Path(__file__).resolve().parents[2]
KNOWLEDGE = ROOT / "knowledge"
CHILD_SITE = ROOT / "tests" / "standin" / "child_site"


def settings_for(standin: Discord, workdir: Path, **overrides: object) -> Settings:
    """Settings for a bot in `workdir`, with its own copy of the knowledge (the /kb commands write to it)."""
    knowledge = workdir / "knowledge"
    if not knowledge.exists():
        shutil.copytree(KNOWLEDGE, knowledge)
    w = standin.world
    settings = Settings(
        token=standin.token,
        answer_channels=frozenset({w.answers}),
        dev_guild_id=w.guild_id,
        moderator_role_id=w.moderator_role,
        mod_log_channel_id=w.mod_log,
        knowledge_dir=knowledge,
        database_path=workdir / "data" / "bot.sqlite3",
        cooldown_rate=1000,  # tests ask many questions as one member; the cooldown has its own test
        answer_process=True,  # as `python -m bot run` on two cores or more
    )
    return replace(settings, **overrides)  # type: ignore[arg-type]


class ErrorLog(logging.Handler):
    """Keeps every ERROR logged while installed: discord.py reports exceptions in handlers this way."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def messages(self) -> list[str]:
        return [f"{r.name}: {r.getMessage()}" + (f" ({r.exc_info[1]!r})" if r.exc_info else "") for r in self.records]


@contextmanager
def error_log() -> Iterator[ErrorLog]:
    handler = ErrorLog()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)


@asynccontextmanager
async def running_bot(standin: Discord, settings: Settings) -> AsyncIterator[StoryBot]:
    """The real StoryBot, logged in and connected to the stand-in for the block."""
    bot = StoryBot(settings)
    async with bot, connected(standin, bot):
        yield bot


def child_env(standin: Discord, settings: Settings) -> dict[str, str]:
    """The environment `python -m bot run` reads its settings from, pointed at the stand-in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "STANDIN_"))}
    env |= {
        "PYTHONPATH": os.pathsep.join([str(CHILD_SITE), *filter(None, [env.get("PYTHONPATH")])]),
        "STANDIN_URL": standin.url,
        "STANDIN_GATEWAY_URL": standin.gateway_url,
        "DISCORD_TOKEN": settings.token or "",
        "ANSWER_CHANNELS": ",".join(map(str, settings.answer_channels)),
        "FORUM_CHANNELS": ",".join(map(str, settings.forum_channels)),
        "CHANNEL_CONFIDENCE": str(settings.channel_confidence),
        "DEV_GUILD_ID": str(settings.dev_guild_id or ""),
        "MODERATOR_ROLE_ID": str(settings.moderator_role_id or ""),
        "MOD_LOG_CHANNEL_ID": str(settings.mod_log_channel_id or ""),
        "KNOWLEDGE_DIR": str(settings.knowledge_dir),
        "DATABASE_PATH": str(settings.database_path),
        "DATABASE_URL": settings.database_url or "",
        "SHARD_COUNT": str(settings.shard_count or ""),
        "SHARD_IDS": ",".join(map(str, settings.shard_ids or ())),
        "COOLDOWN": f"{settings.cooldown_rate}/{settings.cooldown_seconds}",
        "LOG_LEVEL": settings.log_level,
        "LOG_FORMAT": settings.log_format,
        "HEALTH_HOST": settings.health_host,
        "HEALTH_PORT": "" if settings.health_port is None else str(settings.health_port),
        "ANSWER_PROCESS": "on" if settings.answer_process else "off",
    }
    return env


async def spawn_bot(
    standin: Discord, settings: Settings, workdir: Path, output: IO[bytes] | int = asyncio.subprocess.PIPE
) -> asyncio.subprocess.Process:
    """`python -m bot run` in `workdir` (so no stray .env is read); stdout and stderr go to `output`.

    Pass a file for long runs: a pipe nobody reads fills up and stalls the bot.
    """
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run",
        cwd=workdir,
        env=child_env(standin, settings),
        stdout=output,
        stderr=output,
    )  # fmt: skip
