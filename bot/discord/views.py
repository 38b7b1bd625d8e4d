"""Buttons under answers: suggestions, "Show paragraph" and 👍/👎 feedback.

Each button is a `DynamicItem`: everything it needs is in its custom_id ("story:para:7",
"story:ask:<question>", "story:vote:<question id>:up"), so buttons keep working after a
restart, nothing is held in memory per message, and no timeout ever greys them out.
The knowledge is read from `bot.engine` when the button is pressed, so a reload is honoured.
"""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING

import discord
from discord import ui

from bot.discord import render, respond
from bot.discord.render import BUTTON_LABEL_LIMIT, BUTTONS_PER_ROW, CUSTOM_ID_LIMIT, Reply

if TYPE_CHECKING:
    from typing import TypeAlias

    from bot.discord.bot import StoryBot
    from bot.engine import Answer

    Interaction: TypeAlias = discord.Interaction[StoryBot]

ASK_PREFIX = "story:ask:"


class ShowParagraph(ui.DynamicItem[ui.Button], template=r"story:para:(?P<number>[0-9]{1,4})"):
    """Expands a citation: the paragraph's text and section, shown only to whoever pressed."""

    def __init__(self, number: int) -> None:
        super().__init__(ui.Button(label=f"Show paragraph {number}", style=discord.ButtonStyle.secondary,
                                   custom_id=f"story:para:{number}", row=0))
        self.number = number

    @classmethod
    async def from_custom_id(cls, interaction: Interaction, item: ui.Button, match: re.Match[str]) -> ShowParagraph:
        return cls(int(match["number"]))

    async def callback(self, interaction: Interaction) -> None:
        async with respond.handling(interaction, f"Show paragraph {self.number}"):
            kb = interaction.client.engine.kb
            paragraph = kb.article.paragraph(self.number)
            if paragraph is None:
                reply = render.missing_paragraph_reply(self.number, len(kb.article))
            else:
                reply = render.paragraph_reply(paragraph, kb.story.title)
            await respond.send(interaction, reply, ephemeral=True)


class AskSuggestion(ui.DynamicItem[ui.Button], template=r"story:ask:(?P<question>.+)"):
    """A question the story does answer, offered when it doesn't say; pressing it asks it."""

    def __init__(self, question: str) -> None:
        question = " ".join(question.split())[: CUSTOM_ID_LIMIT - len(ASK_PREFIX)]
        super().__init__(ui.Button(label=render.truncate(question, BUTTON_LABEL_LIMIT),
                                   style=discord.ButtonStyle.primary, custom_id=ASK_PREFIX + question, row=0))
        self.question = question

    @classmethod
    async def from_custom_id(cls, interaction: Interaction, item: ui.Button, match: re.Match[str]) -> AskSuggestion:
        return cls(match["question"])

    async def callback(self, interaction: Interaction) -> None:
        async with respond.handling(interaction, "suggestion"):
            await respond.answer_interaction(interaction, self.question)


class Vote(ui.DynamicItem[ui.Button], template=r"story:vote:(?P<question_id>[0-9]+):(?P<vote>up|down)"):
    """👍/👎 on an answer, recorded against the question so moderators see which answers help."""

    def __init__(self, question_id: int, helpful: bool) -> None:
        vote = "up" if helpful else "down"
        super().__init__(ui.Button(emoji="👍" if helpful else "👎", style=discord.ButtonStyle.secondary,
                                   custom_id=f"story:vote:{question_id}:{vote}", row=1))
        self.question_id = question_id
        self.helpful = helpful

    @classmethod
    async def from_custom_id(cls, interaction: Interaction, item: ui.Button, match: re.Match[str]) -> Vote:
        return cls(int(match["question_id"]), match["vote"] == "up")

    async def callback(self, interaction: Interaction) -> None:
        async with respond.handling(interaction, "feedback"):
            if (store := interaction.client.store) is not None:
                await asyncio.to_thread(store.record_feedback, self.question_id, helpful=self.helpful,
                                        user_id=interaction.user.id)
            await respond.send(interaction, Reply(content="Thanks, noted."), ephemeral=True)


DYNAMIC_ITEMS = (ShowParagraph, AskSuggestion, Vote)


def answer_view(answer: Answer, question_id: int | None) -> ui.View | None:
    """Suggestions for an abstention; paragraph buttons, and votes when they can be recorded, for an answer."""
    view = ui.View(timeout=None)
    if not answer.answered:
        for suggestion in answer.suggestions[:BUTTONS_PER_ROW]:
            view.add_item(AskSuggestion(suggestion))
    else:
        paragraphs = dict.fromkeys(c.paragraph for c in answer.citations)
        for number in list(paragraphs)[:BUTTONS_PER_ROW]:
            view.add_item(ShowParagraph(number))
        if question_id is not None:
            view.add_item(Vote(question_id, True))
            view.add_item(Vote(question_id, False))
    return view if view.children else None
