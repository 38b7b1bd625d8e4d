"""/help: what the bot can do, with examples drawn from the knowledge so they always work."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord import render, respond
from bot.discord.access import everywhere
from bot.discord.i18n import fr

if TYPE_CHECKING:
    from bot.discord.bot import StoryBot


class Meta(commands.Cog):
    def __init__(self, bot: StoryBot) -> None:
        self.bot = bot

    @app_commands.command(name=fr("help", "aide"),
                          description=fr("What this bot can do, with examples",
                                         "Ce que ce bot sait faire, avec des exemples"))
    @everywhere
    async def help(self, interaction: discord.Interaction[StoryBot]) -> None:
        reply = render.help_reply(self.bot.engine.kb, self.bot.settings.answer_channels)
        await respond.send(interaction, reply, ephemeral=True)


async def setup(bot: StoryBot) -> None:
    await bot.add_cog(Meta(bot))
