"""Questions: /ask, and messages that mention the bot, DM it, or ask in a configured channel."""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord import render, respond
from bot.discord.render import Reply

if TYPE_CHECKING:
    from bot.discord.bot import StoryBot

log = logging.getLogger(__name__)

# Words a question starts with. In configured channels only questions are answered,
# so chatter ("lol", "same", "good morning") is left alone.
QUESTION_WORDS = frozenset(
    "who whom whose what when where why how which is was were are am do does did can could will would should "
    "shall has have had may might tell explain describe".split()
)
# One-word reactions that end in "?" but ask nothing the story could answer.
REACTIONS = frozenset("what why how who when where really seriously huh eh lol ok okay sure right wait".split())
WORD = re.compile(r"[^\W_]+(?:['’-][^\W_]+)*")
MESSAGE_TYPES = (discord.MessageType.default, discord.MessageType.reply)


def looks_like_question(text: str) -> bool:
    """A question mark or a question word, and something to ask about: "lol" and "what?" are not questions."""
    words = [w.lower() for w in WORD.findall(text)]
    if not words:
        return False
    if len(words) == 1:
        return text.rstrip().endswith("?") and len(words[0]) >= 3 and words[0] not in REACTIONS
    return text.rstrip().endswith("?") or words[0] in QUESTION_WORDS


def without_mentions_of(text: str, user_id: int) -> str:
    """The message with the bot's own mentions taken out: "@Bot who is Jivani?" → "who is Jivani?"."""
    return " ".join(re.sub(rf"<@!?{user_id}>", " ", text).split())


class Ask(commands.Cog):
    def __init__(self, bot: StoryBot) -> None:
        self.bot = bot

    @app_commands.command(name="ask", description="Ask anything about the story; the answer cites its paragraphs")
    @app_commands.describe(question="Your question, in your own words")
    async def ask(self, interaction: discord.Interaction[StoryBot],
                  question: app_commands.Range[str, 1, 500]) -> None:
        await respond.answer_interaction(interaction, question)

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        question = self.question_in(message)
        if question is None:
            return
        self.bot.hold_current_task()
        try:
            reply = await self.reply_to(message, question)
        except Exception:
            self.bot.health.question("message", "failed")
            log.exception("answering message %s in channel %s failed", message.id, message.channel.id)
            reply = Reply(content=render.APOLOGY)
        if reply is not None:
            await message.channel.send(**reply.kwargs(), mention_author=False,
                                       reference=message.to_reference(fail_if_not_exists=False))

    def question_in(self, message: discord.Message) -> str | None:
        """The question a message asks the bot, or None when the bot should stay out of it."""
        me = self.bot.user
        if me is None or message.author.bot or message.webhook_id or message.type not in MESSAGE_TYPES:
            return None
        if message.guild is None or me.id in message.raw_mentions:
            return without_mentions_of(message.content, me.id)  # "" (a bare mention) gets the help
        channel = message.channel
        configured = self.bot.settings.answer_channels
        if channel.id not in configured and getattr(channel, "parent_id", None) not in configured:
            return None
        replied = message.reference.resolved if message.reference else None
        if message.raw_mentions or (isinstance(replied, discord.Message) and replied.author.id != me.id):
            return None  # talking to someone else
        return message.content if looks_like_question(message.content) else None

    async def reply_to(self, message: discord.Message, question: str) -> Reply | None:
        if not question:
            return render.help_reply(self.bot.engine.kb, self.bot.settings.answer_channels)
        user_id = message.author.id
        if wait := self.bot.questions.retry_after(user_id):
            self.bot.health.question("message", "cooldown")
            return render.cooldown_reply(wait) if self.bot.questions.first_notice(user_id) else None
        return await self.bot.answer(question, guild_id=message.guild.id if message.guild else None,
                                     channel_id=message.channel.id, user_id=user_id)


async def setup(bot: StoryBot) -> None:
    await bot.add_cog(Ask(bot))
