"""Ask the story: right-click any message → Apps → Ask the story, and the bot answers it as a reply.

The reply goes under the message itself (anyone's, with no ping, not even its author), so the
conversation in the channel shows question and answer together. Where the bot cannot post (a
user install in a server or a DM it is not part of, or no permission), only the reader who asked
sees the answer. An answer the story does not have is shown only to that reader too: the bot
does not reply "The story doesn't say" under somebody else's message.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord import render, respond
from bot.discord.access import everywhere
from bot.discord.cogs.ask import without_mentions_of
from bot.discord.i18n import fr
from bot.discord.render import Reply
from bot.discord.respond import Asker

if TYPE_CHECKING:
    from bot.discord.bot import StoryBot

log = logging.getLogger(__name__)

NO_TEXT = "That message has no text I can read as a question."


def can_post(interaction: discord.Interaction) -> bool:
    """Whether the bot itself may post in the interaction's channel.

    In a server only when the server installed it (so it is a member) and it may send there;
    outside servers only in its own DM. A user install elsewhere can answer only privately.
    """
    if interaction.guild_id is None:
        return interaction.context.dm_channel
    perms = interaction.app_permissions
    in_thread = isinstance(interaction.channel, discord.Thread)
    return interaction.is_guild_integration() and (perms.send_messages_in_threads if in_thread else perms.send_messages)


class AskAboutMessage(commands.Cog):
    def __init__(self, bot: StoryBot) -> None:
        self.bot = bot
        self.menu = app_commands.ContextMenu(name=fr("Ask the story", "Demander à l'article"),
                                             callback=self.ask_the_story)

    async def cog_load(self) -> None:
        self.bot.tree.add_command(self.menu)

    async def cog_unload(self) -> None:
        self.bot.tree.remove_command(self.menu.name, type=self.menu.type)

    @everywhere
    async def ask_the_story(self, interaction: discord.Interaction[StoryBot], message: discord.Message) -> None:
        bot = interaction.client
        question = without_mentions_of(message.content, bot.user.id) if bot.user else message.content
        if not question:
            await respond.send(interaction, Reply(content=NO_TEXT), ephemeral=True)
            return
        if wait := bot.questions.retry_after(interaction.user.id):
            await respond.send(interaction, render.cooldown_reply(wait), ephemeral=True)
            return
        # The answer is a message of its own (an interaction response cannot reply to a message), so
        # acknowledge at once, privately: the "thinking…" the asker sees becomes the note or the answer.
        await interaction.response.defer(ephemeral=True, thinking=True)
        asker = Asker.of_interaction(interaction)
        story = await bot.answerer.story_at(asker)
        if story is None:  # a user install with several stories, and this reader has picked none yet
            await interaction.followup.send(**bot.answerer.story_choice_reply(asker, question).kwargs(), ephemeral=True)
            return
        answer = await bot.answerer.consult(question, asker, story)
        reply = await bot.answerer.reply_for(answer, asker, story)
        if answer.answered and answer.intent is None and can_post(interaction):
            try:
                posted = await message.reply(**reply.kwargs(), mention_author=False)
            except discord.HTTPException as error:
                log.warning("could not post the answer under message %s (%s); answering privately", message.id,
                            error)
            else:
                await interaction.followup.send(f"Answered under the message: {posted.jump_url}", ephemeral=True)
                return
        await interaction.followup.send(**reply.kwargs(), ephemeral=True)


async def setup(bot: StoryBot) -> None:
    await bot.add_cog(AskAboutMessage(bot))
