"""Answering an interaction: in time, once, politely, and never silently."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import discord

from bot.discord import render
from bot.discord.render import Reply

if TYPE_CHECKING:
    from bot.discord.bot import StoryBot

log = logging.getLogger(__name__)
T = TypeVar("T")

# Discord drops an interaction not answered within 3 s. Work still running after this long
# is deferred ("thinking…") so a slow host or a busy event loop still makes the window.
DEFER_AFTER = 1.0


@dataclass(frozen=True, slots=True)
class Asker:
    """Who asked and where: the reader's conversation is kept per (user, place), and the store records the ids.

    The place is the channel id, which is the thread's own id in a thread and the DM channel's in a DM.
    """

    user_id: int
    channel_id: int | None
    guild_id: int | None

    @property
    def key(self) -> tuple[int, int | None]:
        return self.user_id, self.channel_id

    @classmethod
    def of_message(cls, message: discord.Message) -> Asker:
        return cls(message.author.id, message.channel.id, message.guild.id if message.guild else None)

    @classmethod
    def of_interaction(cls, interaction: discord.Interaction) -> Asker:
        return cls(interaction.user.id, interaction.channel_id, interaction.guild_id)


async def send(interaction: discord.Interaction, reply: Reply, *, ephemeral: bool = False) -> None:
    """The first response if there is none yet, else a followup (which also fills a deferred "thinking…")."""
    if interaction.response.is_done():
        await interaction.followup.send(**reply.kwargs(), ephemeral=ephemeral)
    else:
        await interaction.response.send_message(**reply.kwargs(), ephemeral=ephemeral)


async def in_time(interaction: discord.Interaction, work: Awaitable[T]) -> T:
    """Await `work`, deferring the response if it takes longer than DEFER_AFTER."""
    task = asyncio.ensure_future(work)
    done, _ = await asyncio.wait({task}, timeout=DEFER_AFTER)
    if not done and not interaction.response.is_done():
        await interaction.response.defer(thinking=True)
    return await task


async def apologise(interaction: discord.Interaction) -> None:
    """A short ephemeral apology; if even that fails (the interaction expired), there is nobody left to tell."""
    with contextlib.suppress(discord.HTTPException):
        await send(interaction, Reply(content=render.APOLOGY), ephemeral=True)


@contextlib.asynccontextmanager
async def handling(interaction: discord.Interaction[StoryBot], what: str) -> AsyncIterator[None]:
    """Run a button's work: finished before shutdown, and a failure logged with its traceback and apologised for."""
    interaction.client.hold_current_task()
    try:
        yield
    except Exception:
        log.exception("%s failed (user %s, channel %s)", what, interaction.user.id, interaction.channel_id)
        await apologise(interaction)


async def answer_interaction(interaction: discord.Interaction[StoryBot], question: str, **options: Any) -> None:
    """/ask and the question buttons: the per-user cooldown, then the answer, in the 3-second window.

    `options` go to `StoryBot.answer` (e.g. offer_alternatives=False for a "did you mean" pick).
    """
    bot = interaction.client
    if wait := bot.questions.retry_after(interaction.user.id):
        await send(interaction, render.cooldown_reply(wait), ephemeral=True)
        return
    reply = await in_time(interaction, bot.answer(question, Asker.of_interaction(interaction), **options))
    await send(interaction, reply)
