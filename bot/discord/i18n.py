"""French names and descriptions for the reader commands, through discord.py's Translator.

Each command writes its French next to its English (`fr("ask", "demander")`), so whoever edits a
command sees and edits both; the translator only hands Discord the French at sync time, as
`name_localizations` / `description_localizations` for `discord.Locale.french`. Discord still sends
the English names in interactions, so nothing else changes. Answers stay in English for now.
"""

from __future__ import annotations

import discord
from discord import app_commands
from discord.app_commands import locale_str

FRENCH = discord.Locale.french


def fr(english: str, french: str) -> locale_str:
    """A command's name or description in English, with its French translation."""
    return locale_str(english, fr=french)


class StoryTranslator(app_commands.Translator):
    """The French given by `fr(...)`; None (Discord shows the English) for other locales and plain strings."""

    async def translate(self, string: locale_str, locale: discord.Locale,
                        context: app_commands.TranslationContextTypes) -> str | None:
        return string.extras.get("fr") if locale is FRENCH else None
