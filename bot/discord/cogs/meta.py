"""/help and /story: what the bot can do, and which story it answers about here, with examples drawn from the
knowledge so they always work."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord import render, respond
from bot.discord.access import everywhere
from bot.discord.i18n import fr
from bot.discord.render import Reply
from bot.discord.respond import Asker

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
        engine = await self.bot.answerer.engine_at(Asker.of_interaction(interaction))
        reply = render.help_reply(engine.kb, self.bot.settings.answer_channels)
        await respond.send(interaction, reply, ephemeral=True)

    @app_commands.command(name=fr("story", "article"),
                          description=fr("The story I answer about here; in a DM, pick another",
                                         "L'article dont je parle ici ; en message privé, en choisir un autre"))
    @app_commands.rename(pick=fr("pick", "choisir"))
    @app_commands.describe(pick=fr("In a DM: the story to ask about from now on (start typing)",
                                   "En message privé : l'article à suivre désormais (tapez pour choisir)"))
    @everywhere
    async def story(self, interaction: discord.Interaction[StoryBot],
                    pick: app_commands.Range[str, 1, 100] | None = None) -> None:
        answerer, asker = self.bot.answerer, Asker.of_interaction(interaction)
        choosable = len(answerer.engines) > 1 and answerer.private(asker) and answerer.mapped_story(asker) is None
        if pick is not None:
            if not choosable:  # in a server, the moderators choose (/kb story set)
                await respond.send(interaction, Reply(content="Here the moderators choose the story "
                                                              "(`/kb story set`); you can pick one in a DM."),
                                   ephemeral=True)
                return
            if pick not in answerer.engines:
                await respond.send(interaction, render.not_found_reply("any story", pick, list(answerer.engines)),
                                   ephemeral=True)
                return
            await answerer.choose_story(asker.user_id, pick)
        slug = await answerer.story_at(asker)
        if slug is None:
            await respond.send(interaction, answerer.story_choice_reply(asker, None), ephemeral=True)
            return
        note = "Change it with `/story pick:`." if choosable else ""
        await respond.send(interaction, render.story_reply(answerer.engines[slug].kb, slug, note), ephemeral=True)

    @story.autocomplete("pick")
    async def story_autocomplete(self, interaction: discord.Interaction[StoryBot],
                                 current: str) -> list[app_commands.Choice[str]]:
        return render.choices(self.bot.answerer.stories_like(current))


async def setup(bot: StoryBot) -> None:
    await bot.add_cog(Meta(bot))
