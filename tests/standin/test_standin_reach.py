"""The stand-in's checks for what reach adds: localised command payloads, install types and contexts,
forum posts and message context menus (driven by a tiny discord.py client, not the project's bot)."""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands

from . import Discord, connected, limits
from .conftest import intents


def command(**changes: Any) -> dict[str, Any]:
    return {"type": 1, "name": "ask", "description": "Ask", "options": [], **changes}


def test_valid_localisations_installs_and_contexts_pass() -> None:
    ok = command(name_localizations={"fr": "demander"}, description_localizations={"fr": "Demander"},
                 integration_types=[0, 1], contexts=[0, 1, 2])
    menu = {"type": 3, "name": "Ask the story", "name_localizations": {"fr": "Demander à l'article"}}
    assert limits.check_commands([ok, menu]) == []


def test_bad_localisations_installs_and_contexts_are_refused() -> None:
    problems = limits.check_commands([
        command(name_localizations={"fr": "Demander Ça"}),  # a chat command's name: lower case, no spaces
        command(name="who", description_localizations={"fr": "x" * 101}),
        command(name="what", name_localizations={"french": "quoi"}),  # not a Discord locale
        command(name="when", integration_types=[2]),
        command(name="help", contexts=[]),
        {"type": 3, "name": "Ask", "name_localizations": {"fr": "D" * 33}},
    ])
    assert {p.path for p in problems} == {
        "0.name_localizations.fr", "1.description_localizations.fr", "2.name_localizations.french",
        "3.integration_types", "4.contexts", "5.name_localizations.fr",
    }


class Menus(discord.Client):
    """Answers a forum post with the post's title, and a message command with the target's text."""

    def __init__(self) -> None:
        super().__init__(intents=intents(), allowed_mentions=discord.AllowedMentions.none())
        self.tree = app_commands.CommandTree(self)

        @self.tree.context_menu(name="Echo")
        async def echo(interaction: discord.Interaction, message: discord.Message) -> None:
            await interaction.response.send_message(f"echo {message.content}", ephemeral=True)

    async def setup_hook(self) -> None:
        await self.tree.sync()

    async def on_message(self, message: discord.Message) -> None:
        channel = message.channel
        if isinstance(channel, discord.Thread) and message.id == channel.id:
            await channel.send(f"post {channel.name} in {type(channel.parent).__name__}")


async def test_a_forum_post_arrives_as_a_thread_and_its_opening_message(standin: Discord) -> None:
    async with connected(standin, Menus()):
        post = await standin.forum_post("Why Washington?", "asking for a friend")
        reply = await post.reply()
    assert reply.content == "post Why Washington? in ForumChannel"
    assert reply.message is not None and int(reply.message["channel_id"]) == post.id
    standin.assert_clean()


async def test_a_message_command_carries_its_target(standin: Discord) -> None:
    async with connected(standin, Menus()):
        await standin.wait_for_request(lambda r: r.method == "PUT" and r.path.endswith("/commands"))
        target = await standin.member_says("who is jivani?", channel=standin.world.chatter)
        reply = await (await standin.context_menu("Echo", target)).reply()
    assert reply.ephemeral and reply.content == "echo who is jivani?"
    standin.assert_clean()
