"""`python -m bot run` and `python -m bot sync`: start, stop and sync the bot, with exit codes instead of tracebacks.

Exit codes (bot/cli.py uses the same, and adds 4: the meaning model is missing or damaged): 0 clean stop, 1 the
knowledge has problems, 2 configuration (no token or a refused one), 3 Discord could not be reached at start,
after retries. Each is one line on stderr, not a traceback,
so systemd (RestartPreventExitStatus) and operators can tell them apart.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections.abc import Callable, Coroutine
from typing import Any

import aiohttp
import discord

from bot.config import Settings, home_dir, missing_token
from bot.discord.bot import KnowledgeError, StoryBot
from bot.discord.health import Health
from bot.logs import setup_logging

log = logging.getLogger(__name__)

EXIT_OK, EXIT_PROBLEMS, EXIT_CONFIG, EXIT_UNREACHABLE = 0, 1, 2, 3
# Seconds to wait before each new attempt while Discord cannot be reached at start (about 15 s in all); once
# connected, discord.py itself reconnects for as long as it takes.
RETRY_DELAYS = (1.0, 2.0, 4.0, 8.0)
# What "cannot reach Discord" looks like: DNS, refused or reset connections, timeouts, Discord's own 5xx.
UNREACHABLE = (aiohttp.ClientConnectionError, TimeoutError, discord.GatewayNotFound, discord.DiscordServerError)
BAD_TOKEN = ("Discord refused DISCORD_TOKEN: copy the token again from the developer portal "
             "(your application → Bot → Reset Token) into .env.")
UNREACHABLE_LINE = "cannot reach Discord"
NO_MESSAGE_CONTENT = (
    "Discord refused the Message Content intent (close code 4014), so the bot reconnects without it: it answers "
    "mentions, direct messages and slash commands, but not plain questions in ANSWER_CHANNELS. To fix, turn on "
    "developer portal → your application → Bot → Privileged Gateway Intents → Message Content Intent."
)


def run(settings: Settings) -> int:
    """Run until SIGINT or SIGTERM; return the process exit code."""
    return _main(settings, _run)


def sync(settings: Settings) -> int:
    """Log in, sync the slash commands (to DEV_GUILD_ID when set, else globally), and exit."""
    return _main(settings, _sync)


def _main(settings: Settings, job: Callable[[Settings, str], Coroutine[Any, Any, int]]) -> int:
    """The shared start of run and sync: a token or exit code 2, logging, then the job's exit code."""
    if not settings.token:
        print(missing_token(home_dir(os.environ)), file=sys.stderr)
        return EXIT_CONFIG
    _setup_logging(settings)
    return asyncio.run(job(settings, settings.token))


def _setup_logging(settings: Settings) -> None:
    """LOG_FORMAT lines at LOG_LEVEL (see bot/logs.py), unless whoever started us configured logging already."""
    if not logging.getLogger().handlers:
        setup_logging(settings.log_level, settings.log_format, token=settings.token)


async def _run(settings: Settings, token: str) -> int:
    # One health server for the whole run, up before the first login: /healthz says why it is not ready yet.
    health = Health()
    if settings.health_port is not None:
        await health.serve(settings.health_host, settings.health_port)
    try:
        return await _attempts(settings, token, health)
    finally:
        await health.stop()


async def _attempts(settings: Settings, token: str, health: Health) -> int:
    message_content = True
    delays = iter(RETRY_DELAYS)
    while True:
        bot = StoryBot(settings, message_content=message_content, health=health)
        try:
            return await serve(bot, token)
        except discord.PrivilegedIntentsRequired:
            if not message_content:
                raise  # the bot asks for no other privileged intent, so this cannot be ours to fix
            log.warning(NO_MESSAGE_CONTENT)
            message_content = False
        except UNREACHABLE as exc:
            delay = next(delays, None)
            if delay is None:
                return _unreachable(exc, f"after {len(RETRY_DELAYS) + 1} attempts over {sum(RETRY_DELAYS):.0f} s")
            log.warning("cannot reach Discord (%s); trying again in %.0f s", _reason(exc), delay)
            health.why_not_ready = f"Discord unreachable ({_reason(exc)}); trying again in {delay:.0f} s"
            await asyncio.sleep(delay)


def _unreachable(exc: BaseException, tried: str) -> int:
    """One line for the operator, and exit code 3, when Discord stayed out of reach."""
    print(f"{UNREACHABLE_LINE} {tried} ({_reason(exc)}): check the network, DNS and firewall "
          "(outbound HTTPS to discord.com).", file=sys.stderr)
    return EXIT_UNREACHABLE


def _reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


async def serve(bot: StoryBot, token: str) -> int:
    """Start `bot` and serve until a signal closes it; LoginFailure and KnowledgeError become exit codes."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        # Client.run handles only SIGINT; without this, SIGTERM would kill the gateway mid-answer.
        loop.add_signal_handler(sig, lambda name=sig.name: _stop(bot, name))
    try:
        async with bot:
            await bot.start(token)
    except (discord.LoginFailure, KnowledgeError) as exc:
        bot.health.why_not_ready = ("Discord refused the token (DISCORD_TOKEN)" if isinstance(exc, discord.LoginFailure)
                                    else "the knowledge has problems")
        return _refused(exc, "the bot will not start")
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    log.info("stopped")
    return EXIT_OK


def _refused(exc: discord.LoginFailure | KnowledgeError, consequence: str) -> int:
    """One clear line (or the knowledge's path:line problems) and the exit code, instead of a traceback."""
    if isinstance(exc, discord.LoginFailure):
        print(BAD_TOKEN, file=sys.stderr)
        return EXIT_CONFIG
    print(f"the knowledge has problems, so {consequence}:\n{exc}", file=sys.stderr)
    return EXIT_PROBLEMS


_closing: set[asyncio.Task] = set()  # the loop keeps only weak references to tasks


def _stop(bot: StoryBot, signal_name: str) -> None:
    log.info("%s received: finishing answers in flight and closing the gateway", signal_name)
    task = asyncio.get_running_loop().create_task(bot.close(), name="story-bot-close")
    _closing.add(task)
    task.add_done_callback(_closing.discard)


async def _sync(settings: Settings, token: str) -> int:
    async with StoryBot(settings, auto_sync=False) as bot:
        try:
            await bot.login(token)
        except (discord.LoginFailure, KnowledgeError) as exc:
            return _refused(exc, "commands were not synced")
        except UNREACHABLE as exc:
            return _unreachable(exc, "to sync the commands")
        try:
            count = await bot.command_sync.sync()
        except discord.HTTPException as exc:
            print(f"Discord refused the command sync: {exc}", file=sys.stderr)
            return EXIT_PROBLEMS
    where = (f"guild {settings.dev_guild_id}" if settings.dev_guild_id
             else "every guild (global commands can take up to an hour to appear)")
    print(f"synced {count} commands to {where}")
    return EXIT_OK

