"""Questions: /ask, and messages that mention the bot, DM it, ask in a configured channel or open a forum post.

Messages addressed to the bot (a mention, a DM, a reply to one of its answers) are always answered.
Messages it only overhears (answer channels, threads in forums it watches) are answered when the
engine judges them to be a question the story answers, with a stricter confidence (CHANNEL_CONFIDENCE):
the face adds no matching rules of its own, so "anyone know why jivani went to dc" is heard and
"lol same" is not.
"""

from __future__ import annotations

import logging
import re
from enum import Enum
from typing import TYPE_CHECKING, Literal

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
    from bot.engine import Answer

log = logging.getLogger(__name__)

MESSAGE_TYPES = (discord.MessageType.default, discord.MessageType.reply)


class Heard(Enum):
    """How a message reached the bot, which decides whether it must answer."""

    ADDRESSED = "addressed"  # a mention, a DM or a reply to the bot: always answered
    OVERHEARD = "overheard"  # an answer channel or a thread of a watched forum: answered when the engine is sure
    FORUM_POST = "forum post"  # the opening message of a post in a watched forum: as overheard, plus "This answered it"


def worth_answering(answer: Answer, min_confidence: float) -> bool:
    """Whether to speak up about a message nobody addressed to the bot: a story answer the engine is sure of."""
    return answer.answered and answer.intent is None and answer.confidence >= min_confidence


def without_mentions_of(text: str, user_id: int) -> str:
    """The message with the bot's own mentions taken out: "@Bot who is Jivani?" → "who is Jivani?"."""
    return " ".join(re.sub(rf"<@!?{user_id}>", " ", text).split())


class Ask(commands.Cog):
    def __init__(self, bot: StoryBot) -> None:
        self.bot = bot

    @app_commands.command(name=fr("ask", "demander"),
                          description=fr("Ask anything about the story; the answer cites its paragraphs",
                                         "Posez une question sur l'article ; la réponse cite ses paragraphes"))
    @app_commands.rename(question=fr("question", "question"))
    @app_commands.describe(question=fr("Your question, in your own words", "Votre question, avec vos mots"))
    @everywhere
    async def ask(self, interaction: discord.Interaction[StoryBot],
                  question: app_commands.Range[str, 1, 500]) -> None:
        await respond.answer_interaction(interaction, question)

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        found = self.question_in(message)
        if found is None:
            return
        question, heard = found
        self.bot.hold_current_task()
        try:
            reply = await self.reply_to(message, question, heard)
        except Exception:
            self.bot.health.question("message", "failed")
            log.exception("answering message %s in channel %s failed", message.id, message.channel.id)
            # Only someone who spoke to the bot is owed an apology; overheard chatter may not have been a question.
            reply = Reply(content=render.APOLOGY) if heard is Heard.ADDRESSED else None
        if reply is not None:
            await message.channel.send(**reply.kwargs(), mention_author=False,
                                       reference=message.to_reference(fail_if_not_exists=False))

    def question_in(self, message: discord.Message) -> tuple[str, Heard] | None:
        """The question a message may ask the bot and how it was heard, or None when the bot stays out of it."""
        me = self.bot.user
        if me is None or message.author.bot or message.webhook_id or message.type not in MESSAGE_TYPES:
            return None
        replied = message.reference.resolved if message.reference else None
        replied_to = replied.author.id if isinstance(replied, discord.Message) else None
        # A guild not cached yet (just after connecting) leaves `guild` None; its channel still has the guild id.
        direct = message.guild is None and getattr(message.channel, "guild_id", None) is None
        if direct or me.id in message.raw_mentions or replied_to == me.id:
            # A DM, a mention, or a reply to one of its answers (a follow-up, even with the ping turned off).
            return without_mentions_of(message.content, me.id), Heard.ADDRESSED  # "" (a bare mention) gets the help
        settings = self.bot.settings
        channel = message.channel
        parent = getattr(channel, "parent_id", None)
        if parent in settings.forum_channels and message.id == channel.id:
            # A forum post's opening message has the post's id; its title is part of the question.
            return f"{getattr(channel, 'name', '')}\n{message.content}".strip(), Heard.FORUM_POST
        listening = settings.answer_channels | settings.forum_channels
        if channel.id not in listening and parent not in listening:
            return None
        if message.raw_mentions or replied_to is not None:
            return None  # talking to someone else
        return (message.content, Heard.OVERHEARD) if message.content.strip() else None

    async def reply_to(self, message: discord.Message, question: str, heard: Heard) -> Reply | None:
        asker = Asker.of_message(message)
        story = await self.bot.answerer.story_at(asker)
        if story is None:  # a DM with several stories, and this reader has picked none yet
            return self.bot.answerer.story_choice_reply(asker, question)
        if not question:
            return render.help_reply(self.bot.answerer.engines[story].kb, self.bot.settings.answer_channels)
        if heard is Heard.ADDRESSED and (note := self._cooldown_note(asker)) is not False:
            return note  # a question to the bot counts in the order it arrived, before any work on it
        answer = await self.bot.answerer.consult(question, asker, story)
        if heard is not Heard.ADDRESSED:
            if not worth_answering(answer, self.bot.settings.channel_confidence):
                return None  # chatter: left alone, neither remembered nor recorded, and not counted by the cooldown
            if (note := self._cooldown_note(asker)) is not False:
                return note
        return await self.bot.answerer.reply_for(answer, asker, story, forum=heard is Heard.FORUM_POST)

    def _cooldown_note(self, asker: Asker) -> Reply | Literal[False] | None:
        """False when the reader may ask now; else the note to send (once per window), or None for silence."""
        if (wait := self.bot.questions.retry_after(asker.user_id)) is None:
            return False
        self.bot.health.question("message", "cooldown")
        return render.cooldown_reply(wait) if self.bot.questions.first_notice(asker.user_id) else None


async def setup(bot: StoryBot) -> None:
    await bot.add_cog(Ask(bot))
