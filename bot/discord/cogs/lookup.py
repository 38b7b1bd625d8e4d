"""Reference lookups: /who, /what, /when and /source. Fast dictionary work, so no deferral is needed.

Each is a reader's question like /ask: counted in the questions metric, `answered` when it found what was
asked for, `declined` when it did not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord import render, respond
from bot.discord.access import everywhere
from bot.discord.i18n import fr
from bot.discord.respond import Asker

if TYPE_CHECKING:
    from collections.abc import Callable

    from bot.discord.bot import StoryBot
    from bot.discord.render import Reply
    from bot.engine import Engine

# The highest number /source accepts: any story's article fits; the paragraph itself is looked up in the story
# the place answers about, and a number past its end gets a private "no such paragraph".
MAX_PARAGRAPH = 9999
SUGGESTIONS = 3  # "Did you mean…" names offered when a lookup finds nothing


class Lookup(commands.Cog):
    def __init__(self, bot: StoryBot) -> None:
        self.bot = bot

    @staticmethod
    def _count(interaction: discord.Interaction[StoryBot], found: bool, story: str) -> None:
        interaction.client.health.question(respond.face(interaction), "answered" if found else "declined", story)

    async def _place(self, interaction: discord.Interaction[StoryBot]) -> tuple[str, Engine]:
        """The story asked about where the command runs, and its engine."""
        story = await self.bot.answerer.story_or_default(Asker.of_interaction(interaction))
        return story, self.bot.answerer.engines[story]

    async def _found(self, interaction: discord.Interaction[StoryBot], reply: Reply | None, nothing: str, asked: str,
                     complete: Callable[[str, int], list[tuple[str, str]]], story: str) -> None:
        """The reply about what /who or /what found; else, privately, the closest names to try instead."""
        self._count(interaction, reply is not None, story)
        if reply is None:
            reply = render.not_found_reply(nothing, asked, [n for n, _ in complete(asked, SUGGESTIONS)])
            await respond.send(interaction, reply, ephemeral=True)
        else:
            await respond.send(interaction, reply)

    @app_commands.command(name=fr("who", "qui"),
                          description=fr("A person in the story: their role, what they did and said",
                                         "Une personne de l'article : son rôle, ce qu'elle a fait et dit"))
    @app_commands.rename(name=fr("name", "nom"))
    @app_commands.describe(name=fr("Someone the story names (start typing for suggestions)",
                                   "Une personne que nomme l'article (tapez pour des suggestions)"))
    @everywhere
    async def who(self, interaction: discord.Interaction[StoryBot], name: app_commands.Range[str, 1, 100]) -> None:
        story, engine = await self._place(interaction)
        # Autocomplete sends an id, but a reader may type anything: look it up either way.
        person = engine.kb.person(name) or engine.find_person(name)
        await self._found(interaction, render.person_reply(person, engine.kb.story.title) if person else None,
                          "anyone", name, engine.complete_people, story)

    @who.autocomplete("name")
    async def who_autocomplete(self, interaction: discord.Interaction[StoryBot],
                               current: str) -> list[app_commands.Choice[str]]:
        engine = await self.bot.answerer.engine_at(Asker.of_interaction(interaction))
        return render.choices(engine.complete_people(current))

    @app_commands.command(name=fr("what", "quoi"),
                          description=fr("A term or organisation in the story, explained and cited",
                                         "Un terme ou une organisation de l'article, expliqué et cité"))
    @app_commands.rename(term=fr("term", "terme"))
    @app_commands.describe(term=fr("A term or organisation the story names (start typing for suggestions)",
                                   "Un terme ou une organisation que nomme l'article (tapez pour des suggestions)"))
    @everywhere
    async def what(self, interaction: discord.Interaction[StoryBot], term: app_commands.Range[str, 1, 100]) -> None:
        story, engine = await self._place(interaction)
        found = engine.kb.term(term) or engine.find_term(term)
        await self._found(interaction, render.term_reply(found, engine.kb.story.title) if found else None,
                          "anything", term, engine.complete_terms, story)

    @what.autocomplete("term")
    async def what_autocomplete(self, interaction: discord.Interaction[StoryBot],
                                current: str) -> list[app_commands.Choice[str]]:
        engine = await self.bot.answerer.engine_at(Asker.of_interaction(interaction))
        return render.choices(engine.complete_terms(current))

    @app_commands.command(name=fr("when", "quand"),
                          description=fr("The story's timeline in order, each event cited",
                                         "La chronologie de l'article, chaque événement cité"))
    @app_commands.rename(query=fr("query", "filtre"))
    @app_commands.describe(query=fr("Only the events about this: a person, a place, a word",
                                    "Seulement les événements à ce sujet : une personne, un lieu, un mot"))
    @everywhere
    async def when(self, interaction: discord.Interaction[StoryBot],
                   query: app_commands.Range[str, 1, 100] | None = None) -> None:
        story, engine = await self._place(interaction)
        events = engine.events(query)
        self._count(interaction, bool(events), story)
        await respond.send(interaction, render.timeline_reply(events, query, engine.kb.story.title))

    @app_commands.command(name=fr("source", "source"),
                          description=fr("Read one paragraph of the story, with its section",
                                         "Lire un paragraphe de l'article, avec sa section"))
    @app_commands.rename(paragraph=fr("paragraph", "paragraphe"))
    @app_commands.describe(paragraph=fr("Paragraph number, from 1", "Numéro du paragraphe, à partir de 1"))
    @everywhere
    async def source(self, interaction: discord.Interaction[StoryBot],
                     paragraph: app_commands.Range[int, 1, MAX_PARAGRAPH]) -> None:
        story, engine = await self._place(interaction)
        kb = engine.kb
        found = kb.article.paragraph(paragraph)
        self._count(interaction, found is not None, story)
        if found is None:  # past the end of this story's article
            await respond.send(interaction, render.missing_paragraph_reply(paragraph, len(kb.article)), ephemeral=True)
            return
        await respond.send(interaction, render.paragraph_reply(found, kb.story.title))


async def setup(bot: StoryBot) -> None:
    await bot.add_cog(Lookup(bot))
