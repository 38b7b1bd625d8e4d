"""Buttons under answers: suggestions, "Show paragraph", 👍/👎 feedback, "Did you mean…?" and "This answered it".

Each button is a `DynamicItem`: everything it needs is in its custom_id ("story:para:7",
"story:ask:<question>", "story:vote:<question id>:up", "story:pick:<question id>:<title>",
"story:solved:<question id>", and the story menu "story:choose"), so buttons keep working after a
restart, nothing is held in memory per message, and no timeout ever greys them out. The knowledge is
read when the button is pressed, from the story of the place it is pressed in, so a reload is honoured.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

import discord
from discord import ui

from bot.discord import render, respond
from bot.discord.render import (
    BUTTON_LABEL_LIMIT,
    BUTTONS_PER_ROW,
    CUSTOM_ID_LIMIT,
    SELECT_LABEL_LIMIT,
    SELECT_OPTIONS,
    Reply,
)
from bot.discord.respond import Interaction

if TYPE_CHECKING:
    from bot.engine import Answer, Engine


log = logging.getLogger(__name__)

ASK_PREFIX = "story:ask:"
PICK_PREFIX = "story:pick:"


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
            kb = (await interaction.client.answerer.engine_at(respond.Asker.of_interaction(interaction))).kb
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


class Pick(ui.DynamicItem[ui.Button], template=r"story:pick:(?P<question_id>[0-9]*):(?P<title>.+)"):
    """One of two close answers offered as "Did you mean…?": pressing it answers that one, and the pick is
    recorded against the question so moderators learn which wording meant what."""

    def __init__(self, question_id: int | None, title: str) -> None:
        prefix = f"{PICK_PREFIX}{'' if question_id is None else question_id}:"
        title = " ".join(title.split())[: CUSTOM_ID_LIMIT - len(prefix)]
        super().__init__(ui.Button(label=render.truncate(title, BUTTON_LABEL_LIMIT),
                                   style=discord.ButtonStyle.primary, custom_id=prefix + title, row=0))
        self.question_id = question_id
        self.title = title

    @classmethod
    async def from_custom_id(cls, interaction: Interaction, item: ui.Button, match: re.Match[str]) -> Pick:
        return cls(int(match["question_id"]) if match["question_id"] else None, match["title"])

    async def callback(self, interaction: Interaction) -> None:
        async with respond.handling(interaction, "did-you-mean pick"):
            await respond.answer_interaction(interaction, self.title, offer_alternatives=False)
            store = interaction.client.store
            if store is None or self.question_id is None:
                return
            engine = await interaction.client.answerer.engine_at(respond.Asker.of_interaction(interaction))
            user_id = interaction.user.id
            try:  # after the answer: a store that fails is logged, never in the reader's face
                await asyncio.to_thread(lambda: store.record_pick(self.question_id, title=self.title,
                                                                  source=picked_source(engine, self.title),
                                                                  user_id=user_id))
            except Exception:
                log.exception("recording a did-you-mean pick failed (question %s)", self.question_id)


def picked_source(engine: Engine, title: str) -> str | None:
    """The answer a "did you mean" title stands for ("qa:trump-message"): the first document offering that
    title (curated entries come first), or one whose title starts with it (a title cut to fit the button)."""
    docs = engine.index.docs
    found = next((d for d in docs if d.title == title), None)
    if found is None:
        found = next((d for d in docs if d.title and d.title.startswith(title)), None)
    return found.source.split("#")[0] if found is not None else None


class Solved(ui.DynamicItem[ui.Button], template=r"story:solved:(?P<question_id>[0-9]+)"):
    """"This answered it" under the answer to a forum post: recorded as helpful feedback on the question."""

    def __init__(self, question_id: int) -> None:
        super().__init__(ui.Button(label="This answered it", emoji="✅", style=discord.ButtonStyle.success,
                                   custom_id=f"story:solved:{question_id}", row=1))
        self.question_id = question_id

    @classmethod
    async def from_custom_id(cls, interaction: Interaction, item: ui.Button, match: re.Match[str]) -> Solved:
        return cls(int(match["question_id"]))

    async def callback(self, interaction: Interaction) -> None:
        async with respond.handling(interaction, "this answered it"):
            if (store := interaction.client.store) is not None:
                await asyncio.to_thread(store.record_feedback, self.question_id, helpful=True,
                                        user_id=interaction.user.id)
            await respond.send(interaction, Reply(content="Glad it helped. Noted."), ephemeral=True)


class ChooseStory(ui.DynamicItem[ui.Select], template=r"story:choose"):
    """The stories, as a menu: a reader in a DM picks the one they ask about; it is remembered, and the
    question they asked before picking is answered at once."""

    def __init__(self, stories: Sequence[tuple[str, str]]) -> None:
        options = [discord.SelectOption(label=render.truncate(title, SELECT_LABEL_LIMIT), value=slug,
                                        description=render.truncate(slug, SELECT_LABEL_LIMIT))
                   for slug, title in stories[:SELECT_OPTIONS]]
        super().__init__(ui.Select(custom_id="story:choose", placeholder="Pick a story", options=options))

    @classmethod
    async def from_custom_id(cls, interaction: Interaction, item: ui.Select, match: re.Match[str]) -> ChooseStory:
        return cls(interaction.client.answerer.story_titles())

    async def callback(self, interaction: Interaction) -> None:
        async with respond.handling(interaction, "story pick"):
            bot, values = interaction.client, self.item.values
            if not values or values[0] not in bot.answerer.engines:  # a story gone since the menu was sent
                await respond.send(interaction, Reply(content="That story is no longer here: pick another "
                                                              "with /story."), ephemeral=True)
                return
            question = await bot.answerer.choose_story(interaction.user.id, values[0])
            if question:
                await respond.answer_interaction(interaction, question)
            else:
                await respond.send(interaction, render.story_reply(bot.answerer.engines[values[0]].kb, values[0]))


DYNAMIC_ITEMS = (ShowParagraph, AskSuggestion, Vote, Pick, Solved, ChooseStory)


def answer_view(answer: Answer, question_id: int | None, *, forum: bool = False) -> ui.View | None:
    """Suggestions for an abstention; for an answer, paragraph buttons and, when it can be recorded,
    👍/👎 (or "This answered it" under a forum post's answer)."""
    view = ui.View(timeout=None)
    if not answer.answered:
        for suggestion in answer.suggestions[:BUTTONS_PER_ROW]:
            view.add_item(AskSuggestion(suggestion))
    else:
        paragraphs = dict.fromkeys(c.paragraph for c in answer.citations)
        for number in list(paragraphs)[:BUTTONS_PER_ROW]:
            view.add_item(ShowParagraph(number))
        if question_id is not None and forum:
            view.add_item(Solved(question_id))
        elif question_id is not None:
            view.add_item(Vote(question_id, True))
            view.add_item(Vote(question_id, False))
    return view if view.children else None


def choose_story_view(stories: Sequence[tuple[str, str]]) -> ui.View:
    """The story menu: (slug, title) of each story, the first SELECT_OPTIONS (more are reached with /story)."""
    view = ui.View(timeout=None)
    view.add_item(ChooseStory(stories))
    return view


def did_you_mean_view(titles: tuple[str, ...], question_id: int | None) -> ui.View:
    """The close answers as buttons, in the engine's order."""
    view = ui.View(timeout=None)
    picks = {pick.custom_id: pick for pick in (Pick(question_id, t) for t in titles[:BUTTONS_PER_ROW])}
    for pick in picks.values():  # two titles cut to the same custom_id would be refused by Discord
        view.add_item(pick)
    return view
