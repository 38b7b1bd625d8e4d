"""Answering an interaction: in time, once, politely, and never silently."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from typing import Any, TypeVar

import discord

from bot.discord import render
from bot.discord.render import Reply
from bot.logs import reader_tag

# The client is any discord.Client with the bot's parts (`answerer`, `health`, `questions`, `loop_lag`,
# `hold_current_task`): this module and the buttons name no client class, so nothing here imports the bot's.
Interaction = discord.Interaction[Any]

log = logging.getLogger(__name__)
T = TypeVar("T")

# Discord drops an interaction not answered within 3 s of being sent, whenever our handler happens to start.
# An answer not ready this long after the interaction was *created* is deferred ("thinking…"). One whose handler
# starts later than ACK_AT_ONCE (a backlog: 2,000 readers pressing /ask together), or while the event loop runs
# more than BEHIND late (a busy machine: other work on the cores, or a burst), is deferred before any work: a
# late loop also fires the DEFER_BY timer late, past the window. Both are measured, not guessed from how many
# questions are in hand, which says nothing about how fast the machine gets through them. Otherwise the answer
# itself is the first response, which saves Discord (and us) a round trip: in a burst of 500, a deferral for
# each /ask would be a quarter more requests.
DEFER_BY = 1.5
ACK_AT_ONCE = 0.5
BEHIND = 0.25  # seconds
LAG_PROBE = 0.05  # seconds between the loop lag probe's wake-ups
LAG_PROBE_TASK = "loop lag probe"
UNKNOWN_INTERACTION = 10062  # Discord's code when the 3 s window (or the 15 min token) has passed


class LoopLag:
    """How late the event loop runs: a probe asks to wake every LAG_PROBE seconds and notes how late it woke.

    `behind()` is also right while the probe itself is waiting its turn: a wake-up overdue by 0.4 s means the
    loop is at least 0.4 s behind now, without waiting for the probe to run and say so.
    """

    def __init__(self) -> None:
        self._late = 0.0  # how late the last wake-up was
        self._due = 0.0  # when the probe should wake next (loop time)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._probe(), name=LAG_PROBE_TASK)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    def behind(self) -> float:
        """Seconds the loop is running late now (0 when the probe is not running)."""
        if self._task is None:
            return 0.0
        return max(self._late, asyncio.get_running_loop().time() - self._due)

    async def _probe(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            self._due = loop.time() + LAG_PROBE
            await asyncio.sleep(LAG_PROBE)
            self._late = max(loop.time() - self._due, 0.0)


@dataclass(frozen=True, slots=True)
class Asker:
    """Who asked and where: the reader's conversation is kept per (user, place), and the store records the ids.

    The place is the channel id, which is the thread's own id in a thread and the DM channel's in a DM.
    """

    user_id: int
    channel_id: int | None
    guild_id: int | None
    parent_id: int | None = None  # a thread's or forum post's channel: a story mapped to it holds in its threads

    @property
    def key(self) -> tuple[int, int | None]:
        return self.user_id, self.channel_id

    @classmethod
    def of_message(cls, message: discord.Message) -> Asker:
        """A message in a guild the bot has not cached yet (just after connecting) has no `guild`, but its
        channel still knows the guild's id."""
        guild_id = message.guild.id if message.guild else getattr(message.channel, "guild_id", None)
        return cls(message.author.id, message.channel.id, guild_id, getattr(message.channel, "parent_id", None))

    @classmethod
    def of_interaction(cls, interaction: discord.Interaction) -> Asker:
        return cls(interaction.user.id, interaction.channel_id, interaction.guild_id,
                   getattr(interaction.channel, "parent_id", None))


async def send(interaction: discord.Interaction, reply: Reply, *, ephemeral: bool = False) -> None:
    """The first response if there is none yet, else a followup (which also fills a deferred "thinking…")."""
    if interaction.response.is_done():
        await interaction.followup.send(**reply.kwargs(), ephemeral=ephemeral)
    else:
        await interaction.response.send_message(**reply.kwargs(), ephemeral=ephemeral)


def age(interaction: discord.Interaction) -> float:
    """Seconds since Discord created the interaction (its id is a timestamp), never negative."""
    return max((discord.utils.utcnow() - interaction.created_at).total_seconds(), 0.0)


async def in_time(interaction: discord.Interaction, work: Awaitable[T]) -> T:
    """Await `work`, deferring the response if it is not done DEFER_BY seconds after the interaction was created."""
    task = asyncio.ensure_future(work)
    done, _ = await asyncio.wait({task}, timeout=max(DEFER_BY - age(interaction), 0.0))
    if not done and not interaction.response.is_done():
        await interaction.response.defer(thinking=True)
    return await task


async def apologise(interaction: discord.Interaction) -> None:
    """A short ephemeral apology; if even that fails (the interaction expired), there is nobody left to tell."""
    with contextlib.suppress(discord.HTTPException):
        await send(interaction, Reply(content=render.APOLOGY), ephemeral=True)


def face(interaction: discord.Interaction) -> str:
    """Where an interaction's question came from, for the metrics: a slash command or a button."""
    return "button" if interaction.type is discord.InteractionType.component else "slash"


def expired(error: BaseException) -> bool:
    """Whether `error` (or what it wraps) is Discord saying the interaction's window had passed."""
    while error is not None:
        if isinstance(error, discord.NotFound) and error.code == UNKNOWN_INTERACTION:
            return True
        error = error.__cause__ or getattr(error, "original", None)  # type: ignore[assignment]
    return False


def log_expired(interaction: Interaction) -> None:
    """A lost interaction is one line (how late, which command), not a traceback: there is no bug to read."""
    late = (discord.utils.utcnow() - interaction.created_at).total_seconds()
    name = interaction.command.qualified_name if interaction.command else interaction.type.name
    log.warning("an interaction expired before its first response (/%s, %.1f s after it was sent): the reader saw "
                "'The application did not respond'", name, late)
    interaction.client.health.question(face(interaction), "expired")


@contextlib.asynccontextmanager
async def handling(interaction: Interaction, what: str) -> AsyncIterator[None]:
    """Run a button's work: finished before shutdown, and a failure logged with its traceback and apologised for."""
    interaction.client.hold_current_task()
    try:
        yield
    except Exception as exc:
        if expired(exc):
            log_expired(interaction)
            return
        interaction.client.health.question(face(interaction), "failed")
        log.exception("%s failed (reader %s, channel %s)", what, reader_tag(interaction.user.id),
                      interaction.channel_id)
        await apologise(interaction)


async def answer_interaction(interaction: Interaction, question: str, **options: Any) -> None:
    """/ask and the question buttons: the per-user cooldown, then the answer, in the 3-second window.

    `options` go to `Answerer.answer` (e.g. offer_alternatives=False for a "did you mean" pick).
    """
    bot = interaction.client
    if wait := bot.questions.retry_after(interaction.user.id):
        bot.health.question(face(interaction), "cooldown")
        await send(interaction, render.cooldown_reply(wait), ephemeral=True)
        return
    if bot.loop_lag.behind() > BEHIND or age(interaction) > ACK_AT_ONCE:
        async with bot.answerer.acknowledging():
            await interaction.response.defer(thinking=True)
    reply = await in_time(interaction, bot.answerer.answer(question, Asker.of_interaction(interaction),
                                                           face=face(interaction), **options))
    await send(interaction, reply)
